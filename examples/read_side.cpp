// The read side: a projection (open accounts by owner, total balance)
// queried right after a write (read-your-writes), and money transfers run
// by a process manager, one of them refunded. (The README shows this file.)

#include <chrono>
#include <cstdio>

#include "bank_example/accounts_by_owner.hpp"
#include "bank_example/transfer.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace bank_example;

namespace {

/// Requests a transfer and waits (up to 10 s) until it has ended.
transfer_state run_transfer(application& app, process_manager_runner& transfers,
                            const entity_id& from, const entity_id& to, std::int64_t amount) {
  auto requested = app.entities<transfer>().create(request_transfer{from, to, amount});
  return await_transfer(app, transfers, requested.id, std::chrono::seconds{10});
}

void print_owner(const view_reader<accounts_by_owner>& view, const char* owner) {
  std::int64_t sum = 0;
  auto accounts = accounts_of(view, owner);
  for (const auto& account : *accounts)
    sum += account.balance;
  std::printf("%s: %zu open accounts, balance %lld\n", owner, accounts->size(), (long long)sum);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App cli{"read_side: a projection, read-your-writes and transfers (no options)"};
  if (auto code = tools::parse(cli, argc, argv)) // any argument: exit 2
    return *code;
  rocksdb_options options;
  options.in_memory = true;
  auto opened = rocksdb_store::open(options);
  if (!opened)
    return 3;
  application app{std::move(*opened)};
  app.run_projection<accounts_by_owner>();                   // rebuilt from 0 if new
  process_manager_runner transfers{app, erase_process_manager<transfer_manager>()};
  auto accounts = app.entities<bank::account>();
  auto view = app.view<accounts_by_owner>();
  read_your_writes seen{{std::string{accounts_by_owner::name}}};

  auto ada = accounts.create(bank::open{"ada"});
  accounts.execute(ada, bank::deposit{100}, {}, seen);       // answered once projected
  auto savings = accounts.create(bank::open{"ada"});
  accounts.execute(savings, bank::deposit{50}, {}, seen);
  auto bob = accounts.create(bank::open{"bob"});
  auto carol = accounts.create(bank::open{"carol"});
  accounts.execute(carol, bank::close{}, {}, seen);
  print_owner(view, "ada");                                   // sees both deposits

  auto paid = run_transfer(app, transfers, ada.id, bob.id, 30);
  auto returned = run_transfer(app, transfers, ada.id, carol.id, 20);
  std::printf("ada -> bob 30: %s\n", std::string{to_string(paid.status)}.c_str());
  std::printf("ada -> carol 20: %s (%s)\n", std::string{to_string(returned.status)}.c_str(),
              returned.reason.c_str());
  accounts.execute(bob.id, bank::deposit{1}, {}, seen);       // the view is past the transfers
  print_owner(view, "ada");
  print_owner(view, "bob");
  auto sums = totals(view);
  std::printf("all: %lld open accounts, balance %lld\n", (long long)sums->open_accounts,
              (long long)sums->balance);
  return paid.status == transfer_status::completed
             && returned.status == transfer_status::refunded && sums->balance == 151
           ? 0
           : 1;
}
