// The storage layer's error contract: every code event_store.hpp documents
// for a function is produced here, or by the existing test named below, on
// every store where the situation exists (the memory store has no disk, no
// locks and no encoding: it gives only conflict, duplicate_command and
// invalid_argument). [all] marks tests run on the memory store and RocksDB
// (in memory and on disk); the others run on RocksDB on disk.
//
// function             code                 test (this file unless named)
// -------------------  -------------------  -----------------------------------------
// append               conflict             [all] storage_contract_test.cpp 'a stale
//                                           expected version conflicts with the actual
//                                           version'
//                      invalid_argument     [all] 'every store refuses a malformed request
//                                           ...'
//                      duplicate_command    [all] storage_contract_test.cpp 'a command id
//                                           is applied once: ...'
//                      decode_failure       'a corrupt record gives decode_failure ...'
//                                           (head, command record); store_damage_test.cpp
//                                           'a head that disagrees with the stored events
//                                           is reported as damage of that entity'
//                      storage_failure      storage_failure_test.cpp 'a disk that refuses
//                                           writes ...'; 'a read error is storage_failure
//                                           ...'; 'a damaged block ...'
//                      unknown_outcome      storage_failure_test.cpp 'a failed WAL sync is
//                                           reported as an unknown outcome, ...'
//                      timeout              'a lock held too long gives timeout ...'
//                      storage_unavailable  'a read-only RocksDB store refuses writes ...'
// append_batch         conflict             [all] 'every store refuses a malformed
//                                           request ...'
//                      invalid_argument     [all] 'every store refuses a malformed
//                                           request ...'
//                      duplicate_command    [all] storage_contract_test.cpp 'a command id
//                                           is applied once: ...'
//                      decode_failure       'a corrupt record gives decode_failure ...'
//                      storage_failure      'a store closed after a failed reopen ...';
//                                           'a read error is storage_failure ...'
//                      unknown_outcome      'a failed sync under a group commit ...'
//                      timeout              'a lock held too long gives timeout ...'
//                      storage_unavailable  'a read-only RocksDB store refuses writes ...'
// read                 decode_failure       storage_failure_test.cpp 'a corrupt stored
//                                           record gives a decode error ...'; store_damage_
//                                           test.cpp 'a head that disagrees ...'; 'a corrupt
//                                           record ...' (head); 'a damaged block ...'
//                      storage_failure      'a read error is storage_failure ...'
//                      storage_unavailable  'a store closed after a failed reopen ...'
// head, list_entities, decode_failure       'a corrupt record ...' (head, find_command,
// read_all,                                 read_all); 'a damaged block ...' (all four,
// find_command,                             and last_position)
// last_position        storage_failure      'a read error is storage_failure ...'
//                      storage_unavailable  'a store closed after a failed reopen ...'
// read_view_checkpoint invalid_argument     [all] 'every store refuses a malformed
//                                           request ...'
// read_view, scan_view decode_failure       'a corrupt record ...' (damaged checkpoint,
//                                           another view's); 'a damaged block ...'
//                      storage_failure      'a read error is storage_failure ...'
//                      storage_unavailable  'a store closed after a failed reopen ...'
// reset_view,          invalid_argument     [all] 'every store refuses a malformed
// commit_view                               request ...'
//                      conflict             [all] view_store_test.cpp 'a view commit from
//                                           a checkpoint that moved writes nothing'
//                      decode_failure       'a corrupt record ...'; 'a damaged block ...'
//                      storage_failure      'a store closed after a failed reopen ...';
//                                           'a read error is storage_failure ...'; 'a
//                                           damaged block ...' (reset_view, stopped)
//                      storage_unavailable  'a read-only RocksDB store refuses writes ...'
//                      timeout              'a lock held too long gives timeout ...'
//                      unknown_outcome      'a failed sync under a view write ...'
// view_reader get/scan decode_failure       [all] 'a view row that does not decode ...'
//                      (the store's codes)  as read_view / scan_view
// rocksdb_store::open  invalid_argument     'rocksdb_store::open refuses bad options ...'
//                      storage_unavailable  storage_failure_test.cpp 'a database path with
//                                           a missing parent is refused', 'a database
//                                           already open is refused ...', 'a database
//                                           locked by another process ...'; store_damage_
//                                           test.cpp 'a write-ahead log corrupt before its
//                                           end ...', 'a database whose CURRENT file is
//                                           missing ...', 'a directory that is not a cafes
//                                           database ...', 'a database of format 1 ...'

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <fstream>
#include <thread>

#include <rocksdb/db.h>

#include "bank_example/accounts_by_owner.hpp"
#include "cafes/storage/rocksdb_layout.hpp"
#include "cafes/storage/view_reader.hpp"
#include "failing_sync.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;
namespace fs = std::filesystem;
namespace layout = rocksdb_layout;

#define STORES memory_fixture, rocksdb_memory_fixture, rocksdb_disk_fixture

namespace {

std::vector<std::uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

view_change put(std::string key, std::string_view value) {
  return view_change{std::move(key), bytes(value)};
}

/// Returns `code` of `outcome`'s error, or ec::none when it succeeded.
template <class T>
ec code_of(const result<T>& outcome) {
  return outcome ? ec::none : outcome.error().code;
}

rocksdb_options disk_options(const std::string& path) {
  rocksdb_options options;
  options.path = path;
  options.sync = false;
  return options;
}

std::unique_ptr<rocksdb_store> open_store(const rocksdb_options& options) {
  auto store = rocksdb_store::open(options);
  INFO((store ? "" : to_string(store.error())));
  REQUIRE(store.ok());
  return std::move(*store);
}

/// Writes into a closed database with plain RocksDB, as damage would.
class raw_database {
public:
  explicit raw_database(const std::string& path) {
    rocksdb::DB* db = nullptr;
    auto status = rocksdb::DB::Open(rocksdb::Options{}, path, &db);
    INFO(status.ToString());
    REQUIRE(status.ok());
    db_.reset(db);
  }
  void put(const std::string& key, const std::string& value) {
    REQUIRE(db_->Put({}, key, value).ok());
  }
  void erase(const std::string& key) { REQUIRE(db_->Delete({}, key).ok()); }

private:
  std::unique_ptr<rocksdb::DB> db_;
};

/// A value no layout decodes: an unknown format byte, then junk.
const std::string garbage{"\xff junk"};

/// What `write_sample` stored: entity `a` has 2 events (the second carries
/// `command`), `b` 1, at positions 1-3; view "v" has one row "row".
struct sample {
  entity_id a = uuid::random();
  entity_id b = uuid::random();
  uuid command = uuid::random();
  view_checkpoint view;
};

sample write_sample(event_store& store) {
  sample out;
  auto first = make_append(out.a, 0, 2);
  first.events[1].command_id = out.command;
  REQUIRE(*store.append(first) == 2);
  REQUIRE(*store.append(make_append(out.b, 0)) == 1);
  auto start = store.reset_view("v", 1, std::nullopt);
  REQUIRE(start.ok());
  auto moved = store.commit_view("v", *start, 3, std::vector{put("row", "1")});
  REQUIRE(moved.ok());
  out.view = *moved;
  return out;
}

/// The table files of `directory`.
std::vector<fs::path> tables_of(const std::string& directory) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator{directory})
    if (entry.path().extension() == ".sst")
      out.push_back(entry.path());
  return out;
}

/// Spoils the first data block of table file `file` (its checksum fails).
void damage_first_block(const fs::path& file) {
  std::fstream f{file, std::ios::in | std::ios::out | std::ios::binary};
  for (std::streamoff offset = 0; offset < 100; offset += 8) {
    f.seekg(offset);
    char c = 0;
    f.get(c);
    f.seekp(offset);
    f.put(static_cast<char>(c ^ 0x5A));
  }
}

} // namespace

// -- every store ---------------------------------------------------------------

TEMPLATE_TEST_CASE("every store refuses a malformed request with invalid_argument before "
                   "looking at what is stored, and writes nothing",
                   "[storage][contract]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(*store.append(make_append(entity, 0)) == 1);
  // An append without events, at the head or at a stale version.
  CHECK(code_of(store.append(make_append(entity, 1, 0))) == ec::invalid_argument);
  CHECK(code_of(store.append(make_append(entity, 0, 0))) == ec::invalid_argument);
  // In a batch it is refused alone; a conflict too.
  auto other = uuid::random();
  auto outcomes = store.append_batch(std::vector<append_request>{
    make_append(entity, 1), make_append(other, 0, 0), make_append(entity, 1),
    make_append(entity, 2)});
  REQUIRE(outcomes.size() == 4);
  CHECK(*outcomes[0] == 2);
  CHECK(code_of(outcomes[1]) == ec::invalid_argument);
  CHECK(code_of(outcomes[2]) == ec::conflict);
  CHECK(*outcomes[3] == 3);
  CHECK(*store.head(other) == 0);
  CHECK(*store.last_position() == 3);
  // Every view function refuses a bad name.
  for (const auto& name : {std::string{}, std::string(max_view_name + 1, 'x')}) {
    CAPTURE(name.size());
    CHECK(code_of(store.read_view_checkpoint(name)) == ec::invalid_argument);
    CHECK(code_of(store.reset_view(name, 1, std::nullopt)) == ec::invalid_argument);
    CHECK(code_of(store.commit_view(name, view_checkpoint{}, 0, {})) == ec::invalid_argument);
    CHECK(code_of(store.read_view(name, "k")) == ec::invalid_argument);
    CHECK(code_of(store.scan_view(name, "", "", 10)) == ec::invalid_argument);
  }
  auto start = *store.reset_view("v", 1, std::nullopt);
  // A position past the log's end, one before the checkpoint, an empty key.
  CHECK(code_of(store.commit_view("v", start, 4, {})) == ec::invalid_argument);
  auto moved = *store.commit_view("v", start, 2, {});
  CHECK(code_of(store.commit_view("v", moved, 1, {})) == ec::invalid_argument);
  CHECK(code_of(store.commit_view("v", moved, 3, std::vector{put("", "1")}))
        == ec::invalid_argument);
  // The request is checked before the checkpoint: an empty key from a
  // stale checkpoint is invalid_argument on every store, not a conflict.
  CHECK(code_of(store.commit_view("v", start, 3, std::vector{put("", "1")}))
        == ec::invalid_argument);
  CHECK(*store.read_view_checkpoint("v") == std::optional{moved});
  CHECK(store.scan_view("v", "", "", 10)->empty());
  // Ranges and limits that hold nothing are empty answers, not errors.
  CHECK(store.read(entity, 3, 2)->empty());
  CHECK(store.read(entity, 0, 1)->size() == 1); // version 0 does not exist
  CHECK(store.read(uuid::random())->empty());
  auto past_end = store.read_all(100, 10);
  REQUIRE(past_end.ok());
  CHECK(past_end->events.empty());
  CHECK(past_end->next_after == 100);
  auto nothing = store.read_all(0, 0);
  REQUIRE(nothing.ok());
  CHECK(nothing->events.empty());
  CHECK(nothing->next_after == 0);
  CHECK(store.list_entities(std::nullopt, 0)->empty());
  CHECK(store.scan_view("v", "", "", 0)->empty());
  CHECK(store.scan_view("never", "", "", 10)->empty());
  CHECK_FALSE(store.read_view("never", "k")->has_value());
  CHECK_FALSE(store.read_view_checkpoint("never")->has_value());
}

TEMPLATE_TEST_CASE("a view row that does not decode is a decode_failure of view_reader, "
                   "naming view and key",
                   "[storage][contract]", STORES) {
  using bank_example::accounts_by_owner;
  TestType fixture;
  auto& store = *fixture.store;
  auto start = store.reset_view(accounts_by_owner::name, accounts_by_owner::version,
                                std::nullopt);
  REQUIRE(start.ok());
  REQUIRE(store.commit_view(accounts_by_owner::name, *start, 0,
                            std::vector{put("owner/ada", "\xff")})
            .ok());
  view_reader<accounts_by_owner> view{fixture.store};
  auto got = view.get("owner/ada");
  REQUIRE_FALSE(got.ok());
  CHECK(got.error().code == ec::decode_failure);
  CHECK_THAT(got.error().message, Catch::Contains(std::string{accounts_by_owner::name})
                                    && Catch::Contains("owner/ada"));
  CHECK(code_of(view.scan("owner/")) == ec::decode_failure);
  CHECK(view.checkpoint().ok());
}

// -- RocksDB: a store that cannot write or read ---------------------------------

TEST_CASE("rocksdb_store::open refuses bad options with invalid_argument, writing nothing",
          "[storage][contract]") {
  temp_dir dir;
  rocksdb_options options;
  CHECK(code_of(rocksdb_store::open(options)) == ec::invalid_argument); // no path
  options.path = dir.sub("db");
  options.write_buffer_bytes = 64 * 1024 - 1;
  CHECK(code_of(rocksdb_store::open(options)) == ec::invalid_argument);
  CHECK_FALSE(fs::exists(options.path));
  options.in_memory = true;
  CHECK(code_of(rocksdb_store::open(options)) == ec::invalid_argument);
}

TEST_CASE("a read-only RocksDB store refuses writes with storage_unavailable and reads",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  sample stored;
  {
    auto store = open_store(options);
    stored = write_sample(*store);
  }
  options.read_only = true;
  auto store = open_store(options);
  CHECK(code_of(store->append(make_append(stored.a, 2))) == ec::storage_unavailable);
  CHECK(code_of(store->append(make_append(uuid::random(), 0))) == ec::storage_unavailable);
  for (const auto& outcome : store->append_batch(std::vector<append_request>{
         make_append(stored.a, 2), make_append(stored.b, 1)}))
    CHECK(code_of(outcome) == ec::storage_unavailable);
  CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::storage_unavailable);
  CHECK(code_of(store->commit_view("v", stored.view, 3, {})) == ec::storage_unavailable);
  // A malformed request is that first.
  CHECK(code_of(store->append(make_append(stored.a, 2, 0))) == ec::invalid_argument);
  CHECK(code_of(store->commit_view("v", stored.view, 3, std::vector{put("", "1")}))
        == ec::invalid_argument);
  // Reads go on.
  CHECK(store->read(stored.a)->size() == 2);
  CHECK(*store->head(stored.a) == 2);
  CHECK(store->list_entities(std::nullopt, 10)->size() == 2);
  CHECK(store->read_all(0, 10)->events.size() == 3);
  CHECK(*store->find_command(stored.a, stored.command) == std::optional<std::uint64_t>{2});
  CHECK(*store->last_position() == 3);
  CHECK(*store->read_view_checkpoint("v") == std::optional{stored.view});
  CHECK(*store->read_view("v", "row") == std::optional{bytes("1")});
  CHECK(store->scan_view("v", "", "", 10)->size() == 1);
}

TEST_CASE("a store closed after a failed reopen gives storage_unavailable for reads and "
          "storage_failure for writes",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  options.sync = true;
  auto store = open_store(options);
  auto stored = write_sample(*store);
  {
    failing_sync failing; // a failed write: the store must reopen its database
    CHECK(code_of(store->append(make_append(stored.b, 1))) == ec::unknown_outcome);
  }
  // The database goes away (an unmounted disk) before the reopen.
  fs::rename(options.path, dir.sub("away"));
  auto refused = store->append(make_append(stored.b, 1));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_failure);
  CHECK_THAT(refused.error().message, Catch::Contains("reopening it failed"));
  // Writes keep saying why (the next reopen is due in a second at most).
  for (const auto& outcome : store->append_batch(std::vector<append_request>{
         make_append(stored.a, 2), make_append(uuid::random(), 0)}))
    CHECK(code_of(outcome) == ec::storage_failure);
  CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::storage_failure);
  CHECK(code_of(store->commit_view("v", stored.view, 3, {})) == ec::storage_failure);
  // Every read says the database is closed.
  CHECK(code_of(store->read(stored.a)) == ec::storage_unavailable);
  CHECK(code_of(store->head(stored.a)) == ec::storage_unavailable);
  CHECK(code_of(store->list_entities(std::nullopt, 10)) == ec::storage_unavailable);
  CHECK(code_of(store->read_all(0, 10)) == ec::storage_unavailable);
  CHECK(code_of(store->find_command(stored.a, stored.command)) == ec::storage_unavailable);
  CHECK(code_of(store->last_position()) == ec::storage_unavailable);
  CHECK(code_of(store->read_view_checkpoint("v")) == ec::storage_unavailable);
  CHECK(code_of(store->read_view("v", "row")) == ec::storage_unavailable);
  CHECK(code_of(store->scan_view("v", "", "", 10)) == ec::storage_unavailable);
  // Bad arguments are still bad arguments.
  CHECK(code_of(store->read_view("", "row")) == ec::invalid_argument);
  CHECK(code_of(store->append(make_append(stored.a, 2, 0))) == ec::invalid_argument);
}

TEST_CASE("a read error is storage_failure from every function that reads, and passes",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  sample stored;
  {
    auto store = open_store(options);
    stored = write_sample(*store);
  } // the close flushes everything to a table file
  options.block_cache_bytes = 0; // every read goes to the file
  auto store = open_store(options);
  {
    failing_reads failing;
    CHECK(code_of(store->read(stored.a)) == ec::storage_failure);
    CHECK(code_of(store->head(stored.a)) == ec::storage_failure);
    CHECK(code_of(store->list_entities(std::nullopt, 10)) == ec::storage_failure);
    CHECK(code_of(store->read_all(0, 10)) == ec::storage_failure);
    CHECK(code_of(store->find_command(stored.a, stored.command)) == ec::storage_failure);
    CHECK(code_of(store->last_position()) == ec::storage_failure);
    CHECK(code_of(store->read_view_checkpoint("v")) == ec::storage_failure);
    CHECK(code_of(store->read_view("v", "row")) == ec::storage_failure);
    CHECK(code_of(store->scan_view("v", "", "", 10)) == ec::storage_failure);
    // A write's own check reads too: nothing is written.
    auto refused = store->append(make_append(stored.a, 2));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ec::storage_failure);
    CHECK_THAT(refused.error().message, Catch::Contains(to_string(stored.a)));
    auto outcomes = store->append_batch(std::vector<append_request>{make_append(stored.b, 1)});
    CHECK(code_of(outcomes.front()) == ec::storage_failure);
    CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::storage_failure);
    CHECK(code_of(store->commit_view("v", stored.view, 3, {})) == ec::storage_failure);
  }
  // Not damage: once the disk reads again, so does the store, and it writes.
  CHECK(store->read(stored.a)->size() == 2);
  CHECK(*store->append(make_append(stored.a, 2)) == 3);
  CHECK(*store->commit_view("v", stored.view, 4, {}) == view_checkpoint{1, 4, 1});
}

// -- RocksDB: damage ------------------------------------------------------------

TEST_CASE("a corrupt record gives decode_failure from every function that reads it",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  sample stored;
  {
    auto store = open_store(options);
    stored = write_sample(*store);
  }
  auto damage = [&](const std::function<void(raw_database&)>& write) {
    raw_database raw{options.path};
    write(raw);
  }; // closed before the store opens it
  SECTION("a head record") {
    damage([&](raw_database& raw) { raw.put(layout::head_key(stored.a), garbage); });
    auto store = open_store(options);
    auto head = store->head(stored.a);
    REQUIRE_FALSE(head.ok());
    CHECK(head.error().code == ec::decode_failure);
    CHECK_THAT(head.error().message, Catch::Contains(to_string(stored.a)));
    CHECK(code_of(store->read(stored.a)) == ec::decode_failure); // a read to the end
    CHECK(store->read(stored.a, 1, 2)->size() == 2);              // a range needs no head
    CHECK(code_of(store->append(make_append(stored.a, 2))) == ec::decode_failure);
    auto outcomes = store->append_batch(std::vector<append_request>{
      make_append(stored.a, 2), make_append(stored.b, 1)});
    CHECK(code_of(outcomes[0]) == ec::decode_failure);
    CHECK(*outcomes[1] == 2); // the others are not affected
    CHECK(store->read(stored.a, 1, 2)->size() == 2); // nothing was written
  }
  SECTION("a command record") {
    damage([&](raw_database& raw) {
      raw.put(layout::command_key(stored.a, stored.command), garbage);
    });
    auto store = open_store(options);
    auto found = store->find_command(stored.a, stored.command);
    REQUIRE_FALSE(found.ok());
    CHECK(found.error().code == ec::decode_failure);
    CHECK_THAT(found.error().message, Catch::Contains(to_string(stored.a)));
    auto again = make_append(stored.a, 2);
    again.events.front().command_id = stored.command;
    CHECK(code_of(store->append(again)) == ec::decode_failure);
    CHECK(*store->head(stored.a) == 2);
  }
  SECTION("a global log entry") {
    damage([&](raw_database& raw) { raw.put(layout::log_key(2), garbage); });
    auto store = open_store(options);
    auto page = store->read_all(0, 10);
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == ec::decode_failure);
    CHECK_THAT(page.error().message, Catch::Contains("position 2"));
    CHECK(store->read_all(0, 1)->events.size() == 1); // the log before it reads
  }
  SECTION("a global log entry naming an event that is not stored") {
    damage([&](raw_database& raw) {
      raw.put(layout::log_key(2), layout::encode_log_entry({uuid::random(), 1, "", "t"}));
    });
    auto store = open_store(options);
    CHECK(code_of(store->read_all(0, 10)) == ec::decode_failure);
  }
  SECTION("a gap in the global log") {
    damage([&](raw_database& raw) { raw.erase(layout::log_key(2)); });
    auto store = open_store(options);
    CHECK(code_of(store->read_all(0, 10)) == ec::decode_failure);
  }
  SECTION("an event record the log points at") {
    damage([&](raw_database& raw) { raw.put(layout::event_key(stored.a, 2), garbage); });
    auto store = open_store(options);
    auto page = store->read_all(0, 10);
    REQUIRE_FALSE(page.ok());
    CHECK(page.error().code == ec::decode_failure);
    CHECK_THAT(page.error().message,
               Catch::Contains(to_string(stored.a)) && Catch::Contains("version 2"));
  }
  SECTION("a view checkpoint, or another view's under its key") {
    for (const auto& value :
         {garbage, layout::encode_view_checkpoint("w", view_checkpoint{1, 0, 1})}) {
      CAPTURE(value);
      damage([&](raw_database& raw) {
        raw.put(layout::view_checkpoint_key(layout::view_id("v")), value);
      });
      auto store = open_store(options);
      auto checkpoint = store->read_view_checkpoint("v");
      REQUIRE_FALSE(checkpoint.ok());
      CHECK(checkpoint.error().code == ec::decode_failure);
      CHECK_THAT(checkpoint.error().message, Catch::Contains("'v'"));
      CHECK(code_of(store->read_view("v", "row")) == ec::decode_failure);
      CHECK(code_of(store->scan_view("v", "", "", 10)) == ec::decode_failure);
      CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::decode_failure);
      CHECK(code_of(store->commit_view("v", stored.view, 3, {})) == ec::decode_failure);
      // Other views are not affected.
      CHECK(store->read_view_checkpoint("x").ok());
    }
  }
}

TEST_CASE("a damaged block gives decode_failure from every read that meets it, and "
          "storage_failure from writes",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  sample stored;
  {
    auto store = open_store(options);
    stored = write_sample(*store);
  } // the close flushes everything to one table file
  auto tables = tables_of(options.path);
  REQUIRE(tables.size() == 1);
  options.block_cache_bytes = 0; // every read goes to the file
  auto store = open_store(options);
  // The disk damages the block while the store is open (a store opened on
  // it refuses to open: it reads the last position there).
  damage_first_block(tables.front());
  CHECK(code_of(store->read(stored.a)) == ec::decode_failure);
  CHECK(code_of(store->head(stored.a)) == ec::decode_failure);
  CHECK(code_of(store->list_entities(std::nullopt, 10)) == ec::decode_failure);
  CHECK(code_of(store->read_all(0, 10)) == ec::decode_failure);
  CHECK(code_of(store->find_command(stored.a, stored.command)) == ec::decode_failure);
  CHECK(code_of(store->last_position()) == ec::decode_failure);
  CHECK(code_of(store->read_view_checkpoint("v")) == ec::decode_failure);
  CHECK(code_of(store->read_view("v", "row")) == ec::decode_failure);
  CHECK(code_of(store->scan_view("v", "", "", 10)) == ec::decode_failure);
  CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::decode_failure);
  CHECK(code_of(store->commit_view("v", stored.view, 3, {})) == ec::decode_failure);
  // An append's own check meets it: the store stops writing (store_damage_test.cpp).
  auto refused = store->append(make_append(stored.a, 2));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_failure);
  CHECK_THAT(refused.error().message, Catch::Contains("cafes-admin verify"));
  auto outcomes = store->append_batch(std::vector<append_request>{make_append(uuid::random(), 0)});
  CHECK(code_of(outcomes.front()) == ec::storage_failure);
  CHECK(code_of(store->reset_view("x", 1, std::nullopt)) == ec::storage_failure);
}

// -- RocksDB: locks and syncs ----------------------------------------------------

TEST_CASE("a lock held too long gives timeout, and nothing is written",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  options.sync = true;
  options.lock_timeout = std::chrono::milliseconds{20};
  options.lock_retries = 1;
  auto store = open_store(options);
  auto stored = write_sample(*store);
  // The first writer's commit hangs in its WAL sync (a disk that stops
  // answering) while it holds its locks.
  held_sync hold;
  std::thread writer;
  struct release_and_join {
    held_sync& hold;
    std::thread& writer;
    ~release_and_join() {
      hold.release();
      if (writer.joinable())
        writer.join();
    }
  } guard{hold, writer};
  SECTION("an entity's head") {
    result<std::uint64_t> first = failure::make(ec::none, "not run");
    writer = std::thread{[&] { first = store->append(make_append(stored.a, 2)); }};
    REQUIRE(hold.wait_for_held(1));
    auto waited = store->append(make_append(stored.a, 2));
    REQUIRE_FALSE(waited.ok());
    CHECK(waited.error().code == ec::timeout);
    CHECK_THAT(waited.error().message, Catch::Contains(to_string(stored.a))
                                         && Catch::Contains("2 times"));
    for (const auto& outcome : store->append_batch(std::vector<append_request>{
           make_append(stored.a, 2), make_append(stored.a, 3)}))
      CHECK(code_of(outcome) == ec::timeout);
    hold.release();
    writer.join();
    CHECK(*first == 3);
    CHECK(*store->head(stored.a) == 3);
    CHECK(*store->last_position() == 4);
  }
  SECTION("a view's checkpoint") {
    result<view_checkpoint> first = failure::make(ec::none, "not run");
    writer = std::thread{[&] {
      first = store->commit_view("v", stored.view, 3, std::vector{put("row", "2")});
    }};
    REQUIRE(hold.wait_for_held(1));
    auto waited = store->commit_view("v", stored.view, 3, std::vector{put("row", "3")});
    REQUIRE_FALSE(waited.ok());
    CHECK(waited.error().code == ec::timeout);
    CHECK_THAT(waited.error().message, Catch::Contains("'v'"));
    CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::timeout);
    hold.release();
    writer.join();
    CHECK(first.ok());
    CHECK(*store->read_view("v", "row") == std::optional{bytes("2")});
  }
}

TEST_CASE("a failed sync under a group commit is unknown_outcome for every append in it",
          "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  options.sync = true;
  auto store = open_store(options);
  auto stored = write_sample(*store);
  {
    failing_sync failing;
    for (const auto& outcome : store->append_batch(std::vector<append_request>{
           make_append(stored.a, 2), make_append(stored.b, 1)}))
      CHECK(code_of(outcome) == ec::unknown_outcome);
  }
  // Reopened, the store has them: "unknown" was the truth.
  CHECK(code_of(store->append(make_append(stored.a, 2))) == ec::conflict);
  CHECK(*store->head(stored.a) == 3);
  CHECK(*store->head(stored.b) == 2);
}

TEST_CASE("a failed sync under a view write is unknown_outcome", "[storage][contract]") {
  temp_dir dir;
  auto options = disk_options(dir.sub("db"));
  options.sync = true;
  auto store = open_store(options);
  auto stored = write_sample(*store);
  SECTION("commit_view") {
    REQUIRE(*store->append(make_append(stored.b, 1)) == 2); // the log reaches 4
    {
      failing_sync failing;
      auto outcome = store->commit_view("v", stored.view, 4, std::vector{put("row", "2")});
      REQUIRE_FALSE(outcome.ok());
      CHECK(outcome.error().code == ec::unknown_outcome);
      CHECK_THAT(outcome.error().message, Catch::Contains("'v'"));
    }
    // The next write reopens the database: the commit was stored after all.
    CHECK(code_of(store->commit_view("v", stored.view, 4, {})) == ec::conflict);
    CHECK(*store->read_view("v", "row") == std::optional{bytes("2")});
    CHECK((*store->read_view_checkpoint("v"))->position == 4);
  }
  SECTION("reset_view") {
    failing_sync failing;
    CHECK(code_of(store->reset_view("v", 2, stored.view)) == ec::unknown_outcome);
  }
}
