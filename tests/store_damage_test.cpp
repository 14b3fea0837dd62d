// The RocksDB store under damage and operator mistakes: a corrupt or torn
// write-ahead log, a missing CURRENT file, foreign or non-database
// directories, a head that disagrees with its events, long histories of one
// entity, logs left behind by restarts, and the on-disk layout itself.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include <rocksdb/db.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include "cafes/storage/rocksdb_layout.hpp"
#include "sample_database.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;
namespace fs = std::filesystem;
using sample::open_raw;

namespace {

/// Every file of `directory` with its size: what "nothing was written"
/// compares. `with_info_log` false leaves out RocksDB's own text log (LOG,
/// LOG.old.*), which every attempt to open a database writes.
std::map<std::string, std::uintmax_t> files_of(const std::string& directory,
                                               bool with_info_log = true) {
  std::map<std::string, std::uintmax_t> out;
  for (const auto& entry : fs::directory_iterator{directory}) {
    auto name = entry.path().filename().string();
    if (with_info_log || !name.starts_with("LOG"))
      out[name] = entry.is_regular_file() ? entry.file_size() : 0;
  }
  return out;
}

/// Returns the files of `directory` whose names end with `suffix`.
std::vector<fs::path> files_ending(const std::string& directory, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator{directory})
    if (entry.path().filename().string().ends_with(suffix))
      out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// Appends `count` single-event appends to `entity` (synced: each is its
/// own WAL record) and copies the directory while the store is still open:
/// the copy is what a crash at that moment leaves on disk.
void write_crash_image(const std::string& path, const std::string& image,
                       const entity_id& entity, std::uint64_t count) {
  rocksdb_options options;
  options.path = path;
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  for (std::uint64_t v = 0; v < count; ++v)
    REQUIRE((*store)->append(make_append(entity, v)).ok());
  fs::copy(path, image, fs::copy_options::recursive);
}

void flip_byte(const fs::path& file, std::uintmax_t offset) {
  std::fstream f{file, std::ios::in | std::ios::out | std::ios::binary};
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5A));
}

} // namespace

TEST_CASE("a write-ahead log corrupt before its end refuses to open and says how to "
          "recover",
          "[storage][damage]") {
  temp_dir dir;
  auto entity = uuid::random();
  write_crash_image(dir.sub("db"), dir.sub("image"), entity, 200);
  auto logs = files_ending(dir.sub("image"), ".log");
  REQUIRE(logs.size() == 1);
  flip_byte(logs.front(), fs::file_size(logs.front()) / 2);
  auto before = files_of(dir.sub("image"), false);
  rocksdb_options options;
  options.path = dir.sub("image");
  auto refused = rocksdb_store::open(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_unavailable);
  CHECK_THAT(refused.error().message,
             Catch::Contains("damaged") && Catch::Contains("cafes-admin recover"));
  CHECK(files_of(dir.sub("image"), false) == before); // refusing wrote no data
  // The operator's choice: open at the last intact record.
  options.recover_to_last_intact = true;
  std::vector<event_record> kept;
  {
    auto recovered = rocksdb_store::open(options);
    REQUIRE(recovered.ok());
    auto events = (*recovered)->read(entity);
    REQUIRE(events.ok());
    CHECK(events->size() < 200);
    CHECK(*(*recovered)->head(entity) == events->size());
    kept = *events;
  }
  // The damaged log is gone: a normal open finds what the recovery kept.
  CHECK_FALSE(fs::exists(logs.front()));
  options.recover_to_last_intact = false;
  auto reopened = rocksdb_store::open(options);
  INFO((reopened ? "" : to_string(reopened.error())));
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->read(entity) == kept);
}

TEST_CASE("a torn last write-ahead log record (a crash) is dropped, the rest kept",
          "[storage][damage]") {
  temp_dir dir;
  auto entity = uuid::random();
  write_crash_image(dir.sub("db"), dir.sub("image"), entity, 50);
  auto logs = files_ending(dir.sub("image"), ".log");
  REQUIRE(logs.size() == 1);
  fs::resize_file(logs.front(), fs::file_size(logs.front()) - 10);
  rocksdb_options options;
  options.path = dir.sub("image");
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  auto events = (*store)->read(entity);
  REQUIRE(events.ok());
  CHECK(events->size() == 49);
  CHECK(*(*store)->head(entity) == 49);
}

TEST_CASE("a database whose CURRENT file is missing is refused, never recreated",
          "[storage][damage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    REQUIRE((*store)->append(make_append(entity, 0, 5)).ok());
  }
  auto manifests = files_ending(options.path, "");
  std::string manifest;
  for (const auto& file : manifests)
    if (file.filename().string().starts_with("MANIFEST-"))
      manifest = file.filename().string();
  REQUIRE_FALSE(manifest.empty());
  fs::remove(dir.sub("db/CURRENT"));
  auto before = files_of(options.path, false);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto refused = rocksdb_store::open(options);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ec::storage_unavailable);
    CHECK_THAT(refused.error().message,
               Catch::Contains("CURRENT file is missing") && Catch::Contains("MANIFEST"));
    CHECK(files_of(options.path, false) == before);
  }
  // The repair the message describes brings everything back.
  std::ofstream{dir.sub("db/CURRENT")} << manifest << '\n';
  auto repaired = rocksdb_store::open(options);
  REQUIRE(repaired.ok());
  CHECK((*repaired)->read(entity)->size() == 5);
}

TEST_CASE("a directory that is not a cafes database is refused and left untouched",
          "[storage][damage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("data");
  SECTION("any non-empty directory") {
    fs::create_directory(options.path);
    std::ofstream{dir.sub("data/notes.txt")} << "someone else's file";
    fs::create_directory(dir.sub("data/photos"));
  }
  SECTION("a foreign RocksDB database with a key shorter than the entity prefix") {
    open_raw(options.path, true)->Put({}, "x", "1").PermitUncheckedError();
  }
  SECTION("a foreign RocksDB database with long keys") {
    auto raw = open_raw(options.path, true);
    REQUIRE(raw->Put({}, std::string(40, 'k'), "value").ok());
  }
  SECTION("a cafes marker of another format") {
    fs::create_directory(options.path);
    std::ofstream{dir.sub("data/CAFES")}
      << "cafes database\nformat 99\nid 00000000-0000-4000-8000-000000000001\n";
  }
  SECTION("a file named like the marker that is not one") {
    fs::create_directory(options.path);
    std::ofstream{dir.sub("data/CAFES")} << "hello";
  }
  auto before = files_of(options.path);
  auto refused = rocksdb_store::open(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_unavailable);
  CHECK_THAT(refused.error().message, Catch::Contains(options.path));
  CHECK(files_of(options.path) == before);
  options.read_only = true;
  CHECK(rocksdb_store::open(options).error().code == ec::storage_unavailable);
  CHECK(files_of(options.path) == before);
}

TEST_CASE("a database of format 1 (before the global log) is refused, saying how to "
          "move its events over",
          "[storage][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("data");
  fs::create_directory(options.path);
  std::ofstream{dir.sub("data/CAFES")}
    << "cafes database\nformat 1\nid 00000000-0000-4000-8000-000000000001\n";
  auto before = files_of(options.path);
  auto refused = rocksdb_store::open(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_unavailable);
  CHECK_THAT(refused.error().message, Catch::Contains("format 1")
                                        && Catch::Contains("cafes-admin export")
                                        && Catch::Contains("cafes-admin import"));
  CHECK(files_of(options.path) == before);
}

TEST_CASE("a new database knows it is one and its format from the start",
          "[storage][damage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = GENERATE(std::string{"missing"}, std::string{"empty"});
  if (options.path == "empty")
    fs::create_directory(dir.sub("empty"));
  options.path = dir.sub(options.path);
  uuid id;
  {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    id = (*store)->database_id();
  }
  std::ifstream marker{options.path + "/CAFES"};
  std::string text{std::istreambuf_iterator<char>{marker}, {}};
  CHECK(text == "cafes database\nformat 2\nid " + to_string(id) + "\n");
  auto reopened = rocksdb_store::open(options);
  REQUIRE(reopened.ok());
  CHECK((*reopened)->database_id() == id);
}

TEST_CASE("a head that disagrees with the stored events is reported as damage of that "
          "entity",
          "[storage][damage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  auto healthy = uuid::random();
  {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    REQUIRE((*store)->append(make_append(entity, 0, 3)).ok());
    REQUIRE((*store)->append(make_append(healthy, 0, 2)).ok());
  }
  std::string expected_message;
  std::uint64_t next_expected = 0;
  {
    auto raw = open_raw(options.path);
    SECTION("a head past the last event") {
      REQUIRE(raw->Put({}, rocksdb_layout::head_key(entity),
                       rocksdb_layout::encode_version(5)).ok());
      expected_message = "head says version 5";
      next_expected = 5;
    }
    SECTION("events without a head") {
      REQUIRE(raw->Delete({}, rocksdb_layout::head_key(entity)).ok());
      expected_message = "no head";
      next_expected = 0;
    }
    SECTION("an event past the head") {
      REQUIRE(raw->Put({}, rocksdb_layout::event_key(entity, 4),
                       rocksdb_layout::encode_event_value(make_event("test.x", "4")))
                .ok());
      expected_message = "head says version 3";
      next_expected = 3;
    }
  }
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  auto events = (*store)->read(entity);
  REQUIRE_FALSE(events.ok());
  CHECK(events.error().code == ec::decode_failure);
  CHECK_THAT(events.error().message,
             Catch::Contains(to_string(entity)) && Catch::Contains("damaged")
               && Catch::Contains(expected_message));
  if (next_expected == 0) {
    // Writing version 1 over the headless events would branch the history.
    auto append = (*store)->append(make_append(entity, 0));
    REQUIRE_FALSE(append.ok());
    CHECK(append.error().code == ec::decode_failure);
    CHECK_THAT(append.error().message, Catch::Contains(to_string(entity)));
    CHECK((*store)->read(entity, 1, 3)->size() == 3);
  }
  CHECK((*store)->read(healthy)->size() == 2);
}

TEST_CASE("appends to one entity cost the same per event however long its history",
          "[storage][damage]") {
  // Counted in key comparisons (RocksDB's perf context), not in time: the
  // memtable's per-entity skip list must stay logarithmic as one entity's
  // history grows (at height 4 it degrades linearly past ~256 keys).
  rocksdb_options options;
  options.in_memory = true;
  options.sync = false;
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  auto entity = uuid::random();
  auto comparisons_per_append = [&](std::uint64_t from, std::uint64_t count) {
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
    rocksdb::get_perf_context()->Reset();
    for (std::uint64_t v = from; v < from + count; ++v)
      REQUIRE((*store)->append(make_append(entity, v)).ok());
    auto compared = rocksdb::get_perf_context()->user_key_comparison_count;
    rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
    return double(compared) / double(count);
  };
  REQUIRE((*store)->append(make_append(entity, 0, 1'000)).ok());
  auto early = comparisons_per_append(1'000, 1'000);
  for (std::uint64_t v = 2'000; v < 100'000; v += 1'000)
    REQUIRE((*store)->append(make_append(entity, v, 1'000)).ok());
  auto late = comparisons_per_append(100'000, 1'000);
  CAPTURE(early, late);
  CHECK(early > 0);
  // Logarithmic growth from 2k to 101k keys is ~2x (measured 72 -> 148);
  // linear growth at skip-list height 4 is over 20x.
  CHECK(late < 4 * early);
}

TEST_CASE("restarts leave no write-ahead logs behind", "[storage][damage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  for (std::uint64_t run = 0; run < 10; ++run) {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    REQUIRE(*(*store)->append(make_append(entity, run * 5, 5)) == run * 5 + 5);
  }
  CHECK(files_ending(options.path, ".log").size() <= 1);
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  CHECK((*store)->read(entity)->size() == 50);
}

TEST_CASE("the on-disk layout is pinned", "[storage][layout]") {
  // Changing any of these bytes makes existing databases unreadable (format
  // 2: the CAFES marker says which).
  auto entity = *uuid::parse("01234567-89ab-cdef-0011-223344556677");
  const std::string id_bytes{
    "\x01\x23\x45\x67\x89\xab\xcd\xef\x00\x11\x22\x33\x44\x55\x66\x77", 16};
  const std::string zeros(16, '\0');
  CHECK(rocksdb_layout::event_key(entity, 0x0102)
        == "e" + id_bytes + std::string{"\0\0\0\0\0\0\x01\x02", 8});
  CHECK(rocksdb_layout::head_key(entity) == "h" + id_bytes);
  CHECK(rocksdb_layout::log_key(0x0102030405060708ULL)
        == "g" + zeros + "\x01\x02\x03\x04\x05\x06\x07\x08");
  CHECK(rocksdb_layout::log_key_prefix() == "g" + zeros);
  CHECK(rocksdb_layout::position_key() == "p" + zeros);
  CHECK(rocksdb_layout::encode_version(0x0102030405060708ULL)
        == "\x01\x02\x03\x04\x05\x06\x07\x08");

  event_record record;
  record.id = *uuid::parse("ffeeddcc-bbaa-9988-7766-554433221100");
  record.type = "t.x";
  record.payload = {0xde, 0xad};
  record.timestamp_ns = 0x0102030405060708LL;
  record.position = 0x1112131415161718ULL;
  record.command_id = *uuid::parse("c0c1c2c3-c4c5-c6c7-c8c9-cacbcccdcecf");
  record.correlation_id = *uuid::parse("d0d1d2d3-d4d5-d6d7-d8d9-dadbdcdddedf");
  record.causation_id = *uuid::parse("e0e1e2e3-e4e5-e6e7-e8e9-eaebecedeeef");
  const std::string value =
    std::string{"\x02"}                                                        // format
    + "\xff\xee\xdd\xcc\xbb\xaa\x99\x88\x77\x66\x55\x44\x33\x22\x11" + std::string{"\0", 1}
    + "\x08\x07\x06\x05\x04\x03\x02\x01"                                   // timestamp LE
    + "\x18\x17\x16\x15\x14\x13\x12\x11"                                   // position LE
    + "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf" // command
    + "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf" // correlation
    + "\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef" // causation
    + std::string{"\x03\0\0\0", 4} + "t.x" + "\xde\xad";
  CHECK(rocksdb_layout::encode_event_value(record) == value);
  auto decoded = rocksdb_layout::decode_event_value(entity, 7, value);
  REQUIRE(decoded.ok());
  record.entity = entity;
  record.version = 7;
  CHECK(*decoded == record);
  // The position given apart from the record wins.
  auto elsewhere = rocksdb_layout::encode_event_value(record, 0x21);
  CHECK(elsewhere.substr(25, 8) == std::string{"\x21\0\0\0\0\0\0\0", 8});
  CHECK(elsewhere.substr(0, 25) == value.substr(0, 25));
  CHECK(elsewhere.substr(33) == value.substr(33));

  const rocksdb_layout::log_entry entry{entity, 0x0102, "bank", "t.x"};
  const std::string entry_value = std::string{"\x01"} + id_bytes           // format, entity
                                  + std::string{"\0\0\0\0\0\0\x01\x02", 8} // version BE
                                  + std::string{"\x04\0\0\0", 4} + "bank"
                                  + std::string{"\x03\0\0\0", 4} + "t.x";
  CHECK(rocksdb_layout::encode_log_entry(entry) == entry_value);
  auto decoded_entry = rocksdb_layout::decode_log_entry(3, entry_value);
  REQUIRE(decoded_entry.ok());
  CHECK(*decoded_entry == entry);
}

TEST_CASE("an append whose own check reads a damaged block stops the store's writes "
          "like a compaction that meets damage",
          "[storage][damage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = false;
  auto entity = uuid::random();
  for (const auto& id : {entity, uuid::random()}) {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    REQUIRE((*store)->append(make_append(id, 0)).ok());
  } // each close flushes a table file; the second holds the newer last position
  auto tables = files_ending(options.path, ".sst");
  REQUIRE(tables.size() == 2);
  for (std::uintmax_t offset = 0; offset < 100; offset += 8)
    flip_byte(tables[0], offset); // the first file's one data block
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  // The entity's head is in a damaged block: its version cannot be known.
  auto refused = (*store)->append(make_append(entity, 1));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::storage_failure);
  CHECK_THAT(refused.error().message,
             Catch::Contains("damaged") && Catch::Contains("cafes-admin verify"));
  // Stable: other entities' appends get the same answer.
  auto other = (*store)->append(make_append(uuid::random(), 0));
  REQUIRE_FALSE(other.ok());
  CHECK_THAT(other.error().message, Catch::Contains("damaged"));
}

TEST_CASE("a corrupt table file ends in a stable failed state: writes refused, no "
          "reopen loop, intact entities readable",
          "[storage][damage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = false;
  options.write_buffer_bytes = 64 * 1024; // many small table files
  std::vector<entity_id> sessions;
  for (int session = 0; session < 3; ++session) {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    sessions.push_back(uuid::random());
    REQUIRE((*store)->append(make_append(sessions.back(), 0, 200)).ok());
  } // each close flushes a table file
  auto tables = files_ending(options.path, ".sst");
  REQUIRE(tables.size() == 3);
  for (std::uintmax_t offset = 100; offset < fs::file_size(tables[1]) / 2; offset += 64)
    flip_byte(tables[1], offset);
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  // Enough writes to flush the memtable; the compaction that follows reads
  // the damaged file.
  auto writer = uuid::random();
  std::uint64_t version = 0;
  std::optional<failure> refused;
  for (int attempt = 0; attempt < 100'000 && !refused; ++attempt) {
    auto outcome = (*store)->append(make_append(writer, version, 10));
    if (outcome)
      version = *outcome;
    else
      refused = outcome.error();
  }
  REQUIRE(refused.has_value());
  CHECK(refused->code == ec::storage_failure);
  CHECK_THAT(refused->message,
             Catch::Contains("damaged") && Catch::Contains("cafes-admin verify"));
  // Stable: every later append gets the same answer and no reopen adds
  // table files.
  auto tables_then = files_ending(options.path, ".sst").size();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto outcome = (*store)->append(make_append(writer, version));
    REQUIRE_FALSE(outcome.ok());
    CHECK_THAT(outcome.error().message, Catch::Contains("damaged"));
  }
  CHECK(files_ending(options.path, ".sst").size() == tables_then);
  // Reads go on for entities outside the damaged file.
  auto first = (*store)->read(sessions[0]);
  INFO((first ? "" : to_string(first.error())));
  REQUIRE(first.ok());
  CHECK(first->size() == 200);
  auto written = (*store)->read(writer);
  INFO((written ? "" : to_string(written.error())));
  REQUIRE(written.ok());
  CHECK(written->size() == version);
  // Whatever the damaged file's bloom filter answers: about one probe in
  // 200 is a false positive, and a seek that lands before the file's first
  // key must not read (and fail on) the damaged block there.
  int failed_reads = 0;
  std::string first_failure;
  for (int probe = 0; probe < 3'000; ++probe) {
    auto never_written = (*store)->read(uuid::random());
    if (!never_written || !never_written->empty()) {
      if (++failed_reads == 1)
        first_failure = never_written ? "events of an entity never written"
                                      : to_string(never_written.error());
    }
  }
  INFO(first_failure);
  CHECK(failed_reads == 0);
}
