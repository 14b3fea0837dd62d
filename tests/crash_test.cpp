// Durability: a process killed at an arbitrary moment loses no acknowledged
// command, with the WAL synced or not.

#include <catch2/catch.hpp>

#include <array>
#include <csignal>
#include <map>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

#include "cafes/actors/application.hpp"
#include "cafes/domain/bank_account.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;

namespace {

constexpr std::uint64_t writers = 4;
constexpr std::uint64_t accounts_per_writer = 8;

entity_id account_id(std::uint64_t index) {
  return uuid{0xC4A5'0000'0000'0001ULL, index};
}

/// One acknowledgement, as the child reports it: account and new version.
struct ack {
  std::uint64_t account = 0;
  std::uint64_t version = 0;
};

/// The child: an application on `options` where `writers` threads deposit
/// into their own accounts, each reporting every acknowledged command on
/// `report` (one write per ack: atomic, it is shorter than PIPE_BUF).
/// Runs until killed.
[[noreturn]] void deposit_until_killed(const rocksdb_options& options, int report) {
  auto store = rocksdb_store::open(options);
  if (!store)
    ::_exit(3);
  application app{std::shared_ptr<event_store>{std::move(*store)}};
  std::vector<std::thread> threads;
  for (std::uint64_t w = 0; w < writers; ++w)
    threads.emplace_back([&app, report, w] {
      auto accounts = app.entities<bank::account>();
      std::vector<copy<bank::account>> mine;
      for (std::uint64_t i = 0; i < accounts_per_writer; ++i) {
        auto index = w * accounts_per_writer + i;
        mine.push_back(accounts.create(account_id(index), bank::open{"owner"}));
        ack a{index, mine.back().version};
        if (::write(report, &a, sizeof a) != sizeof a)
          ::_exit(4);
      }
      for (std::uint64_t n = 0;; ++n) {
        auto& account = mine[n % mine.size()];
        accounts.execute(account, bank::deposit{1});
        ack a{w * accounts_per_writer + n % mine.size(), account.version};
        if (::write(report, &a, sizeof a) != sizeof a)
          ::_exit(4);
      }
    });
  for (auto& t : threads)
    t.join();
  ::_exit(5); // not reached: the writers only end with the process
}

} // namespace

TEST_CASE("a process killed mid-stream loses no acknowledged command",
          "[actors][durability]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = GENERATE(true, false);
  CAPTURE(options.sync);
  int pipe_ends[2];
  REQUIRE(::pipe(pipe_ends) == 0);
  auto child = ::fork(); // this test process has no other thread to lose
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_ends[0]);
    deposit_until_killed(options, pipe_ends[1]);
  }
  ::close(pipe_ends[1]);
  // Highest acknowledged version per account. Acks written before the kill
  // stay in the pipe, so reading on to the end sees every one of them.
  std::map<std::uint64_t, std::uint64_t> acknowledged;
  std::uint64_t acks = 0;
  bool killed = false;
  ack a;
  while (::read(pipe_ends[0], &a, sizeof a) == sizeof a) {
    acknowledged[a.account] = std::max(acknowledged[a.account], a.version);
    if (++acks == 3'000 && !killed)
      killed = ::kill(child, SIGKILL) == 0;
  }
  ::close(pipe_ends[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(killed);
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);

  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  REQUIRE(acknowledged.size() == writers * accounts_per_writer);
  for (const auto& [account, version] : acknowledged) {
    INFO("account " << account << " acknowledged up to version " << version);
    auto events = (*store)->read(account_id(account));
    REQUIRE(events.ok());
    // Everything acknowledged is there, in order and without a gap; at
    // most one command per account may be stored without its ack having
    // been reported before the kill.
    CHECK(events->size() >= version);
    CHECK(events->size() <= version + 1);
    CHECK(*(*store)->head(account_id(account)) == events->size());
    for (std::size_t i = 0; i < events->size(); ++i)
      CHECK((*events)[i].version == i + 1);
  }
}
