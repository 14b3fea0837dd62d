// Quickstart: a bank account served by an entity actor; a stale command gets
// a conflict, a rule breach a rejection. (The README shows this file.)

#include <cstdio>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes_samples/bank_account.hpp"

using namespace cafes;
using namespace cafes_samples;

int main(int argc, char** argv) {
  CLI::App cli{"quickstart: a conflict and a rejection on a bank account (no options)"};
  if (auto code = tools::parse(cli, argc, argv)) // any argument: exit 2
    return *code;
  rocksdb_options options;
  options.in_memory = true; // like sqlite's :memory:; give .path for a directory
  auto store = rocksdb_store::open(options);
  if (!store)
    return 3;
  application app{std::move(*store)};
  auto accounts = app.entities<bank::account>();

  auto mine = accounts.create(bank::open{"ada"});       // version 1
  auto stale = accounts.get(mine.id);                   // another copy
  accounts.execute(mine, bank::deposit{100});           // version 2
  try {
    accounts.execute(stale, bank::withdraw{50});        // copy is at 1
    return 1;
  } catch (const concurrency_error& e) {
    std::printf("conflict: expected %llu, actual %llu\n",
                (unsigned long long)e.expected_version(),
                (unsigned long long)e.actual_version());
  }
  try {
    accounts.execute(mine, bank::withdraw{500});        // more than the balance
    return 1;
  } catch (const cafes_error& e) {
    std::printf("rejected: %s\n", e.details().message.c_str());
  }
  std::printf("balance %lld at version %llu\n", (long long)mine.state.balance,
              (unsigned long long)mine.version);
  return mine.state.balance == 100 && mine.version == 2 ? 0 : 1;
}
