// Conflicts that help the caller: the missed events in a conflict answer,
// catching a copy up from them, the non-throwing repository calls, the
// conflict and retry counters, and failures that name their entity.

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <variant>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes/storage/memory_store.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "gated_store.hpp"

using namespace cafes;

namespace {

/// A log of lines: every command appends one line, so a copy's state says
/// exactly which events it has seen.
struct line_log {
  static constexpr std::string_view name = "test.line_log";
  struct state {
    std::vector<std::string> lines;
    auto fields() const { return std::tie(lines); }
  };
  struct add {
    static constexpr std::string_view type_name = "test.line_add";
    std::string line;
    auto fields() const { return std::tie(line); }
  };
  struct add_twice {
    static constexpr std::string_view type_name = "test.line_add_twice";
    std::string line;
    auto fields() const { return std::tie(line); }
  };
  struct refuse {
    static constexpr std::string_view type_name = "test.line_refuse";
    auto fields() const { return std::tie(); }
  };
  using command = std::variant<add, add_twice, refuse>;
  struct added {
    static constexpr std::string_view type_name = "test.line_added";
    std::string line;
    auto fields() const { return std::tie(line); }
  };
  using event = std::variant<added>;

  static decision<event> decide(const state&, const command& c) {
    if (std::holds_alternative<refuse>(c))
      return reject("refused on purpose");
    if (const auto* twice = std::get_if<add_twice>(&c))
      return std::vector<event>{added{twice->line}, added{twice->line}};
    return std::vector<event>{added{std::get<add>(c).line}};
  }
  static state evolve(state s, const event& e) {
    s.lines.push_back(std::get<added>(e).line);
    return s;
  }
};

/// Another aggregate type with line_log's name: serving both is an error.
struct impostor {
  static constexpr std::string_view name = "test.line_log";
  struct state {
    auto fields() const { return std::tie(); }
  };
  struct nothing {
    static constexpr std::string_view type_name = "test.nothing";
    auto fields() const { return std::tie(); }
  };
  using command = std::variant<nothing>;
  using event = std::variant<line_log::added>;
  static decision<event> decide(const state&, const command&) {
    return std::vector<event>{};
  }
  static state evolve(state s, const event&) { return s; }
};

/// Counts the history reads that reach the store: a copy caught up from a
/// conflict needs none.
class read_counting_store final : public event_store {
public:
  explicit read_counting_store(std::shared_ptr<event_store> inner) : inner_(std::move(inner)) {}
  std::atomic<int> whole_reads{0};

  result<std::uint64_t> append(const append_request& r) override { return inner_->append(r); }
  std::vector<result<std::uint64_t>> append_batch(std::span<const append_request> r) override {
    return inner_->append_batch(r);
  }
  result<std::vector<event_record>> read(const entity_id& e, std::uint64_t from,
                                         std::uint64_t to) override {
    if (from <= 1 && to == last_version)
      ++whole_reads;
    return inner_->read(e, from, to);
  }
  result<std::uint64_t> head(const entity_id& e) override { return inner_->head(e); }
  result<std::vector<entity_id>> list_entities(std::optional<entity_id> after,
                                               std::size_t limit) override {
    return inner_->list_entities(after, limit);
  }
  result<log_page> read_all(std::uint64_t after, std::size_t limit,
                            const log_filter& filter) override {
    return inner_->read_all(after, limit, filter);
  }
  result<std::optional<std::uint64_t>> find_command(const entity_id& e,
                                                    const uuid& c) override {
    return inner_->find_command(e, c);
  }
  result<std::uint64_t> last_position() override { return inner_->last_position(); }
  result<std::optional<view_checkpoint>> read_view_checkpoint(std::string_view v) override {
    return inner_->read_view_checkpoint(v);
  }
  result<view_checkpoint> reset_view(std::string_view v, std::uint32_t version,
                                     const std::optional<view_checkpoint>& expected) override {
    return inner_->reset_view(v, version, expected);
  }
  result<view_checkpoint> commit_view(std::string_view v, const view_checkpoint& expected,
                                      std::uint64_t position,
                                      std::span<const view_change> changes) override {
    return inner_->commit_view(v, expected, position, changes);
  }
  result<std::optional<std::vector<std::uint8_t>>> read_view(std::string_view v,
                                                             std::string_view key) override {
    return inner_->read_view(v, key);
  }
  result<std::vector<view_row>> scan_view(std::string_view v, std::string_view prefix,
                                          std::string_view after, std::size_t limit) override {
    return inner_->scan_view(v, prefix, after, limit);
  }
  bool appends_wait_for_device() const noexcept override {
    return inner_->appends_wait_for_device();
  }

private:
  std::shared_ptr<event_store> inner_;
};

std::shared_ptr<event_store> rocksdb_in_memory() {
  rocksdb_options options;
  options.in_memory = true;
  return std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))};
}

std::vector<std::string> lines(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

} // namespace

TEST_CASE("a stale copy's conflict carries the missed events and catches the copy up",
          "[conflict]") {
  for (bool syncing : {false, true}) {
    // A store whose appends wait for a device sends the missed-event read
    // to the storage actor; one that does not reads on the actor's thread.
    CAPTURE(syncing);
    auto store = syncing ? std::shared_ptr<event_store>{std::make_shared<memory_store>()}
                         : rocksdb_in_memory();
    application app{store};
    auto logs = app.entities<line_log>();
    auto id = uuid::random();
    auto mine = logs.create(id, line_log::add{"a"});
    auto theirs = logs.get(id);
    logs.execute(theirs, line_log::add{"b"});
    logs.execute(theirs, line_log::add_twice{"c"});
    REQUIRE(theirs.version == 4);

    auto refused = logs.try_execute(mine, line_log::add{"mine"});
    REQUIRE_FALSE(refused.ok());
    const auto& conflict = refused.error();
    CHECK(conflict.code == ec::conflict);
    CHECK(conflict.entity == id);
    CHECK(conflict.expected_version == 1);
    CHECK(conflict.actual_version == 4);
    REQUIRE(conflict.missed_events.size() == 3);
    CHECK(conflict.missed_events.front().version == 2);
    CHECK(mine.version == 1); // unchanged by a failed try_execute

    REQUIRE(logs.catch_up(mine, conflict));
    CHECK(mine.version == 4);
    CHECK(mine.state.lines == lines({"a", "b", "c", "c"}));
    CHECK(logs.try_execute(mine, line_log::add{"mine"}).ok());
    CHECK(mine.version == 5);
    CHECK(logs.get(id).state.lines == lines({"a", "b", "c", "c", "mine"}));

    auto stats = app.counters<line_log>();
    CHECK(stats.conflicts == 1);
    CHECK(stats.missed_events_delivered == 3);
    CHECK(stats.retries == 0);
  }
}

TEST_CASE("a copy further behind than the cap gets the versions only and refreshes",
          "[conflict]") {
  application_config config;
  config.missed_events_cap = 2;
  application app{std::make_shared<memory_store>(), config};
  auto logs = app.entities<line_log>();
  auto id = uuid::random();
  auto mine = logs.create(id, line_log::add{"a"});
  logs.execute(id, line_log::add{"b"});
  logs.execute(id, line_log::add_twice{"c"});

  auto refused = logs.try_execute(mine, line_log::add{"mine"});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().actual_version == 4);
  CHECK(refused.error().missed_events.empty());
  CHECK_FALSE(logs.catch_up(mine, refused.error()));
  CHECK(mine.version == 1);
  auto moved = logs.refresh(mine);
  REQUIRE(moved.ok());
  CHECK(*moved);
  CHECK(mine.version == 4);
  CHECK(mine.state.lines == lines({"a", "b", "c", "c"}));
  CHECK_FALSE(*logs.refresh(mine)); // already current
  CHECK(app.counters<line_log>().conflicts == 1);
  CHECK(app.counters<line_log>().missed_events_delivered == 0);
}

TEST_CASE("catch_up refuses a failure that is not about the copy at its version",
          "[conflict]") {
  application app{std::make_shared<memory_store>()};
  auto logs = app.entities<line_log>();
  auto mine = logs.create(uuid::random(), line_log::add{"a"});
  auto other = logs.create(uuid::random(), line_log::add{"x"});
  logs.execute(other.id, line_log::add{"y"});
  auto stale = other;
  stale.version = 1;
  auto conflict = logs.try_execute(stale, line_log::add{"z"}).error();
  REQUIRE(conflict.missed_all());
  auto before = mine;
  CHECK_FALSE(logs.catch_up(mine, conflict)); // another entity
  CHECK(mine.version == before.version);
  CHECK(mine.state.lines == before.state.lines);
  auto rejected = logs.try_execute(mine, line_log::refuse{});
  REQUIRE_FALSE(rejected.ok());
  CHECK_FALSE(logs.catch_up(mine, rejected.error())); // not a conflict
}

TEST_CASE("the non-throwing calls return failures naming the entity", "[conflict]") {
  application app{std::make_shared<memory_store>()};
  auto logs = app.entities<line_log>();
  auto unknown = uuid::random();
  auto missing = logs.try_get(unknown);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ec::not_found);
  CHECK(missing.error().entity == unknown);

  auto copy = *logs.try_create(uuid::random(), line_log::add{"a"});
  auto again = logs.try_create(copy.id, line_log::add{"a"});
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ec::conflict);
  CHECK(again.error().entity == copy.id);
  CHECK(again.error().expected_version == 0);

  auto rejected = logs.try_execute(copy, line_log::refuse{});
  REQUIRE_FALSE(rejected.ok());
  CHECK(rejected.error().code == ec::rejected);
  CHECK(rejected.error().entity == copy.id);
  CHECK_THAT(rejected.error().message, Catch::Contains("refused on purpose"));

  auto unversioned = logs.try_execute(copy.id, line_log::add{"b"});
  REQUIRE(unversioned.ok());
  CHECK(unversioned->version == 2);
}

TEST_CASE("a store conflict between two applications catches the entity actor up "
          "without reading its history again, and counts the retry",
          "[conflict]") {
  auto counting = std::make_shared<read_counting_store>(rocksdb_in_memory());
  application first{counting};
  application second{counting};
  auto logs = first.entities<line_log>();
  auto id = uuid::random();
  logs.create(id, line_log::add{"a"}); // first's actor holds version 1
  second.entities<line_log>().execute(id, line_log::add_twice{"b"});
  auto reads_before = counting->whole_reads.load();

  // Without an expected version: first's actor appends at 1, the store
  // refuses with the two missed events, the actor applies them and retries.
  auto after = logs.execute(id, line_log::add{"c"});
  CHECK(after.version == 4);
  CHECK(after.state.lines == lines({"a", "b", "b", "c"}));
  CHECK(counting->whole_reads.load() == reads_before);
  auto stats = first.counters<line_log>();
  CHECK(stats.retries == 1);
  CHECK(stats.conflicts == 0);
  CHECK(stats.retries_exhausted == 0);
  // A stale copy against the caught-up actor still gets its conflict.
  auto stale = copy<line_log>{id, 1, {{"a"}}};
  auto refused = logs.try_execute(stale, line_log::add{"d"});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().actual_version == 4);
  CHECK(refused.error().missed_events.size() == 3);
}

TEST_CASE("retries that run out are counted as exhausted conflicts", "[conflict]") {
  auto store = std::make_shared<memory_store>();
  application_config config;
  config.unversioned_retry.attempts = 1; // no retry at all
  application first{store, config};
  application second{store};
  auto id = uuid::random();
  first.entities<line_log>().create(id, line_log::add{"a"});
  second.entities<line_log>().execute(id, line_log::add{"b"});
  auto gave_up = first.entities<line_log>().try_execute(id, line_log::add{"c"});
  REQUIRE_FALSE(gave_up.ok());
  CHECK(gave_up.error().code == ec::conflict);
  CHECK(gave_up.error().entity == id);
  CHECK_THAT(gave_up.error().message, Catch::Contains("retries exhausted"));
  auto stats = first.counters<line_log>();
  CHECK(stats.conflicts == 1);
  CHECK(stats.retries_exhausted == 1);
  CHECK(stats.retries == 0);
  CHECK(first.counters("no.such.aggregate") == command_stats{});
}

TEST_CASE("two aggregate types with one name are refused when served", "[conflict]") {
  application app{std::make_shared<memory_store>()};
  app.serve<line_log>();
  try {
    app.serve<impostor>();
    FAIL("serving a second aggregate named test.line_log did not throw");
  } catch (const cafes_error& e) {
    CHECK(e.code() == ec::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("test.line_log"));
  }
  CHECK_THROWS_AS(app.entities<impostor>(), cafes_error);
  app.serve<line_log>(); // the same type again is fine
  CHECK(app.entities<line_log>().create(uuid::random(), line_log::add{"a"}).version == 1);
}

TEST_CASE("a CAF error that is not one of ours maps to actor_error", "[conflict]") {
  auto foreign = to_failure(caf::make_error(caf::sec::unexpected_message));
  CHECK(foreign.code == ec::actor_error);
  CHECK_THAT(foreign.message, Catch::Contains("unexpected_message"));
  // Ours round-trip with every field.
  failure conflict = failure::conflict(uuid::random(), 2, 3);
  event_record missed;
  missed.entity = conflict.entity;
  missed.version = 3;
  missed.id = uuid::random();
  missed.type = "t";
  missed.payload = {1, 2};
  conflict.missed_events.push_back(missed);
  auto back = to_failure(to_caf_error(conflict));
  CHECK(back.code == ec::conflict);
  CHECK(back.entity == conflict.entity);
  CHECK(back.expected_version == 2);
  CHECK(back.actual_version == 3);
  CHECK(back.missed_events == conflict.missed_events);
  CHECK(back.message == conflict.message);
}

TEST_CASE("an entity actor does not passivate while it reads a conflict's missed events",
          "[conflict]") {
  // A store whose appends wait for a device: the read goes to the storage
  // actor, and the gate holds it there while the actor's idle time passes.
  auto gated = std::make_shared<testing::gated_store>(std::make_shared<memory_store>(), true);
  application_config config;
  config.idle_timeout = std::chrono::milliseconds{100};
  application app{gated, config};
  auto logs = app.entities<line_log>();
  auto id = uuid::random();
  logs.create(id, line_log::add{"a"});
  logs.execute(id, line_log::add{"b"});

  caf::scoped_actor self{app.system()};
  gated->close_gate();
  auto pending = logs.ref(id).execute(self.ptr(), line_log::add{"stale"}, std::uint64_t{1},
                                      caf::duration{std::chrono::seconds{20}});
  REQUIRE(gated->wait_for_waiting(1)); // the missed-event read is held
  // Many idle timeouts pass: without the hold, the actor passivates and
  // its answer is lost (the request then times out: ec::timeout).
  std::this_thread::sleep_for(std::chrono::milliseconds{600});
  gated->open_gate();
  pending.receive([](entity_snapshot&) { FAIL("a stale command was applied"); },
                  [&](caf::error& err) {
                    auto f = to_failure(err);
                    CHECK(f.code == ec::conflict);
                    CHECK(f.entity == id);
                    REQUIRE(f.missed_events.size() == 1);
                    CHECK(f.missed_events[0].version == 2);
                  });
  CHECK(logs.get(id).version == 2);
}
