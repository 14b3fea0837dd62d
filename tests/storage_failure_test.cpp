// Bad input at the storage layer: paths that cannot be opened, a full disk,
// corrupt records.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <fstream>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>

#include "cafes/storage/rocksdb_layout.hpp"
#include "failing_sync.hpp"
#include "file_size_limit.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;

namespace {

/// Creates a database at `options.path` holding `count` events of `entity`,
/// and closes it.
void create_database(const rocksdb_options& options, const entity_id& entity,
                     std::size_t count) {
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  REQUIRE((*store)->append(make_append(entity, 0, count)).ok());
}

} // namespace

TEST_CASE("a disk that refuses writes fails the append and loses no acknowledged one",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = GENERATE(true, false);
  CAPTURE(options.sync);
  auto entity = uuid::random();
  std::uint64_t acknowledged = 0;
  std::optional<failure> refused;
  {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    for (; acknowledged < 10; ++acknowledged)
      REQUIRE((*store)->append(make_append(entity, acknowledged)).ok());
    {
      file_size_limit limit{largest_file_size(options.path) + 16 * 1024};
      REQUIRE(limit.applied());
      for (int attempt = 0; attempt < 10'000 && !refused; ++attempt) {
        auto version = (*store)->append(make_append(entity, acknowledged));
        if (version) {
          REQUIRE(*version == acknowledged + 1);
          ++acknowledged;
        } else {
          refused = version.error();
        }
      }
    }
    REQUIRE(refused.has_value());
    CHECK(refused->code == ec::storage_failure);
    CHECK_THAT(refused->message, Catch::Contains(to_string(entity)));
    CHECK(acknowledged > 10); // the limit left room for some appends
    // With room again the store reopens its database by itself (RocksDB
    // does not resume after a failed WAL write) and writes again.
    CHECK(*(*store)->head(entity) == acknowledged);
    REQUIRE(*(*store)->append(make_append(entity, acknowledged)) == acknowledged + 1);
    ++acknowledged;
    CHECK(*(*store)->head(entity) == acknowledged);
  }
  auto reopened = rocksdb_store::open(options);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->head(entity) == acknowledged);
  auto events = (*reopened)->read(entity);
  REQUIRE(events.ok());
  REQUIRE(events->size() == acknowledged);
  for (std::uint64_t i = 0; i < acknowledged; ++i) {
    CHECK((*events)[i].version == i + 1);
    CHECK(std::string((*events)[i].payload.begin(), (*events)[i].payload.end())
          == "event " + std::to_string(i + 1));
  }
  CHECK(*(*reopened)->append(make_append(entity, acknowledged)) == acknowledged + 1);
}

TEST_CASE("a store whose reopen after a failed write fails says so, and creates "
          "no new database",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  std::uint64_t acknowledged = 0;
  {
    file_size_limit limit{largest_file_size(options.path) + 16 * 1024};
    REQUIRE(limit.applied());
    while (acknowledged < 10'000 && (*store)->append(make_append(entity, acknowledged)))
      ++acknowledged;
  }
  REQUIRE(acknowledged < 10'000); // a write failed
  // The database goes away (say, its disk is unmounted) before the reopen.
  std::filesystem::rename(options.path, dir.sub("away"));
  auto refused = (*store)->append(make_append(entity, acknowledged));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_failure);
  CHECK_THAT(refused.error().message, Catch::Contains("reopening it failed"));
  auto head = (*store)->head(entity);
  REQUIRE_FALSE(head.ok());
  CHECK(head.error().code == ec::storage_unavailable);
  // RocksDB's failed open leaves only its LOCK and LOG files: no database.
  CHECK_FALSE(std::filesystem::exists(dir.sub("db/CURRENT")));
  store = failure::make(ec::none, "closed"); // drops the store
  std::filesystem::remove_all(options.path);
  std::filesystem::rename(dir.sub("away"), options.path);
  auto reopened = rocksdb_store::open(options);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->head(entity) == acknowledged);
}

TEST_CASE("a database path with a missing parent is refused", "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("missing/parent/db");
  auto store = rocksdb_store::open(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ec::storage_unavailable);
  CHECK_THAT(store.error().message, Catch::Contains(options.path));
  CHECK_FALSE(std::filesystem::exists(dir.sub("missing")));
}

TEST_CASE("a database path under a file or without permission is refused",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  if (::geteuid() == 0) {
    // root ignores permissions: a regular file as parent fails for everyone.
    std::ofstream{dir.sub("file")} << "not a directory";
    options.path = dir.sub("file/db");
  } else {
    std::filesystem::create_directory(dir.sub("locked"));
    std::filesystem::permissions(dir.sub("locked"), std::filesystem::perms::none);
    options.path = dir.sub("locked/db");
  }
  auto store = rocksdb_store::open(options);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ec::storage_unavailable);
  CHECK_THAT(store.error().message, Catch::Contains("cannot open database"));
}

TEST_CASE("a database already open is refused under any spelling of its path, and "
          "the holder keeps working",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto first = rocksdb_store::open(options);
  REQUIRE(first.ok());
  auto entity = uuid::random();
  REQUIRE((*first)->append(make_append(entity, 0)).ok());
  std::filesystem::create_directory_symlink(options.path, dir.sub("link"));
  std::filesystem::create_directory(dir.sub("sub"));
  for (auto spelling : {options.path, options.path + "/", options.path + "/.",
                        dir.sub("./db"), dir.sub("sub/../db"), dir.sub("link")}) {
    CAPTURE(spelling);
    auto again = options;
    again.path = spelling;
    auto second = rocksdb_store::open(again);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().code == ec::storage_unavailable);
    CHECK_THAT(second.error().message,
               Catch::Contains(spelling) && Catch::Contains("open already"));
  }
  CHECK(*(*first)->append(make_append(entity, 1)) == 2);
  first = failure::make(ec::none, "closed"); // closes the store
  auto other_spelling = options;
  other_spelling.path = dir.sub("link");
  auto reopened = rocksdb_store::open(other_spelling);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->head(entity) == 2);
  CHECK((*reopened)->read(entity)->size() == 2);
}

TEST_CASE("a database locked by another process is refused, nothing written",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  create_database(options, entity, 1);
  // The child takes RocksDB's lock (a POSIX write lock on LOCK) the way an
  // open database in another process holds it, using only system calls
  // that are safe after fork.
  int ready[2];
  int release[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(release) == 0);
  auto lock_path = dir.sub("db/LOCK");
  auto child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ready[0]);
    ::close(release[1]); // else the read below never sees the end
    int fd = ::open(lock_path.c_str(), O_RDWR);
    struct flock lock{};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    char status = fd >= 0 && ::fcntl(fd, F_SETLK, &lock) == 0 ? 'y' : 'n';
    [[maybe_unused]] auto written = ::write(ready[1], &status, 1);
    char done;
    [[maybe_unused]] auto got = ::read(release[0], &done, 1);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char status = 'n';
  auto got = ::read(ready[0], &status, 1);
  auto second = rocksdb_store::open(options);
  ::close(release[1]); // lets the child end
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  REQUIRE(got == 1);
  REQUIRE(status == 'y');
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ec::storage_unavailable);
  CHECK_THAT(second.error().message,
             Catch::Contains(options.path) && Catch::Contains("lock"));
  auto reopened = rocksdb_store::open(options); // the lock is gone with the child
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->head(entity) == 1);
}

TEST_CASE("a corrupt stored record gives a decode error naming entity and version",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  create_database(options, entity, 3);
  SECTION("a record with an unknown format") {
    std::unique_ptr<rocksdb::DB> raw;
    {
      rocksdb::DB* db = nullptr;
      REQUIRE(rocksdb::DB::Open(rocksdb::Options{}, options.path, &db).ok());
      raw.reset(db);
    }
    REQUIRE(raw->Put({}, rocksdb_layout::event_key(entity, 2), "\x07garbage").ok());
    raw.reset();
  }
  SECTION("a truncated record") {
    std::unique_ptr<rocksdb::DB> raw;
    {
      rocksdb::DB* db = nullptr;
      REQUIRE(rocksdb::DB::Open(rocksdb::Options{}, options.path, &db).ok());
      raw.reset(db);
    }
    REQUIRE(raw->Put({}, rocksdb_layout::event_key(entity, 2), "\x01short").ok());
    raw.reset();
  }
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  auto events = (*store)->read(entity);
  REQUIRE_FALSE(events.ok());
  CHECK(events.error().code == ec::decode_failure);
  CHECK_THAT(events.error().message, Catch::Contains(to_string(entity))
                                       && Catch::Contains("version 2"));
  // The intact prefix of the history is still readable.
  CHECK((*store)->read(entity, 1, 1)->size() == 1);
}

TEST_CASE("a failed WAL sync is reported as an unknown outcome, and the store tells "
          "the truth after it",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = true;
  auto entity = uuid::random();
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  REQUIRE(*(*store)->append(make_append(entity, 0, 3)) == 3);
  auto request = make_append(entity, 3);
  {
    failing_sync failing;
    auto outcome = (*store)->append(request);
    REQUIRE_FALSE(outcome.ok());
    // Not "storage_failure, nothing written": the record reached the log.
    CHECK(outcome.error().code == ec::unknown_outcome);
    CHECK_THAT(outcome.error().message,
               Catch::Contains(to_string(entity)) && Catch::Contains("may or may not"));
  }
  // A read right after it reopens the database, which replays the log:
  // the "failed" event is there, so the honest answer was "unknown", and
  // every read says so (before the reopen, the head and the global log
  // still said 3).
  CHECK(*(*store)->head(entity) == 4);
  CHECK(*(*store)->last_position() == 4);
  // So does the next append.
  auto retried = (*store)->append(make_append(entity, 3));
  REQUIRE_FALSE(retried.ok());
  CHECK(retried.error().code == ec::conflict);
  CHECK(retried.error().actual_version == 4);
  auto events = (*store)->read(entity);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 4);
  CHECK(events->back().id == request.events.front().id);
  // It kept its global position too, and the log goes on after it: the
  // reopen reloaded the last position (an in-memory counter left at 3 would
  // hand position 4 out again).
  CHECK(events->back().position == 4);
  CHECK(*(*store)->last_position() == 4);
  auto other = uuid::random();
  REQUIRE((*store)->append(make_append(other, 0)).ok());
  auto log = (*store)->read_all(0, 10);
  REQUIRE(log.ok());
  REQUIRE(log->events.size() == 5);
  for (std::size_t i = 0; i < log->events.size(); ++i)
    CHECK(log->events[i].position == i + 1);
  CHECK(log->events[3].id == request.events.front().id);
  CHECK(log->events[4].entity == other);
}
