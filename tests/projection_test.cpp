// Projections: views that follow the global log, resume exactly after a
// restart, rebuild on a new version, stop cleanly on a failing event; and
// read-your-writes.

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <caf/all.hpp>

#include "bank_example/accounts_by_owner.hpp"
#include "cafes/actors/application.hpp"
#include "cafes_samples/bank_account.hpp"
#include "gated_store.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::testing;
using namespace std::chrono_literals;
using bank_example::accounts_by_owner;

#define STORES memory_fixture, rocksdb_memory_fixture, rocksdb_disk_fixture

namespace {

/// Counts each account's events: any event applied twice or skipped shows.
struct count_row {
  static constexpr std::string_view type_name = "test.count";
  std::int64_t events = 0;
  std::uint64_t last_version = 0;
  auto fields() const { return std::tie(events, last_version); }
};

/// Counts events per entity; throws on a deposit of `poison` when asked.
template <std::uint32_t Version>
struct event_counter {
  static constexpr std::string_view name = "test.event_counter";
  static constexpr std::uint32_t version = Version;
  using event = bank::account::event;
  using row = std::variant<count_row>;
  static inline std::atomic<std::int64_t> poison{0};
  static inline std::atomic<int> sleep_ms{0};

  static void project(view<row>& view, const event& e, const event_record& meta) {
    if (const auto* d = std::get_if<bank::deposited>(&e); d && d->amount == poison)
      throw std::runtime_error("poisoned deposit");
    if (sleep_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{sleep_ms.load()});
    auto key = to_string(meta.entity);
    auto stored = view.get(key);
    auto count = stored ? std::get<count_row>(*stored) : count_row{};
    if (meta.version != count.last_version + 1)
      throw std::runtime_error("event out of order or repeated");
    ++count.events;
    count.last_version = meta.version;
    view.put(key, count);
  }
};

using counter = event_counter<1>;

/// Waits until `runner` has projected everything committed so far.
std::uint64_t caught_up(application& app, const projection_actor& runner) {
  caf::scoped_actor self{app.system()};
  std::uint64_t out = 0;
  self->request(runner, 20s, wait_atom::value, std::uint64_t{0})
    .receive([&](std::uint64_t position) { out = position; },
             [&](caf::error& err) { FAIL("projection did not catch up: " << to_string(to_failure(err))); });
  return out;
}

/// Opens `accounts` accounts with `deposits` deposits of 10 each.
std::vector<entity_id> write_accounts(application& app, int accounts, int deposits) {
  auto repo = app.entities<bank::account>();
  std::vector<entity_id> ids;
  for (int i = 0; i < accounts; ++i) {
    auto account = repo.create(bank::open{"owner" + std::to_string(i % 3)});
    for (int d = 0; d < deposits; ++d)
      repo.execute(account, bank::deposit{10});
    ids.push_back(account.id);
  }
  return ids;
}

void check_counts(event_store& store, const std::vector<entity_id>& ids) {
  view_reader<counter> view{std::shared_ptr<event_store>(&store, [](event_store*) {})};
  for (const auto& id : ids) {
    auto head = store.head(id);
    REQUIRE(head.ok());
    auto row = view.get(to_string(id));
    REQUIRE(row.ok());
    REQUIRE(row->has_value());
    CHECK(std::get<count_row>(**row).events == static_cast<std::int64_t>(*head));
  }
}

/// Two rows per event: each account's count, and a copy of it.
struct two_rows_per_event {
  static constexpr std::string_view name = "test.two_rows";
  static constexpr std::uint32_t version = 1;
  using event = bank::account::event;
  using row = std::variant<count_row>;

  static void project(view<row>& view, const event&, const event_record& meta) {
    auto key = to_string(meta.entity);
    auto stored = view.get(key);
    auto count = stored ? std::get<count_row>(*stored) : count_row{};
    ++count.events;
    count.last_version = meta.version;
    view.put(key, count);
    view.put(key + "/copy", count);
  }
};

} // namespace

TEMPLATE_TEST_CASE("a projection follows the log, and read-your-writes sees the write",
                   "[projection]", STORES) {
  TestType fixture;
  application app{fixture.store};
  auto runner = app.run_projection<accounts_by_owner>();
  auto repo = app.entities<bank::account>();
  auto view = app.view<accounts_by_owner>();
  read_your_writes wait{{std::string{accounts_by_owner::name}}};
  auto ada = repo.create(bank::open{"ada"});
  repo.execute(ada, bank::deposit{100}, {}, wait);
  auto second = repo.execute(repo.create(bank::open{"ada"}).id, bank::deposit{5}, {}, wait);
  auto bob = repo.create(bank::open{"bob"});
  repo.execute(bob, bank::deposit{40}, {}, wait);
  // No waiting beyond read-your-writes: the reads see every write.
  auto of_ada = bank_example::accounts_of(view, "ada");
  REQUIRE(of_ada.ok());
  REQUIRE(of_ada->size() == 2);
  std::int64_t ada_total = 0;
  for (const auto& account : *of_ada)
    ada_total += account.balance;
  CHECK(ada_total == 105);
  auto sums = bank_example::totals(view);
  REQUIRE(sums.ok());
  CHECK(sums->open_accounts == 3);
  CHECK(sums->balance == 145);
  // Closing an empty account takes it out of the view.
  repo.execute(bob, bank::withdraw{40});
  repo.execute(bob, bank::close{}, {}, wait);
  CHECK(bank_example::accounts_of(view, "bob")->empty());
  CHECK(bank_example::totals(view)->open_accounts == 2);
  CHECK(bank_example::totals(view)->balance == 105);
  // An owner whose name starts like another's has its own accounts only.
  repo.create(bank::open{"ada/x"});
  repo.execute(second.id, bank::deposit{1}, {}, wait);
  CHECK(bank_example::accounts_of(view, "ada")->size() == 2);
  auto checkpoint = view.checkpoint();
  REQUIRE(checkpoint.ok());
  REQUIRE(checkpoint->has_value());
  CHECK((*checkpoint)->position == *fixture.store->last_position());
}

TEMPLATE_TEST_CASE("a projection restarted over the same store resumes after its checkpoint",
                   "[projection]", STORES) {
  TestType fixture;
  std::vector<entity_id> ids;
  {
    application app{fixture.store};
    auto runner = app.run_projection<counter>(projection_options{7}); // odd batches
    ids = write_accounts(app, 6, 20);
    caught_up(app, runner);
  }
  {
    // Written while no projection runs.
    application app{fixture.store};
    auto more = write_accounts(app, 4, 10);
    ids.insert(ids.end(), more.begin(), more.end());
  }
  application app{fixture.store};
  auto runner = app.run_projection<counter>(projection_options{7});
  auto more = write_accounts(app, 2, 5);
  ids.insert(ids.end(), more.begin(), more.end());
  CHECK(caught_up(app, runner) == *fixture.store->last_position());
  check_counts(*fixture.store, ids);
}

TEMPLATE_TEST_CASE("a projection whose version changed is rebuilt from position 0",
                   "[projection]", STORES) {
  TestType fixture;
  std::vector<entity_id> ids;
  {
    application app{fixture.store};
    auto runner = app.run_projection<counter>();
    ids = write_accounts(app, 3, 4);
    caught_up(app, runner);
  }
  application app{fixture.store};
  auto runner = app.run_projection<event_counter<2>>();
  caught_up(app, runner);
  auto checkpoint = app.view<event_counter<2>>().checkpoint();
  REQUIRE(checkpoint.ok());
  CHECK((*checkpoint)->version == 2);
  CHECK((*checkpoint)->generation == 2);
  // Counted once each, not added to version 1's counts.
  check_counts(*fixture.store, ids);
}

TEMPLATE_TEST_CASE("a projection that throws stops before that event, and writers go on",
                   "[projection]", STORES) {
  TestType fixture;
  counter::poison = 777;
  struct reset_poison {
    ~reset_poison() { counter::poison = 0; }
  } reset;
  application app{fixture.store};
  auto runner = app.run_projection<counter>();
  auto repo = app.entities<bank::account>();
  auto account = repo.create(bank::open{"ada"});
  repo.execute(account, bank::deposit{1});
  caught_up(app, runner);
  repo.execute(account, bank::deposit{777});
  auto poisoned_at = *fixture.store->last_position();
  repo.execute(account, bank::deposit{2}); // writers are not affected
  CHECK(account.version == 4);
  caf::scoped_actor self{app.system()};
  std::optional<failure> stopped;
  self->request(runner, 20s, wait_atom::value, std::uint64_t{0})
    .receive([&](std::uint64_t) {}, [&](caf::error& err) { stopped = to_failure(err); });
  REQUIRE(stopped);
  CHECK(stopped->code == ec::rejected);
  CHECK_THAT(stopped->message, Catch::Contains("stopped at position " + std::to_string(poisoned_at - 1)));
  CHECK_THAT(stopped->message, Catch::Contains("poisoned deposit"));
  CHECK_THAT(stopped->message, Catch::Contains("bank.deposited"));
  // The events before it are in the view; it and those after are not.
  auto checkpoint = *app.view<counter>().checkpoint();
  CHECK(checkpoint->position == poisoned_at - 1);
  auto row = app.view<counter>().get(to_string(account.id));
  REQUIRE(row.ok());
  CHECK(std::get<count_row>(**row).events == 2);
  // A command that awaits it gets the failure, though it was applied.
  try {
    repo.execute(account, bank::deposit{3}, {}, read_your_writes{{"test.event_counter"}});
    FAIL("read-your-writes on a stopped projection answered");
  } catch (const cafes_error& error) {
    CHECK(error.code() == ec::rejected);
    CHECK_THAT(error.what(), Catch::Contains("the command was applied"));
  }
  CHECK(*fixture.store->head(account.id) == 5);
}

TEST_CASE("read-your-writes names an unknown projection or times out with a clear error",
          "[projection]") {
  memory_fixture fixture;
  application app{fixture.store};
  auto repo = app.entities<bank::account>();
  auto account = repo.create(bank::open{"ada"});
  try {
    repo.execute(account, bank::deposit{1}, {}, read_your_writes{{"no.such.view"}});
    FAIL("an unknown projection was accepted");
  } catch (const cafes_error& error) {
    CHECK(error.code() == ec::invalid_argument);
    CHECK_THAT(error.what(), Catch::Contains("no.such.view"));
  }
  CHECK(account.version == 1); // nothing was sent
  CHECK(*fixture.store->head(account.id) == 1);
  counter::sleep_ms = 1'000;
  struct reset_sleep {
    ~reset_sleep() { counter::sleep_ms = 0; }
  } reset;
  app.run_projection<counter>();
  try {
    repo.execute(account, bank::deposit{1}, {}, read_your_writes{{"test.event_counter"}, 50ms});
    FAIL("a lagging projection did not time out");
  } catch (const cafes_error& error) {
    CHECK(error.code() == ec::timeout);
    CHECK_THAT(error.what(), Catch::Contains("the command was applied (entity "
                                            + to_string(account.id) + " at version 2)"));
    CHECK_THAT(error.what(), Catch::Contains("had not processed it within 50 ms"));
  }
  CHECK(*fixture.store->head(account.id) == 2);
  CHECK_THROWS_AS(app.run_projection<counter>(), cafes_error); // one runner per name
}

TEMPLATE_TEST_CASE("two applications running one projection over one store apply each "
                   "event once",
                   "[projection]", STORES) {
  TestType fixture;
  application first{fixture.store};
  application second{fixture.store};
  auto first_runner = first.run_projection<counter>(projection_options{3});
  auto second_runner = second.run_projection<counter>(projection_options{3});
  std::vector<entity_id> ids;
  std::thread writer{[&] { ids = write_accounts(first, 8, 15); }};
  auto more = write_accounts(second, 8, 15);
  writer.join();
  ids.insert(ids.end(), more.begin(), more.end());
  caught_up(first, first_runner);
  caught_up(second, second_runner);
  check_counts(*fixture.store, ids);
}

TEMPLATE_TEST_CASE("an older version of a projection leaves a newer view alone",
                   "[projection]", STORES) {
  TestType fixture;
  {
    application app{fixture.store};
    auto runner = app.run_projection<event_counter<2>>();
    write_accounts(app, 2, 3);
    caught_up(app, runner);
  }
  auto before = *fixture.store->read_view_checkpoint("test.event_counter");
  application app{fixture.store};
  auto runner = app.run_projection<event_counter<1>>();
  caf::scoped_actor self{app.system()};
  std::optional<failure> stopped;
  self->request(runner, 20s, wait_atom::value, std::uint64_t{0})
    .receive([&](std::uint64_t) {}, [&](caf::error& err) { stopped = to_failure(err); });
  REQUIRE(stopped);
  CHECK(stopped->code == ec::invalid_argument);
  CHECK_THAT(stopped->message, Catch::Contains("built by version 2"));
  CHECK(*fixture.store->read_view_checkpoint("test.event_counter") == before);
}

TEST_CASE("an entity actor waiting for a projection is not passivated before it answers",
          "[projection]") {
  memory_fixture fixture;
  application_config config;
  config.idle_timeout = 20ms;            // idle far sooner than the projection answers
  config.request_timeout = 3'000ms;      // a dropped answer shows as this timeout
  application app{fixture.store, config};
  auto repo = app.entities<bank::account>();
  auto account = repo.create(bank::open{"ada"});
  counter::sleep_ms = 300;
  struct reset_sleep {
    ~reset_sleep() { counter::sleep_ms = 0; }
  } reset;
  app.run_projection<counter>();
  repo.execute(account, bank::deposit{1}, {}, read_your_writes{{"test.event_counter"}, 2'000ms});
  CHECK(account.version == 2);
  auto row = app.view<counter>().get(to_string(account.id));
  REQUIRE(row.ok());
  REQUIRE(row->has_value());
  CHECK(std::get<count_row>(**row).events == 2);
}

TEST_CASE("a projection whose batch has more rows than the store's commit takes reads "
          "fewer events per batch, and goes on",
          "[projection]") {
  // At most 8 rows per commit (etcd: --max-txn-ops): 8 events of distinct
  // accounts make 16 rows, refused; 4 make 8.
  auto store = std::make_shared<gated_store>(std::make_shared<memory_store>());
  store->limit_view_rows(8);
  application app{store};
  auto ids = write_accounts(app, 12, 0);
  auto runner = app.run_projection<two_rows_per_event>();
  CHECK(caught_up(app, runner) == *store->last_position());
  for (const auto& id : ids) {
    auto copy = store->read_view(two_rows_per_event::name, to_string(id) + "/copy");
    REQUIRE(copy.ok());
    CHECK(copy->has_value());
  }
}
