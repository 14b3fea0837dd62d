// The child of the crash test, run as a fresh process (fork + exec), so
// that RocksDB starts its own background threads: an application on disk
// where 4 threads deposit into their own accounts until the process is
// killed, each acknowledged command reported on stdout as one line
// "account version" (one write, shorter than PIPE_BUF: atomic).
// Usage: crash_writer DIR SYNC(0|1). Exit codes: 2 usage, 3 open failed,
// 4 report failed.

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
#include <unistd.h>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes_samples/bank_account.hpp"
#include "crash_accounts.hpp"

using namespace cafes;
using namespace cafes_samples;

namespace {

void report(std::uint64_t account, std::uint64_t version) {
  char line[64];
  int size = std::snprintf(line, sizeof line, "%llu %llu\n",
                           static_cast<unsigned long long>(account),
                           static_cast<unsigned long long>(version));
  if (::write(STDOUT_FILENO, line, static_cast<std::size_t>(size)) != size)
    ::_exit(4);
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[2], "0") != 0 && std::strcmp(argv[2], "1") != 0)) {
    std::fprintf(stderr, "usage: crash_writer DIR 0|1\n");
    return 2;
  }
  rocksdb_options options;
  options.path = argv[1];
  options.sync = std::strcmp(argv[2], "1") == 0;
  // Small memtables: the run flushes and compacts while it is killed.
  options.write_buffer_bytes = 128 * 1024;
  auto store = rocksdb_store::open(options);
  if (!store) {
    std::fprintf(stderr, "%s\n", to_string(store.error()).c_str());
    return 3;
  }
  application app{std::shared_ptr<event_store>{std::move(*store)}};
  std::vector<std::thread> threads;
  for (std::uint64_t w = 0; w < testing::crash_writers; ++w)
    threads.emplace_back([&app, w] {
      auto accounts = app.entities<bank::account>();
      std::vector<copy<bank::account>> mine;
      for (std::uint64_t i = 0; i < testing::crash_accounts_per_writer; ++i) {
        auto index = w * testing::crash_accounts_per_writer + i;
        mine.push_back(accounts.create(testing::crash_account_id(index),
                                       bank::open{std::string(40, 'o')}));
        report(index, mine.back().version);
      }
      for (std::uint64_t n = 0;; ++n) {
        auto& account = mine[n % mine.size()];
        accounts.execute(account, bank::deposit{1});
        report(w * testing::crash_accounts_per_writer + n % mine.size(), account.version);
      }
    });
  for (auto& t : threads)
    t.join(); // never: the writers end with the process
  return 5;
}
