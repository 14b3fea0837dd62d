// Schema evolution: events stored by the code of one version of an aggregate
// are read by the code of the next, through replay, read_all and
// subscriptions, on the memory store and on RocksDB reopened from disk.

#include <catch2/catch.hpp>

#include <filesystem>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_verify.hpp"
#include "sample_database.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace std::chrono_literals;

namespace {

// -- version 1 of a shelf: items stocked and sold ---------------------------

namespace v1 {

struct stocked {
  static constexpr std::string_view type_name = "test_shelf.stocked";
  std::string item;
  std::int32_t count = 0;
  auto fields() const { return std::tie(item, count); }
};

struct sold {
  static constexpr std::string_view type_name = "test_shelf.sold";
  std::int32_t count = 0;
  auto fields() const { return std::tie(count); }
};

struct stock {
  static constexpr std::string_view type_name = "test_shelf.stock";
  std::string item;
  std::int32_t count = 0;
  auto fields() const { return std::tie(item, count); }
};
struct sell {
  static constexpr std::string_view type_name = "test_shelf.sell";
  std::int32_t count = 0;
  auto fields() const { return std::tie(count); }
};

struct shelf {
  static constexpr std::string_view name = "test_shelf";
  struct state {
    std::string item;
    std::int64_t count = 0;
    auto fields() const { return std::tie(item, count); }
  };
  using command = std::variant<stock, sell>;
  using event = std::variant<stocked, sold>;

  static decision<event> decide(const state& current, const command& cmd) {
    if (const auto* s = std::get_if<stock>(&cmd))
      return std::vector<event>{stocked{s->item, s->count}};
    auto count = std::get<sell>(cmd).count;
    if (count > current.count)
      return reject("not enough on the shelf");
    return std::vector<event>{sold{count}};
  }

  static state evolve(state current, const event& e) {
    if (const auto* s = std::get_if<stocked>(&e)) {
      current.item = s->item;
      current.count += s->count;
    } else {
      current.count -= std::get<sold>(e).count;
    }
    return current;
  }
};

} // namespace v1

// -- version 2: counts are 64-bit with a unit; "sold" became "removed" with
// a reason. Same aggregate name; the old structs are v1's.

namespace v2 {

struct stocked {
  static constexpr std::string_view type_name = "test_shelf.stocked";
  static constexpr std::uint32_t schema_version = 2;
  using upcasts_from = v1::stocked;
  static stocked upcast(v1::stocked old) { return {std::move(old.item), old.count, "pieces"}; }
  std::string item;
  std::int64_t count = 0;
  std::string unit;
  auto fields() const { return std::tie(item, count, unit); }
  friend bool operator==(const stocked&, const stocked&) = default;
};

struct removed {
  static constexpr std::string_view type_name = "test_shelf.removed"; // was "sold"
  static constexpr std::uint32_t schema_version = 2;
  using upcasts_from = v1::sold;
  static removed upcast(v1::sold old) { return {old.count, "sale"}; }
  std::int64_t count = 0;
  std::string reason;
  auto fields() const { return std::tie(count, reason); }
  friend bool operator==(const removed&, const removed&) = default;
};

struct stock {
  static constexpr std::string_view type_name = "test_shelf.stock";
  std::string item;
  std::int64_t count = 0;
  std::string unit;
  auto fields() const { return std::tie(item, count, unit); }
};
struct remove {
  static constexpr std::string_view type_name = "test_shelf.remove";
  std::int64_t count = 0;
  std::string reason;
  auto fields() const { return std::tie(count, reason); }
};

struct shelf {
  static constexpr std::string_view name = "test_shelf";
  struct state {
    std::string item;
    std::int64_t count = 0;
    std::string unit;
    std::vector<std::string> reasons;
    auto fields() const { return std::tie(item, count, unit, reasons); }
  };
  using command = std::variant<stock, remove>;
  using event = std::variant<stocked, removed>;

  static decision<event> decide(const state& current, const command& cmd) {
    if (const auto* s = std::get_if<stock>(&cmd))
      return std::vector<event>{stocked{s->item, s->count, s->unit}};
    const auto& r = std::get<remove>(cmd);
    if (r.count > current.count)
      return reject("not enough on the shelf");
    return std::vector<event>{removed{r.count, r.reason}};
  }

  static state evolve(state current, const event& e) {
    if (const auto* s = std::get_if<stocked>(&e)) {
      current.item = s->item;
      current.count += s->count;
      current.unit = s->unit;
    } else {
      const auto& r = std::get<removed>(e);
      current.count -= r.count;
      current.reasons.push_back(r.reason);
    }
    return current;
  }
};

} // namespace v2

// -- version 3: a stocking has a note. v1 events go v1 -> v2 -> v3.

namespace v3 {

struct stocked {
  static constexpr std::string_view type_name = "test_shelf.stocked";
  static constexpr std::uint32_t schema_version = 3;
  using upcasts_from = v2::stocked;
  static stocked upcast(v2::stocked old) {
    return {std::move(old.item), old.count, std::move(old.unit), "before notes"};
  }
  std::string item;
  std::int64_t count = 0;
  std::string unit;
  std::string note;
  auto fields() const { return std::tie(item, count, unit, note); }
  friend bool operator==(const stocked&, const stocked&) = default;
};

struct shelf {
  static constexpr std::string_view name = "test_shelf";
  struct state {
    std::int64_t count = 0;
    std::vector<std::string> notes;
    auto fields() const { return std::tie(count, notes); }
  };
  using command = std::variant<v2::remove>;
  using event = std::variant<stocked, v2::removed>;

  static decision<event> decide(const state&, const command& cmd) {
    const auto& r = std::get<v2::remove>(cmd);
    return std::vector<event>{v2::removed{r.count, r.reason}};
  }

  static state evolve(state current, const event& e) {
    if (const auto* s = std::get_if<stocked>(&e)) {
      current.count += s->count;
      current.notes.push_back(s->note);
    } else {
      current.count -= std::get<v2::removed>(e).count;
    }
    return current;
  }
};

} // namespace v3

// -- stores that outlive an application, and reopen ------------------------

struct memory_kind {
  std::shared_ptr<event_store> store = std::make_shared<memory_store>();
  void reopen() {}
};

/// On disk; reopen closes the store and opens it again, so every event is
/// read back from its stored value.
struct rocksdb_kind {
  testing::temp_dir dir;
  std::shared_ptr<event_store> store = open();

  std::shared_ptr<event_store> open() {
    rocksdb_options options;
    options.path = dir.sub("db");
    options.sync = false;
    auto opened = rocksdb_store::open(options);
    if (!opened)
      throw std::runtime_error(to_string(opened.error()));
    return std::shared_ptr<event_store>{std::move(*opened)};
  }

  void reopen() {
    store.reset(); // the last owner: closes it
    store = open();
  }
};

/// What version 1 wrote: one shelf stocked with 10 apples, 3 sold, and a
/// second shelf with 4 pears. Returns the two ids.
template <class Kind>
std::pair<entity_id, entity_id> write_v1(Kind& kind) {
  application app{kind.store};
  auto shelves = app.entities<v1::shelf>();
  auto apples = shelves.create(v1::stock{"apple", 10});
  shelves.execute(apples, v1::sell{3});
  auto pears = shelves.create(v1::stock{"pear", 4});
  return {apples.id, pears.id};
}

/// Every event of the store's log.
std::vector<event_record> whole_log(event_store& store) {
  auto page = store.read_all(0, 1'000);
  REQUIRE(page.ok());
  return page->events;
}

/// A subscriber that keeps what it is sent.
struct received {
  std::mutex mutex;
  std::vector<event_record> events;

  std::size_t count() {
    std::lock_guard guard{mutex};
    return events.size();
  }
};

subscriber_actor::behavior_type keeper(subscriber_actor::pointer, std::shared_ptr<received> out) {
  return {
    [=](log_events_atom, std::vector<event_record>& batch) -> std::uint64_t {
      std::lock_guard guard{out->mutex};
      for (auto& event : batch)
        out->events.push_back(std::move(event));
      return out->events.back().position;
    },
  };
}

/// Counts removals by reason; written in v2 code, it reads v1's "sold"
/// events (another type name) as removals for a sale.
struct removals_by_reason {
  struct reason_row {
    static constexpr std::string_view type_name = "test.reason";
    std::int64_t count = 0;
    auto fields() const { return std::tie(count); }
  };
  static constexpr std::string_view name = "test_shelf.removals_by_reason";
  static constexpr std::uint32_t version = 1;
  using event = std::variant<v2::removed>;
  using row = std::variant<reason_row>;

  static void project(view<row>& view, const event& e, const event_record&) {
    const auto& removal = std::get<v2::removed>(e);
    auto stored = view.get(removal.reason);
    auto counted = stored ? std::get<reason_row>(*stored) : reason_row{};
    counted.count += removal.count;
    view.put(removal.reason, counted);
  }
};

/// The decode failure of `record` as `Event`; fails the test if it decodes.
template <class Event>
failure decode_error(const event_record& record) {
  auto decoded = decode<Event>(record);
  REQUIRE_FALSE(decoded.ok());
  return decoded.error();
}

} // namespace

TEMPLATE_TEST_CASE("events stored by v1 code replay in v2 code: get and execute on an "
                   "old entity see upcast state",
                   "[actors][schema]", memory_kind, rocksdb_kind) {
  TestType kind;
  auto [apples, pears] = write_v1(kind);
  kind.reopen();
  {
    application app{kind.store};
    auto shelves = app.entities<v2::shelf>();
    auto shelf = shelves.get(apples);
    CHECK(shelf.version == 2);
    CHECK(shelf.state.item == "apple");
    CHECK(shelf.state.count == 7);
    CHECK(shelf.state.unit == "pieces");
    CHECK(shelf.state.reasons == std::vector<std::string>{"sale"});
    shelves.execute(shelf, v2::remove{2, "bruised"});
    CHECK(shelf.version == 3);
    CHECK(shelf.state.count == 5);
    CHECK(shelf.state.reasons == std::vector<std::string>{"sale", "bruised"});
    CHECK(shelves.get(pears).state.count == 4);
  }
  kind.reopen();
  // The stored versions: v1's events at 1, v2's at 2, each read back as such.
  auto log = whole_log(*kind.store);
  REQUIRE(log.size() == 4);
  std::vector<std::uint32_t> versions;
  for (const auto& record : log)
    versions.push_back(record.schema_version);
  CHECK(versions == std::vector<std::uint32_t>{1, 1, 1, 2});
  CHECK(log[3].type == "test_shelf.removed");
  // A fresh application replays the mixed history.
  application app{kind.store};
  auto shelf = app.entities<v2::shelf>().get(apples);
  CHECK(shelf.version == 3);
  CHECK(shelf.state.count == 5);
}

TEMPLATE_TEST_CASE("v1 records from read_all decode in v2 code to upcast values",
                   "[actors][schema]", memory_kind, rocksdb_kind) {
  TestType kind;
  write_v1(kind);
  kind.reopen();
  auto log = whole_log(*kind.store);
  REQUIRE(log.size() == 3);
  std::vector<v2::shelf::event> events;
  for (const auto& record : log) {
    CHECK(record.schema_version == 1);
    auto event = decode<v2::shelf::event>(record);
    REQUIRE(event.ok());
    events.push_back(*event);
  }
  CHECK(events
        == std::vector<v2::shelf::event>{v2::stocked{"apple", 10, "pieces"},
                                         v2::removed{3, "sale"},
                                         v2::stocked{"pear", 4, "pieces"}});
  // Filtering by v2's type names passes the renamed event's old records.
  auto filtered = kind.store->read_all(0, 100, {{}, {"test_shelf.removed"}});
  CHECK(filtered->events.empty());
  auto names = type_names<v2::shelf::event>();
  auto by_names = kind.store->read_all(0, 100, {{}, {names.begin(), names.end()}});
  CHECK(by_names->events.size() == 3);
}

TEMPLATE_TEST_CASE("a subscription in v2 code delivers v1 records that decode to upcast "
                   "values, and v2 records after them",
                   "[actors][schema]", memory_kind, rocksdb_kind) {
  TestType kind;
  auto [apples, pears] = write_v1(kind);
  kind.reopen();
  application app{kind.store};
  auto out = std::make_shared<received>();
  app.subscribe(app.system().spawn(keeper, out));
  app.entities<v2::shelf>().execute(pears, v2::stock{"pear", 500, "grams"});
  for (int i = 0; i < 60'000 && out->count() < 4; ++i)
    std::this_thread::sleep_for(1ms);
  std::lock_guard guard{out->mutex};
  REQUIRE(out->events.size() == 4);
  std::vector<v2::shelf::event> events;
  for (const auto& record : out->events) {
    auto event = decode<v2::shelf::event>(record);
    REQUIRE(event.ok());
    events.push_back(*event);
  }
  CHECK(events
        == std::vector<v2::shelf::event>{v2::stocked{"apple", 10, "pieces"},
                                         v2::removed{3, "sale"},
                                         v2::stocked{"pear", 4, "pieces"},
                                         v2::stocked{"pear", 500, "grams"}});
  CHECK(out->events[3].schema_version == 2);
}

TEMPLATE_TEST_CASE("a projection in v2 code reads v1 events, a renamed type's too",
                   "[actors][schema][projection]", memory_kind, rocksdb_kind) {
  TestType kind;
  auto [apples, pears] = write_v1(kind);
  kind.reopen();
  application app{kind.store};
  app.run_projection<removals_by_reason>();
  read_your_writes seen{{std::string{removals_by_reason::name}}};
  app.entities<v2::shelf>().execute(pears, v2::remove{1, "bruised"}, {}, seen);
  auto view = app.view<removals_by_reason>();
  auto count = [&](std::string_view reason) -> std::int64_t {
    auto row = view.get(reason);
    REQUIRE(row.ok());
    return *row ? std::get<removals_by_reason::reason_row>(**row).count : -1;
  };
  CHECK(count("sale") == 3); // v1's "test_shelf.sold", upcast
  CHECK(count("bruised") == 1);
}

TEMPLATE_TEST_CASE("an unknown schema version or type in a stored history is a decode "
                   "failure naming type, schema version, entity and version",
                   "[actors][schema][bad-input]", memory_kind, rocksdb_kind) {
  TestType kind;
  auto [apples, pears] = write_v1(kind);
  // A newer writer (v3 code) stocks at schema version 3; something else
  // stores a type no version has.
  auto newer = testing::make_event("test_shelf.stocked", "");
  newer.payload = encode(v3::shelf::event{v3::stocked{"apple", 1, "box", "n"}}).payload;
  newer.schema_version = 3;
  REQUIRE(kind.store->append(append_request{apples, 2, {newer}, "test_shelf"}).ok());
  auto painted = testing::make_event("test_shelf.painted", "blue");
  REQUIRE(kind.store->append(append_request{pears, 1, {painted}, "test_shelf"}).ok());
  kind.reopen();
  auto stored = *kind.store->read(apples, 3, 3);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].schema_version == 3);

  auto too_new = decode_error<v2::shelf::event>(stored[0]);
  CHECK(too_new.code == ec::decode_failure);
  CHECK_THAT(too_new.message, Catch::Contains("'test_shelf.stocked'")
                                && Catch::Contains("schema version 3")
                                && Catch::Contains(to_string(apples))
                                && Catch::Contains("at version 3")
                                && Catch::Contains("newer than this code knows"));
  auto unknown = decode_error<v2::shelf::event>(*kind.store->read(pears, 2, 2)->data());
  CHECK_THAT(unknown.message, Catch::Contains("unknown event type 'test_shelf.painted'")
                                && Catch::Contains("schema version 1")
                                && Catch::Contains(to_string(pears))
                                && Catch::Contains("at version 2"));
  // Replay gives the same failure; v3 code reads the history.
  {
    application app{kind.store};
    auto shelves = app.entities<v2::shelf>();
    for (auto [id, text] : {std::pair{apples, std::string{"schema version 3"}},
                            std::pair{pears, std::string{"'test_shelf.painted'"}}}) {
      try {
        shelves.get(id);
        FAIL("a history with an event v2 cannot read replayed");
      } catch (const cafes_error& error) {
        CHECK(error.code() == ec::decode_failure);
        CHECK_THAT(error.what(), Catch::Contains(text) && Catch::Contains(to_string(id)));
      }
    }
  }
  application app{kind.store};
  auto shelf = app.entities<v3::shelf>().get(apples);
  CHECK(shelf.state.count == 8);
  CHECK(shelf.state.notes == std::vector<std::string>{"before notes", "n"});
}

TEMPLATE_TEST_CASE("v3 code reads v1 events through v2's upcaster and v2 events through "
                   "its own: a chain",
                   "[actors][schema]", memory_kind, rocksdb_kind) {
  TestType kind;
  auto [apples, pears] = write_v1(kind);
  kind.reopen();
  {
    application app{kind.store};
    app.entities<v2::shelf>().execute(apples, v2::stock{"apple", 2, "crates"});
  }
  kind.reopen();
  auto log = whole_log(*kind.store);
  REQUIRE(log.size() == 4);
  std::vector<v3::shelf::event> events;
  for (const auto& record : log) {
    auto event = decode<v3::shelf::event>(record);
    REQUIRE(event.ok());
    events.push_back(*event);
  }
  CHECK(events
        == std::vector<v3::shelf::event>{v3::stocked{"apple", 10, "pieces", "before notes"},
                                         v2::removed{3, "sale"},
                                         v3::stocked{"pear", 4, "pieces", "before notes"},
                                         v3::stocked{"apple", 2, "crates", "before notes"}});
  application app{kind.store};
  auto shelves = app.entities<v3::shelf>();
  auto shelf = shelves.get(apples);
  CHECK(shelf.version == 3);
  CHECK(shelf.state.count == 9);
  CHECK(shelf.state.notes == std::vector<std::string>{"before notes", "before notes"});
  CHECK(shelves.get(pears).state.count == 4);
}

TEST_CASE("a database written before schema versions opens, verifies clean, reads every "
          "event at schema version 1, and takes newer ones beside them",
          "[storage][schema]") {
  // tests/data/format2_sample_db: the sample database as the cafes of
  // commit d2c15a5 wrote it (event values of format 2, no schema versions).
  testing::temp_dir dir;
  auto path = dir.sub("db");
  std::filesystem::copy(CAFES_TEST_DATA "/format2_sample_db", path);
  {
    auto store = testing::open_rocksdb(path);
    verify_options options;
    options.aggregates = testing::sample::aggregates();
    auto report = verify(*store, options);
    for (const auto& problem : report.problems)
      UNSCOPED_INFO(to_string(problem));
    CHECK(report.ok());
    CHECK(report.events == testing::sample::events);
    auto log = *store->read_all(0, 100);
    REQUIRE(log.events.size() == testing::sample::events);
    for (const auto& record : log.events)
      CHECK(record.schema_version == 1);
    auto newer = testing::make_event("test.later", "v2");
    newer.schema_version = 2;
    REQUIRE(store->append(append_request{testing::sample::stranger, 0, {newer}}).ok());
  }
  auto store = testing::open_rocksdb(path);
  auto later = *store->read(testing::sample::stranger);
  REQUIRE(later.size() == 1);
  CHECK(later[0].schema_version == 2);
  CHECK(later[0].position == testing::sample::events + 1);
  CHECK(store->read(testing::sample::account)->at(1).schema_version == 1);
}
