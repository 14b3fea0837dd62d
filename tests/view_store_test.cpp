// The view contract (the stored rows of projections): every store passes it.

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "cafes/storage/rocksdb_layout.hpp"
#include "cafes/storage/rocksdb_verify.hpp"
#include "sample_database.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;

#ifdef CAFES_ETCD_CONTRACT
// The same suite against the etcd store (cafes_etcd_tests).
#include "etcd_fixture.hpp"
#define STORES etcd_fixture
#else
#define STORES memory_fixture, rocksdb_memory_fixture, rocksdb_disk_fixture
#endif

namespace {

std::vector<std::uint8_t> bytes(std::string_view text) {
  return {text.begin(), text.end()};
}

view_change put(std::string key, std::string_view value) {
  return view_change{std::move(key), bytes(value)};
}

view_change erase(std::string key) {
  return view_change{std::move(key), std::nullopt};
}

/// Appends `count` events to new entities, so the log reaches `count`.
void fill_log(event_store& store, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    REQUIRE(store.append(make_append(uuid::random(), 0)).ok());
}

std::vector<std::string> keys_of(const std::vector<view_row>& rows) {
  std::vector<std::string> out;
  for (const auto& row : rows)
    out.push_back(row.key);
  return out;
}

} // namespace

TEMPLATE_TEST_CASE("a view's rows and checkpoint change together, and read back",
                   "[storage][views]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  fill_log(store, 3);
  auto none = store.read_view_checkpoint("by_owner");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());
  auto start = store.reset_view("by_owner", 7, std::nullopt);
  REQUIRE(start.ok());
  CHECK(*start == view_checkpoint{7, 0, 1});
  std::vector<view_change> changes{put("owner/ada/1", "10"), put("owner/bob/2", "20"),
                                   put("owner/ada/3", "30"), put("gone", "x"), erase("gone"),
                                   put("owner/ada/1", "11")};
  auto moved = store.commit_view("by_owner", *start, 2, changes);
  REQUIRE(moved.ok());
  CHECK(*moved == view_checkpoint{7, 2, 1});
  CHECK(*store.read_view_checkpoint("by_owner") == std::optional{*moved});
  CHECK(*store.read_view("by_owner", "owner/ada/1") == std::optional{bytes("11")});
  CHECK_FALSE(store.read_view("by_owner", "gone")->has_value());
  CHECK_FALSE(store.read_view("by_owner", "owner/ada")->has_value());
  CHECK_FALSE(store.read_view("other_view", "owner/ada/1")->has_value());
  auto ada = store.scan_view("by_owner", "owner/ada/", "", 10);
  REQUIRE(ada.ok());
  CHECK(*ada == std::vector<view_row>{{"owner/ada/1", bytes("11")}, {"owner/ada/3", bytes("30")}});
  // Paging: after the last key returned.
  auto first = store.scan_view("by_owner", "owner/", "", 2);
  REQUIRE(first.ok());
  CHECK(keys_of(*first) == std::vector<std::string>{"owner/ada/1", "owner/ada/3"});
  auto rest = store.scan_view("by_owner", "owner/", first->back().key, 2);
  REQUIRE(rest.ok());
  CHECK(keys_of(*rest) == std::vector<std::string>{"owner/bob/2"});
  CHECK(store.scan_view("by_owner", "owner/", "owner/bob/2", 2)->empty());
  CHECK(store.scan_view("by_owner", "", "", 0)->empty());
  // An empty commit moves the checkpoint only.
  auto again = store.commit_view("by_owner", *moved, 3, {});
  REQUIRE(again.ok());
  CHECK(again->position == 3);
  CHECK(store.scan_view("by_owner", "", "", 10)->size() == 3);
}

TEMPLATE_TEST_CASE("a view commit from a checkpoint that moved writes nothing",
                   "[storage][views]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  fill_log(store, 4);
  auto start = *store.reset_view("v", 1, std::nullopt);
  auto moved = store.commit_view("v", start, 2, std::vector{put("a", "1")});
  REQUIRE(moved.ok());
  auto stale = store.commit_view("v", start, 4, std::vector{put("b", "2")});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == ec::conflict);
  CHECK(stale.error().actual_version == 2);
  CHECK_FALSE(store.read_view("v", "b")->has_value());
  CHECK(*store.read_view_checkpoint("v") == std::optional{*moved});
  // A reset expects the current checkpoint too.
  auto stale_reset = store.reset_view("v", 2, start);
  REQUIRE_FALSE(stale_reset.ok());
  CHECK(stale_reset.error().code == ec::conflict);
  auto fresh_reset = store.reset_view("v", 2, std::nullopt);
  REQUIRE_FALSE(fresh_reset.ok());
  CHECK(fresh_reset.error().code == ec::conflict);
  CHECK(*store.read_view("v", "a") == std::optional{bytes("1")});
}

TEMPLATE_TEST_CASE("two runners of one view racing from one checkpoint: exactly one commits",
                   "[storage][views]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  fill_log(store, 2);
  auto start = *store.reset_view("raced", 1, std::nullopt);
  constexpr int runners = 8;
  std::atomic<int> won{0};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < runners; ++i)
    threads.emplace_back([&, i] {
      auto out = store.commit_view("raced", start, 2,
                                   std::vector{put("count", std::to_string(i))});
      if (out)
        ++won;
      else if (out.error().code == ec::conflict)
        ++conflicts;
    });
  for (auto& thread : threads)
    thread.join();
  CHECK(won == 1);
  CHECK(conflicts == runners - 1);
  CHECK(store.read_view_checkpoint("raced")->value().position == 2);
}

TEMPLATE_TEST_CASE("resetting a view starts a new generation without the old rows",
                   "[storage][views]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  fill_log(store, 2);
  auto first = *store.reset_view("v", 1, std::nullopt);
  // 3,000 rows: more than one deletion batch. A store with bounded
  // transactions (etcd) takes them in commits of its most rows each.
  std::optional<view_checkpoint> filled = first;
  const std::size_t rows_per_commit = std::min<std::size_t>(3000, store.max_view_changes());
  for (std::size_t done = 0; done < 3000; done += rows_per_commit) {
    std::vector<view_change> rows;
    for (auto i = done; i < std::min<std::size_t>(3000, done + rows_per_commit); ++i)
      rows.push_back(put("row/" + std::to_string(i), "x"));
    auto committed = store.commit_view("v", *filled, 2, rows);
    REQUIRE(committed.ok());
    filled = *committed;
  }
  CHECK(store.scan_view("v", "", "", 10'000)->size() == 3000);
  auto second = store.reset_view("v", 2, *filled);
  REQUIRE(second.ok());
  CHECK(*second == view_checkpoint{2, 0, 2});
  CHECK(store.scan_view("v", "", "", 10)->empty());
  CHECK_FALSE(store.read_view("v", "row/1")->has_value());
  auto refilled = store.commit_view("v", *second, 1, std::vector{put("row/1", "y")});
  REQUIRE(refilled.ok());
  CHECK(*store.read_view("v", "row/1") == std::optional{bytes("y")});
  CHECK(store.scan_view("v", "", "", 10'000)->size() == 1);
}

TEMPLATE_TEST_CASE("bad view calls get clear errors and write nothing", "[storage][views]",
                   STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  fill_log(store, 2);
  CHECK(store.read_view_checkpoint("").error().code == ec::invalid_argument);
  CHECK(store.reset_view(std::string(256, 'x'), 1, std::nullopt).error().code
        == ec::invalid_argument);
  CHECK(store.read_view("", "k").error().code == ec::invalid_argument);
  CHECK(store.scan_view("", "", "", 1).error().code == ec::invalid_argument);
  CHECK(store.reset_view(std::string(255, 'x'), 1, std::nullopt).ok());
  auto start = *store.reset_view("v", 1, std::nullopt);
  // A checkpoint of another store: past this log's end.
  auto beyond = store.commit_view("v", start, 3, std::vector{put("a", "1")});
  REQUIRE_FALSE(beyond.ok());
  CHECK(beyond.error().code == ec::invalid_argument);
  CHECK_THAT(beyond.error().message, Catch::Contains("the global log ends at 2"));
  auto moved = *store.commit_view("v", start, 2, {});
  auto backwards = store.commit_view("v", moved, 1, {});
  REQUIRE_FALSE(backwards.ok());
  CHECK(backwards.error().code == ec::invalid_argument);
  auto empty_key = store.commit_view("v", moved, 2, std::vector{put("", "1")});
  REQUIRE_FALSE(empty_key.ok());
  CHECK(empty_key.error().code == ec::invalid_argument);
  CHECK(*store.read_view_checkpoint("v") == std::optional{moved});
  CHECK(store.scan_view("v", "", "", 10)->empty());
  // A commit to a view never reset has no checkpoint to match.
  CHECK(store.commit_view("never", view_checkpoint{}, 0, {}).error().code == ec::conflict);
}

#ifndef CAFES_ETCD_CONTRACT // RocksDB only
TEST_CASE("a reopened RocksDB directory keeps its views, and verify checks them",
          "[storage][views]") {
  temp_dir dir;
  const auto path = dir.sub("db");
  {
    auto store = open_rocksdb(path);
    fill_log(*store, 2);
    auto start = *store->reset_view("v", 3, std::nullopt);
    REQUIRE(store->commit_view("v", start, 2, std::vector{put("a", "1")}).ok());
  }
  {
    auto store = open_rocksdb(path);
    CHECK(*store->read_view_checkpoint("v") == std::optional{view_checkpoint{3, 2, 1}});
    CHECK(*store->read_view("v", "a") == std::optional{bytes("1")});
    auto report = verify(*store);
    CHECK(report.ok());
    CHECK(report.views == 1);
    CHECK(report.view_rows == 1);
  }
  SECTION("a row without a checkpoint and a checkpoint past the log's end are named") {
    {
      // Written behind the store's back, as damage or a foreign copy would.
      auto db = sample::open_raw(path);
      auto orphan = rocksdb_layout::view_row_key(rocksdb_layout::view_id("orphan"), 1, "k");
      REQUIRE(db->Put(rocksdb::WriteOptions{}, orphan, "x").ok());
      auto far = rocksdb_layout::view_checkpoint_key(rocksdb_layout::view_id("far"));
      REQUIRE(db->Put(rocksdb::WriteOptions{}, far,
                      rocksdb_layout::encode_view_checkpoint("far", view_checkpoint{1, 99, 1}))
                .ok());
    }
    auto store = open_rocksdb(path, true);
    auto report = verify(*store);
    CHECK_FALSE(report.ok());
    CHECK(report.problem_count == 2);
    std::string all;
    for (const auto& problem : report.problems)
      all += problem.what + "\n";
    CHECK_THAT(all, Catch::Contains("a view row whose view has no (intact) checkpoint"));
    CHECK_THAT(all, Catch::Contains("view 'far' has projected up to position 99, past the "
                                    "end of the global log (2)"));
  }
}
#endif
