// Storage: the whole-database verification scan (`cafes-admin verify`) on a
// healthy database and on each kind of damage, written with plain RocksDB.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "cafes/storage/rocksdb_layout.hpp"
#include "cafes/storage/rocksdb_verify.hpp"
#include "sample_database.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::testing;
namespace fs = std::filesystem;

namespace {

/// Creates the sample database at `path` and closes it.
void create_sample(const std::string& path) {
  rocksdb_options options;
  options.path = path;
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  sample::write(**store);
}

verify_report verify_sample(const std::string& path, verify_options options = {}) {
  if (options.aggregates.empty())
    options.aggregates = sample::aggregates();
  auto store = open_rocksdb(path, true);
  return verify(*store, options);
}

/// Every file of `directory` with its size and modification time.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>>
files_of(const std::string& directory) {
  std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> out;
  for (const auto& entry : fs::directory_iterator{directory})
    out[entry.path().filename().string()] = {entry.file_size(), entry.last_write_time()};
  return out;
}

std::string problems_of(const verify_report& report) {
  std::string out;
  for (const auto& problem : report.problems)
    out += to_string(problem) + "\n";
  return out;
}

} // namespace

TEST_CASE("verify finds nothing wrong in a healthy database and writes nothing",
          "[storage][verify]") {
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  auto before = files_of(path);
  auto report = verify_sample(path);
  INFO(problems_of(report));
  CHECK(report.ok());
  CHECK(report.complete);
  CHECK(report.problem_count == 0);
  CHECK(report.entities == sample::entities);
  CHECK(report.events == sample::events);
  CHECK(report.heads == sample::entities);
  CHECK(report.log_entries == sample::events);
  CHECK(report.last_position == sample::events);
  // Events, heads, log entries, the last position and the one command
  // with an id.
  CHECK(report.keys == 2 * sample::events + sample::entities + 1 + 1);
  CHECK(report.commands == 1);
  CHECK(report.bytes == directory_bytes(path));
  CHECK(report.bytes > 0);
  CHECK(files_of(path) == before);
}

TEST_CASE("verify finds nothing wrong in an empty database", "[storage][verify]") {
  temp_dir dir;
  {
    rocksdb_options options;
    options.path = dir.sub("db");
    REQUIRE(rocksdb_store::open(options).ok());
  }
  auto report = verify_sample(dir.sub("db"));
  CHECK(report.ok());
  CHECK(report.keys == 0);
  CHECK(report.entities == 0);
}

TEST_CASE("verify reports each kind of damage once, naming its entity and version",
          "[storage][verify][damage]") {
  auto damage = GENERATE(from_range(sample::damages()));
  CAPTURE(damage.name);
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  sample::write_damage(path, damage.name);
  auto report = verify_sample(path);
  INFO(problems_of(report));
  CHECK_FALSE(report.ok());
  CHECK(report.complete);
  REQUIRE(report.problem_count == 1);
  REQUIRE(report.problems.size() == 1);
  const auto& problem = report.problems.front();
  CHECK(problem.entity == damage.entity);
  CHECK(problem.version == damage.version);
  CHECK(problem.position == damage.position);
  CHECK_THAT(problem.what, Catch::Contains(damage.says));
  auto text = to_string(problem);
  if (damage.entity)
    CHECK_THAT(text, Catch::StartsWith("entity " + to_string(*damage.entity)));
  else if (damage.position != 0)
    CHECK_THAT(text, Catch::StartsWith("position " + std::to_string(damage.position) + ": "));
  else
    CHECK_THAT(text, Catch::StartsWith("key "));
}

TEST_CASE("verify without aggregates checks the records but not the event types",
          "[storage][verify]") {
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  sample::write_damage(path, "unknown-type");
  auto store = open_rocksdb(path, true);
  auto report = verify(*store, verify_options{});
  CHECK(report.ok());
  CHECK(report.events == sample::events + 1);
}

TEST_CASE("verify counts every problem but keeps only the first max_problems",
          "[storage][verify]") {
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  {
    auto db = sample::open_raw(path);
    for (std::uint64_t i = 1; i <= 5; ++i)
      REQUIRE(db->Put({}, rocksdb_layout::head_key(uuid{0x5000'0000'0000'0000ULL, i}),
                      rocksdb_layout::encode_version(i))
                .ok());
  }
  verify_options options;
  options.max_problems = 2;
  auto report = verify_sample(path, options);
  CHECK(report.problem_count == 5);
  REQUIRE(report.problems.size() == 2);
  // In key order: the orphan heads of the lowest ids first.
  CHECK(report.problems[0].entity == uuid{0x5000'0000'0000'0000ULL, 1});
  CHECK(report.problems[1].entity == uuid{0x5000'0000'0000'0000ULL, 2});
  CHECK(report.entities == sample::entities + 5);
}

TEST_CASE("verify reports progress up to the last key", "[storage][verify]") {
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  std::vector<verify_progress> seen;
  verify_options options;
  options.progress_every = 4;
  options.progress = [&](const verify_progress& progress) { seen.push_back(progress); };
  auto report = verify_sample(path, options);
  REQUIRE(report.keys == 19);
  REQUIRE(seen.size() == 5); // after keys 4, 8, 12 and 16, and at the end (19)
  CHECK(seen[0].keys == 4);
  CHECK(seen[3].keys == 16);
  CHECK(seen[4].keys == report.keys);
}

TEST_CASE("verify reports a damaged table file as a scan that stopped",
          "[storage][verify][damage]") {
  temp_dir dir;
  auto path = dir.sub("db");
  {
    rocksdb_options options;
    options.path = path;
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    sample::write(**store);
    // Enough events for many data blocks: the first is broken below, the
    // last (the global log's last position, which open reads) stays intact.
    std::vector<event_record> more;
    for (int i = 0; i < 400; ++i)
      more.push_back(sample::record(tally::counter::event{tally::added{uuid::random(), 1}}));
    REQUIRE((*store)->append({sample::tally, 2, more}).ok());
  } // closing flushes the events into one table file
  std::vector<fs::path> tables;
  for (const auto& entry : fs::directory_iterator{path})
    if (entry.path().extension() == ".sst")
      tables.push_back(entry.path());
  REQUIRE(tables.size() == 1);
  {
    // The first data block starts the file: break a byte of its first key.
    std::fstream file{tables.front(), std::ios::in | std::ios::out | std::ios::binary};
    file.seekg(5);
    char byte = 0;
    file.get(byte);
    file.seekp(5);
    file.put(static_cast<char>(byte ^ 0x5A));
  }
  auto report = verify_sample(path);
  INFO(problems_of(report));
  CHECK_FALSE(report.ok());
  CHECK_FALSE(report.complete);
  REQUIRE_FALSE(report.problems.empty());
  CHECK_THAT(report.problems.back().what,
             Catch::Contains("the scan stopped") && Catch::Contains("not checked"));
}

TEST_CASE("verify reports a missing global log entry as a gap and its event as outside "
          "the log",
          "[storage][verify][damage]") {
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  sample::write_damage(path, "log-entry-missing"); // position 3: account version 3
  auto report = verify_sample(path);
  INFO(problems_of(report));
  CHECK(report.complete);
  CHECK(report.log_entries == sample::events - 1);
  REQUIRE(report.problem_count == 2);
  REQUIRE(report.problems.size() == 2);
  CHECK(to_string(report.problems[0])
        == "position 4: a gap in the global log: position 3 is missing");
  CHECK(report.problems[0].key == rocksdb_layout::log_key(4));
  CHECK(to_string(report.problems[1])
        == "entity " + to_string(sample::account)
             + " version 3: its record says position 3, but no global log entry points "
               "at it");
}

TEST_CASE("verify names every missing stretch of the global log", "[storage][verify][damage]") {
  temp_dir dir;
  auto path = dir.sub("db");
  create_sample(path);
  {
    auto db = sample::open_raw(path);
    for (std::uint64_t position : {2, 3, 5})
      REQUIRE(db->Delete({}, rocksdb_layout::log_key(position)).ok());
  }
  verify_options options;
  options.check_event_ids = false;
  auto report = verify_sample(path, options);
  INFO(problems_of(report));
  REQUIRE(report.problem_count == 5); // two gaps, three events outside the log
  CHECK(to_string(report.problems[0])
        == "position 4: a gap in the global log: positions 2..3 are missing");
  CHECK(to_string(report.problems[1])
        == "position 6: a gap in the global log: position 5 is missing");
  // Then the events, in position order.
  CHECK(report.problems[2].entity == sample::account);
  CHECK(report.problems[2].version == 2);
  CHECK(report.problems[4].entity == sample::widget);
  CHECK(report.problems[4].version == 2);
}
