// The transfer process manager: every path (completed, refunded, rejected),
// event metadata on the commands it sends, and reacting twice to the same
// events (what a restart after a crash does) changes nothing.

#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "bank_example/transfer.hpp"
#include "cafes_samples/bank_account.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::testing;
using namespace bank_example;
using namespace std::chrono_literals;

#define STORES memory_fixture, rocksdb_memory_fixture, rocksdb_disk_fixture

namespace {

entity_id open_account(application& app, const std::string& owner, std::int64_t funds) {
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{owner});
  if (funds > 0)
    accounts.execute(account, bank::deposit{funds});
  return account.id;
}

/// Requests a transfer and waits until the manager has ended it.
transfer_state run_transfer(application& app, process_manager_runner& manager,
                            const entity_id& from, const entity_id& to, std::int64_t amount) {
  auto requested = app.entities<transfer>().create(request_transfer{from, to, amount});
  auto state = await_transfer(app, manager, requested.id, 20s);
  REQUIRE(ended(state.status));
  return state;
}

std::int64_t balance(application& app, const entity_id& id) {
  return app.entities<bank::account>().get(id).state.balance;
}

} // namespace

TEMPLATE_TEST_CASE("a transfer completes, is refunded when the target refuses, and is "
                   "rejected when the source refuses",
                   "[process_manager]", STORES) {
  TestType fixture;
  application app{fixture.store};
  process_manager_runner manager{app, erase_process_manager<transfer_manager>()};
  auto ada = open_account(app, "ada", 100);
  auto bob = open_account(app, "bob", 0);
  auto closed = open_account(app, "carol", 0);
  app.entities<bank::account>().execute(closed, bank::close{});

  auto done = run_transfer(app, manager, ada, bob, 30);
  CHECK(done.status == transfer_status::completed);
  CHECK(balance(app, ada) == 70);
  CHECK(balance(app, bob) == 30);

  auto refunded = run_transfer(app, manager, ada, closed, 20);
  CHECK(refunded.status == transfer_status::refunded);
  CHECK_THAT(refunded.reason, Catch::Contains("closed"));
  CHECK(balance(app, ada) == 70);

  auto unknown = run_transfer(app, manager, ada, uuid::random(), 20);
  CHECK(unknown.status == transfer_status::refunded);
  CHECK_THAT(unknown.reason, Catch::Contains("not found"));
  CHECK(balance(app, ada) == 70);

  auto rejected = run_transfer(app, manager, bob, ada, 31);
  CHECK(rejected.status == transfer_status::rejected);
  CHECK_THAT(rejected.reason, Catch::Contains("insufficient funds"));
  CHECK(balance(app, bob) == 30);

  // The commands the manager sent carry their cause: the transfer's event.
  auto history = fixture.store->read(bob);
  REQUIRE(history.ok());
  const auto& deposit = history->back();
  CHECK(deposit.type == "bank.deposited");
  auto cause = fixture.store->read_all(0, 1'000);
  REQUIRE(cause.ok());
  auto trigger = std::find_if(cause->events.begin(), cause->events.end(),
                              [&](const event_record& e) { return e.id == deposit.causation_id; });
  REQUIRE(trigger != cause->events.end());
  CHECK(trigger->type == "transfer.debited");
  CHECK(deposit.command_id == uuid::name_based(trigger->id, "deposit"));
  CHECK(deposit.correlation_id == trigger->correlation_id);
  CHECK_FALSE(deposit.correlation_id.is_nil());
}

TEMPLATE_TEST_CASE("reacting again to every transfer event changes nothing",
                   "[process_manager]", STORES) {
  TestType fixture;
  application app{fixture.store};
  auto ada = open_account(app, "ada", 1'000);
  auto bob = open_account(app, "bob", 0);
  auto closed = open_account(app, "carol", 0);
  app.entities<bank::account>().execute(closed, bank::close{});
  {
    process_manager_runner manager{app, erase_process_manager<transfer_manager>()};
    for (int i = 0; i < 5; ++i) {
      run_transfer(app, manager, ada, bob, 10);
      run_transfer(app, manager, ada, closed, 10);
    }
  }
  auto before = fixture.store->last_position();
  REQUIRE(before.ok());
  // What a runner restarted from an old checkpoint does: react again.
  auto manager = erase_process_manager<transfer_manager>();
  auto log = fixture.store->read_all(0, 10'000, log_filter{{}, manager->event_types()});
  REQUIRE(log.ok());
  CHECK(log->events.size() == 20);
  for (const auto& record : log->events) {
    auto failed = manager->react(app, record);
    CHECK_FALSE(failed);
  }
  CHECK(*fixture.store->last_position() == *before);
  CHECK(balance(app, ada) == 950);
  CHECK(balance(app, bob) == 50);
}

TEST_CASE("a refund the source refuses leaves the transfer held, not the manager stuck",
          "[process_manager]") {
  memory_fixture fixture;
  application app{fixture.store};
  auto accounts = app.entities<bank::account>();
  auto transfers = app.entities<transfer>();
  auto ada = open_account(app, "ada", 20);
  auto nobody = uuid::random();
  // The transfer as the manager leaves it after its withdrawal; then the
  // source is emptied by it and closed before the deposit is tried.
  auto t = transfers.create(request_transfer{ada, nobody, 20});
  accounts.execute(ada, bank::withdraw{20});
  accounts.execute(ada, bank::close{});
  transfers.execute(t, record_debit{});
  auto log = fixture.store->read_all(0, 100, log_filter{{}, {"transfer.debited"}});
  REQUIRE(log.ok());
  REQUIRE(log->events.size() == 1);
  auto manager = erase_process_manager<transfer_manager>();
  CHECK_FALSE(manager->react(app, log->events.front()));
  auto held = transfers.get(t.id).state;
  CHECK(held.status == transfer_status::held);
  CHECK_THAT(held.reason, Catch::Contains("the refund was refused too"));
  CHECK(ended(held.status));
}

TEST_CASE("an idle process manager keeps at most one wait at the log hub",
          "[process_manager]") {
  memory_fixture fixture;
  application app{fixture.store};
  open_account(app, "ada", 1);
  process_manager_runner manager{app, erase_process_manager<transfer_manager>()};
  REQUIRE(manager.wait_for(0, 20s));
  std::this_thread::sleep_for(1s); // ten of its 100 ms looks
  CHECK(app.log_waiters() <= 1);
}
