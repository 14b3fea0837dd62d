// The transfer crash test's child: opens (or reopens) a bank on disk with
// sync on, runs the transfer process manager and the accounts projection,
// requests every transfer of a fixed, seeded plan from 8 client threads,
// then waits until each one has ended. Prints "requested N" as it goes and
// "done" at the end. Killed with SIGKILL and started again, it goes on:
// every id is derived from the plan, so repeats are not applied twice.
//
// Usage: cafes_transfer_worker DB_DIR

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "bank_example/accounts_by_owner.hpp"
#include "bank_example/transfer.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "transfer_plan.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace bank_example;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cafes_transfer_worker DB_DIR\n");
    return 2;
  }
  rocksdb_options options;
  options.path = argv[1];
  options.sync = true;
  auto opened = rocksdb_store::open(options);
  if (!opened) {
    std::fprintf(stderr, "error: %s\n", to_string(opened.error()).c_str());
    return 3;
  }
  std::shared_ptr<event_store> store{std::move(*opened)};
  try {
    application app{store};
    auto accounts_view = app.run_projection<accounts_by_owner>();
    auto manager = std::make_unique<process_manager_runner>(
      app, erase_process_manager<transfer_manager>());
    auto accounts = app.entities<bank::account>();
    for (int i = 0; i < transfer_plan::accounts; ++i) {
      auto id = transfer_plan::account(i);
      accounts.execute(id, bank::open{"owner" + std::to_string(i % 7)},
                       command_ids{transfer_plan::step_id("open", i)});
      if (transfer_plan::closed(i))
        accounts.execute(id, bank::close{}, command_ids{transfer_plan::step_id("close", i)});
      else
        accounts.execute(id, bank::deposit{transfer_plan::funding},
                         command_ids{transfer_plan::step_id("fund", i)});
    }
    std::atomic<int> requested{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < transfer_plan::threads; ++t)
      clients.emplace_back([&, t] {
        auto transfers = app.entities<transfer>();
        for (int i = t; i < transfer_plan::transfers; i += transfer_plan::threads) {
          auto planned = transfer_plan::transfer(i);
          transfers.execute(planned.id,
                            request_transfer{transfer_plan::account(planned.from),
                                             transfer_plan::account(planned.to), planned.amount},
                            command_ids{transfer_plan::step_id("request", i)});
          auto n = ++requested;
          if (n % 500 == 0) {
            std::printf("requested %d\n", n);
            std::fflush(stdout);
          }
        }
      });
    for (auto& client : clients)
      client.join();
    // Every transfer ends: wait for the process manager, which appends the
    // next steps, until nothing is left to react to.
    for (int i = 0; i < transfer_plan::transfers; ++i) {
      auto state = await_transfer(app, *manager, transfer_plan::transfer(i).id,
                                  std::chrono::seconds{60});
      if (!ended(state.status)) {
        std::fprintf(stderr, "error: transfer %d is still %s\n", i,
                     std::string{to_string(state.status)}.c_str());
        return 1;
      }
    }
    caf::scoped_actor self{app.system()};
    bool caught_up = false;
    self->request(accounts_view, std::chrono::seconds{60}, wait_atom::value, std::uint64_t{0})
      .receive([&](std::uint64_t) { caught_up = true; }, [](caf::error&) {});
    if (!caught_up) {
      std::fprintf(stderr, "error: the accounts projection did not catch up\n");
      return 1;
    }
    manager.reset();
    std::printf("done\n");
    std::fflush(stdout);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
