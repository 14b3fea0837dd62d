// The sharded store: entities spread over several stores by id, each
// entity whole in one shard; no global log across shards.

#include <catch2/catch.hpp>

#include <set>

#include "cafes/storage/sharded_store.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;

TEST_CASE("a sharded store keeps each entity whole in one shard, chosen by id",
          "[storage][sharded]") {
  auto first = std::make_shared<memory_store>();
  auto second = std::make_shared<memory_store>();
  auto made = sharded_store::make({first, second});
  REQUIRE(made.ok());
  auto& store = **made;
  std::vector<append_request> batch;
  std::vector<entity_id> ids;
  for (int i = 0; i < 200; ++i) {
    ids.push_back(uuid::random());
    batch.push_back(make_append(ids.back(), 0, 2));
  }
  batch.push_back(make_append(ids[0], 2));  // sees the first request's effect
  batch.push_back(make_append(ids[1], 0));  // a conflict, alone
  auto results = store.append_batch(batch);
  for (int i = 0; i < 200; ++i)
    CHECK(*results[static_cast<std::size_t>(i)] == 2);
  CHECK(*results[200] == 3);
  CHECK(results[201].error().code == ec::conflict);
  std::size_t in_first = 0;
  for (const auto& id : ids) {
    auto shard = store.shard_of(id);
    auto& holder = shard == 0 ? *first : *second;
    auto& other = shard == 0 ? *second : *first;
    CHECK(*holder.head(id) == (id == ids[0] ? 3 : 2));
    CHECK(*other.head(id) == 0);
    CHECK(store.read(id)->size() == (id == ids[0] ? 3u : 2u));
    in_first += shard == 0;
  }
  // Both shards hold entities (random ids spread).
  CHECK(in_first > 50);
  CHECK(in_first < 150);
  // Another process listing the same stores in the same order agrees.
  auto again = sharded_store::make({first, second});
  for (const auto& id : ids)
    CHECK((*again)->shard_of(id) == store.shard_of(id));
  // Reads in one batch, across shards.
  std::vector<read_request> reads;
  for (const auto& id : ids)
    reads.push_back({id, 2, last_version});
  auto read_back = store.read_batch(reads);
  for (std::size_t i = 0; i < ids.size(); ++i)
    CHECK(read_back[i]->front().version == 2);
  // Listing merges the shards in id order, page by page.
  std::set<entity_id> sorted(ids.begin(), ids.end());
  std::vector<entity_id> listed;
  std::optional<entity_id> after;
  for (;;) {
    auto page = store.list_entities(after, 33);
    REQUIRE(page.ok());
    if (page->empty())
      break;
    listed.insert(listed.end(), page->begin(), page->end());
    after = page->back();
  }
  CHECK(listed == std::vector<entity_id>(sorted.begin(), sorted.end()));
  // Command ids: checked in the entity's shard.
  auto once = make_append(ids[5], 2);
  once.events[0].command_id = uuid::random();
  REQUIRE(store.append(once).ok());
  once.expected_version = 3;
  CHECK(store.append(once).error().code == ec::duplicate_command);
  CHECK(*store.find_command(ids[5], once.events[0].command_id) == 3);
}

TEST_CASE("a sharded store refuses the global log and views, which need one log",
          "[storage][sharded]") {
  auto store = *sharded_store::make({std::make_shared<memory_store>(),
                                     std::make_shared<memory_store>()});
  CHECK(store->read_all(0, 10).error().code == ec::invalid_argument);
  CHECK_THAT(store->last_position().error().message, Catch::Contains("no single global log"));
  CHECK(store->reset_view("v", 1, std::nullopt).error().code == ec::invalid_argument);
  CHECK(store->read_view("v", "k").error().code == ec::invalid_argument);
  CHECK(sharded_store::make({}).error().code == ec::invalid_argument);
  CHECK(sharded_store::make({nullptr}).error().code == ec::invalid_argument);
}
