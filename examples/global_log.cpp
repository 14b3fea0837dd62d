// The global log and idempotent commands: every stored event has a position
// across all entities; a command sent twice with one id is applied once.
// (The README shows this file.)

#include <cstdio>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes_samples/bank_account.hpp"

using namespace cafes;
using namespace cafes_samples;

int main(int argc, char** argv) {
  CLI::App cli{"global_log: the global log and an idempotent command (no options)"};
  if (auto code = tools::parse(cli, argc, argv)) // any argument: exit 2
    return *code;
  rocksdb_options options;
  options.in_memory = true;
  auto opened = rocksdb_store::open(options);
  if (!opened)
    return 3;
  std::shared_ptr<event_store> store = std::move(*opened);
  application app{store};
  auto accounts = app.entities<bank::account>();

  auto ada = accounts.create(bank::open{"ada"});                     // position 1
  auto bob = accounts.create(bank::open{"bob"});                     // position 2
  command_ids pay{uuid::random(), {}, {}};                           // the client's id
  accounts.execute(ada, bank::deposit{100}, pay);                    // position 3
  auto again = accounts.execute(ada.id, bank::deposit{100}, pay);    // not applied again
  accounts.execute(bob, bank::deposit{5});                           // position 4

  // Read the log from the start, 100 at a time; only bank accounts' events.
  log_filter filter{{std::string{bank::account::name}}, {}};
  std::uint64_t after = 0;
  int seen = 0;
  for (;;) {
    auto page = store->read_all(after, 100, filter);
    if (!page)
      return 1;
    for (const auto& event : page->events) {
      std::printf("%llu %s v%llu %s\n", (unsigned long long)event.position,
                  to_string(event.entity).c_str(), (unsigned long long)event.version,
                  event.type.c_str());
      ++seen;
    }
    if (page->next_after == after)
      break; // nothing more stored
    after = page->next_after;
  }
  std::printf("repeated deposit: version %llu, balance %lld\n",
              (unsigned long long)again.command_version, (long long)again.state.balance);
  return seen == 4 && again.command_version == 2 && again.state.balance == 100 ? 0 : 1;
}
