// Bad input at the storage layer: paths that cannot be opened, corrupt records.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

#include <rocksdb/db.h>

#include "cafes/storage/rocksdb_layout.hpp"
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

TEST_CASE("a database already open is refused, and the holder keeps working",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto first = rocksdb_store::open(options);
  REQUIRE(first.ok());
  auto entity = uuid::random();
  REQUIRE((*first)->append(make_append(entity, 0)).ok());
  auto second = rocksdb_store::open(options);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ec::storage_unavailable);
  CHECK_THAT(second.error().message, Catch::Contains("lock"));
  CHECK(*(*first)->append(make_append(entity, 1)) == 2);
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
