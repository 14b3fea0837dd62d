// Process managers under kill -9: 10,000 transfers among 100 accounts from
// 8 client threads, the process killed mid-way (sync on) and restarted.
// Every transfer ends completed or refunded, the money is exactly what was
// deposited, no command is applied twice, and the projection agrees.

#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <set>
#include <sys/wait.h>

#include "bank_example/accounts_by_owner.hpp"
#include "bank_example/transfer.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/storage/rocksdb_verify.hpp"
#include "child_process.hpp"
#include "store_fixtures.hpp"
#include "temp_dir.hpp"
#include "transfer_plan.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::testing;
using namespace bank_example;

namespace {

child_process start_worker(const std::string& path) {
  child_process::settings how;
  how.watched = child_process::watch::out;
  return child_process{{CAFES_TRANSFER_WORKER, path}, how};
}

/// Reads entity `id`'s history and folds it with aggregate `A`.
template <class A>
typename A::state fold_stored(event_store& store, const entity_id& id,
                              std::vector<event_record>* records = nullptr) {
  auto history = store.read(id);
  REQUIRE(history.ok());
  typename A::state state{};
  for (const auto& record : *history) {
    auto event = decode<typename A::event>(record);
    REQUIRE(event.ok());
    state = A::evolve(std::move(state), *event);
  }
  if (records)
    *records = std::move(*history);
  return state;
}

} // namespace

TEST_CASE("transfers killed mid-way with kill -9 all end completed or refunded, and "
          "money is conserved",
          "[process_manager][durability]") {
  temp_dir dir;
  const auto path = dir.sub("bank");
  {
    auto worker = start_worker(path);
    auto progress = worker.wait_for_line("requested 3000");
    REQUIRE(progress); // the worker got that far, then dies mid-stream
    worker.send(SIGKILL);
    auto status = worker.wait();
    REQUIRE(WIFSIGNALED(status));
    CHECK(worker.text().find("done") == std::string::npos);
  }
  {
    auto worker = start_worker(path);
    REQUIRE(worker.wait_for_line("done"));
    auto status = worker.wait();
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  auto store = open_rocksdb(path, true);
  // Every transfer ended, and its outcome is what the accounts show.
  std::map<int, std::int64_t> expected;
  std::int64_t deposited = 0;
  for (int i = 0; i < transfer_plan::accounts; ++i) {
    expected[i] = transfer_plan::closed(i) ? 0 : transfer_plan::funding;
    deposited += expected[i];
  }
  int completed = 0;
  int refunded = 0;
  for (int i = 0; i < transfer_plan::transfers; ++i) {
    auto planned = transfer_plan::transfer(i);
    auto state = fold_stored<transfer>(*store, planned.id);
    INFO("transfer " << i << " is " << to_string(state.status));
    REQUIRE((state.status == transfer_status::completed
             || state.status == transfer_status::refunded));
    CHECK(state.amount == planned.amount);
    if (state.status == transfer_status::completed) {
      ++completed;
      expected[planned.from] -= planned.amount;
      expected[planned.to] += planned.amount;
      CHECK_FALSE(transfer_plan::closed(planned.to));
    } else {
      ++refunded;
      CHECK(transfer_plan::closed(planned.to));
    }
  }
  CHECK(completed > 0);
  CHECK(refunded > 0);
  std::int64_t total = 0;
  for (int i = 0; i < transfer_plan::accounts; ++i) {
    std::vector<event_record> records;
    auto account = fold_stored<bank::account>(*store, transfer_plan::account(i), &records);
    INFO("account " << i);
    CHECK(account.balance == expected[i]);
    total += account.balance;
    // No command applied twice: every event's command id is distinct.
    std::set<uuid> commands;
    for (const auto& record : records) {
      REQUIRE_FALSE(record.command_id.is_nil());
      CHECK(commands.insert(record.command_id).second);
    }
  }
  CHECK(total == deposited);
  // The projection, killed with the rest, shows the same money.
  view_reader<accounts_by_owner> view{std::shared_ptr<event_store>{store.get(), [](event_store*) {}}};
  auto sums = totals(view);
  REQUIRE(sums.ok());
  CHECK(sums->balance == deposited);
  CHECK(sums->open_accounts == 90);
  auto checkpoint = view.checkpoint();
  REQUIRE(checkpoint.ok());
  CHECK((*checkpoint)->position == *store->last_position());
  auto report = verify(*store);
  CHECK(report.ok());
}
