// Durability: a process killed at an arbitrary moment, while it flushes and
// compacts, loses no acknowledged command, with the WAL synced or not.

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cafes/storage/rocksdb_store.hpp"
#include "crash_accounts.hpp"
#include "temp_dir.hpp"

extern char** environ;

using namespace cafes;
using namespace cafes::testing;

namespace {

std::size_t table_files(const std::string& directory) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator{directory})
    count += entry.path().extension() == ".sst" ? 1 : 0;
  return count;
}

} // namespace

TEST_CASE("a process killed mid-stream loses no acknowledged command",
          "[actors][durability]") {
  temp_dir dir;
  auto path = dir.sub("db");
  bool sync = GENERATE(true, false);
  CAPTURE(sync);
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  // A fresh process (fork + exec), not a fork of this one: a forked child
  // keeps none of the threads of RocksDB's pools that this test process
  // already started, so it could never flush or compact.
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, pipe_ends[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_addclose(&actions, pipe_ends[0]);
  std::string program = CAFES_CRASH_WRITER;
  std::string sync_arg = sync ? "1" : "0";
  char* argv[] = {program.data(), path.data(), sync_arg.data(), nullptr};
  pid_t child = 0;
  auto spawned = ::posix_spawn(&child, program.c_str(), &actions, nullptr, argv, environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_ends[1]);
  REQUIRE(spawned == 0);
  // Highest acknowledged version per account. Acks written before the kill
  // stay in the pipe, so reading on to the end sees every one of them.
  std::map<std::uint64_t, std::uint64_t> acknowledged;
  std::uint64_t acks = 0;
  std::size_t tables_at_kill = 0;
  bool killed = false;
  FILE* report = ::fdopen(pipe_ends[0], "r");
  REQUIRE(report != nullptr);
  unsigned long long account = 0;
  unsigned long long version = 0;
  while (std::fscanf(report, "%llu %llu", &account, &version) == 2) {
    acknowledged[account] = std::max<std::uint64_t>(acknowledged[account], version);
    // Killed once the child has flushed a few memtables (so compactions
    // run too), checked every 1,000 acks.
    if (!killed && ++acks % 1'000 == 0 && acks >= 5'000
        && (tables_at_kill = table_files(path)) >= 4)
      killed = ::kill(child, SIGKILL) == 0;
  }
  std::fclose(report);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(killed);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  CHECK(tables_at_kill >= 4);

  rocksdb_options options;
  options.path = path;
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  REQUIRE(acknowledged.size() == crash_writers * crash_accounts_per_writer);
  for (const auto& [index, highest] : acknowledged) {
    INFO("account " << index << " acknowledged up to version " << highest);
    auto events = (*store)->read(crash_account_id(index));
    REQUIRE(events.ok());
    // Everything acknowledged is there, in order and without a gap; at
    // most one command per account may be stored without its ack having
    // been reported before the kill.
    CHECK(events->size() >= highest);
    CHECK(events->size() <= highest + 1);
    CHECK(*(*store)->head(crash_account_id(index)) == events->size());
    for (std::size_t i = 0; i < events->size(); ++i)
      CHECK((*events)[i].version == i + 1);
  }
}
