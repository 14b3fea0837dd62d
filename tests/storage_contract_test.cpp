// The storage contract: every store passes the same suite.

#include <catch2/catch.hpp>

#include <atomic>
#include <optional>
#include <set>
#include <thread>

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

TEMPLATE_TEST_CASE("append at the head succeeds", "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  CHECK(*store.head(entity) == 0);
  CHECK(*store.append(make_append(entity, 0)) == 1);
  CHECK(*store.append(make_append(entity, 1, 3)) == 4);
  CHECK(*store.head(entity) == 4);
}

TEMPLATE_TEST_CASE("a stale expected version conflicts with the actual version",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(store.append(make_append(entity, 0, 2)).ok());
  auto stale = store.append(make_append(entity, 1));
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == ec::conflict);
  CHECK(stale.error().expected_version == 1);
  CHECK(stale.error().actual_version == 2);
  CHECK_THAT(stale.error().message, Catch::Contains(to_string(entity)));
  CHECK(store.read(entity)->size() == 2);
}

TEMPLATE_TEST_CASE("a conflict carries the events the writer missed, up to its cap",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(store.append(make_append(entity, 0, 5)).ok());
  auto stored = *store.read(entity);
  auto stale = make_append(entity, 2);
  stale.missed_events_cap = 3;
  auto refused = store.append(stale);
  REQUIRE_FALSE(refused.ok());
  const auto& conflict = refused.error();
  CHECK(conflict.code == ec::conflict);
  CHECK(conflict.entity == entity);
  CHECK(conflict.expected_version == 2);
  CHECK(conflict.actual_version == 5);
  CHECK(conflict.missed_all());
  REQUIRE(conflict.missed_events.size() == 3);
  CHECK(conflict.missed_events[0] == stored[2]);
  CHECK(conflict.missed_events[2] == stored[4]);
  // Further behind than the cap: the versions only.
  stale.expected_version = 1;
  auto too_far = store.append(stale);
  REQUIRE_FALSE(too_far.ok());
  CHECK(too_far.error().actual_version == 5);
  CHECK(too_far.error().missed_events.empty());
  CHECK_FALSE(too_far.error().missed_all());
  // No cap asked for: none; ahead of the store: none.
  stale.expected_version = 4;
  stale.missed_events_cap = 0;
  CHECK(store.append(stale).error().missed_events.empty());
  stale.expected_version = 9;
  stale.missed_events_cap = 100;
  CHECK(store.append(stale).error().missed_events.empty());
  CHECK(*store.head(entity) == 5);
}

TEMPLATE_TEST_CASE("a conflict in a batch carries the missed events of earlier commits",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(store.append(make_append(entity, 0, 2)).ok());
  std::vector<append_request> batch{make_append(entity, 1), make_append(uuid::random(), 0)};
  batch[0].missed_events_cap = 8;
  auto results = store.append_batch(batch);
  REQUIRE(results.size() == 2);
  REQUIRE_FALSE(results[0].ok());
  CHECK(results[0].error().missed_all());
  REQUIRE(results[0].error().missed_events.size() == 1);
  CHECK(results[0].error().missed_events[0].version == 2);
  CHECK(results[1].ok());
}

TEMPLATE_TEST_CASE("an expected version above the head conflicts and leaves no gap",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(store.append(make_append(entity, 0)).ok());
  auto ahead = store.append(make_append(entity, 5));
  REQUIRE_FALSE(ahead.ok());
  CHECK(ahead.error().code == ec::conflict);
  CHECK(ahead.error().actual_version == 1);
  CHECK(*store.head(entity) == 1);
  CHECK(store.read(entity, 1, last_version)->size() == 1);
  auto unknown = uuid::random();
  CHECK(store.append(make_append(unknown, 3)).error().actual_version == 0);
  CHECK(*store.head(unknown) == 0);
}

TEMPLATE_TEST_CASE("creating an existing entity conflicts", "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(store.append(make_append(entity, 0)).ok());
  auto again = store.append(make_append(entity, 0));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ec::conflict);
  CHECK(again.error().expected_version == 0);
  CHECK(again.error().actual_version == 1);
}

TEMPLATE_TEST_CASE("a multi-event append is atomic: a rejected one writes nothing",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(*store.append(make_append(entity, 0, 5)) == 5);
  auto events = *store.read(entity);
  REQUIRE(events.size() == 5);
  for (std::uint64_t i = 0; i < 5; ++i)
    CHECK(events[i].version == i + 1);
  REQUIRE_FALSE(store.append(make_append(entity, 2, 10)).ok());
  CHECK(store.read(entity)->size() == 5);
  CHECK(*store.head(entity) == 5);
  auto empty = store.append(append_request{entity, 5, {}});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().code == ec::invalid_argument);
  CHECK(*store.head(entity) == 5);
}

TEMPLATE_TEST_CASE("K threads at the same expected version: exactly one wins",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  constexpr int threads = 8;
  constexpr int rounds = 20;
  auto entity = uuid::random();
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> successes{0};
    std::atomic<int> conflicts{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&] {
        while (!go.load())
          std::this_thread::yield();
        auto outcome = store.append(make_append(entity, std::uint64_t(round) * 2, 2));
        if (outcome.ok())
          ++successes;
        else if (outcome.error().code == ec::conflict
                 && outcome.error().actual_version == std::uint64_t(round) * 2 + 2)
          ++conflicts;
      });
    go = true;
    for (auto& worker : workers)
      worker.join();
    REQUIRE(successes == 1);
    REQUIRE(conflicts == threads - 1);
    REQUIRE(*store.head(entity) == std::uint64_t(round) * 2 + 2);
  }
}

TEMPLATE_TEST_CASE("appends to different entities all succeed", "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  constexpr int threads = 4;
  constexpr int per_thread = 50;
  std::atomic<int> failures{0};
  std::vector<std::vector<entity_id>> ids(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto entity = uuid::random();
        ids[t].push_back(entity);
        if (!store.append(make_append(entity, 0, 2)).ok())
          ++failures;
      }
    });
  for (auto& worker : workers)
    worker.join();
  CHECK(failures == 0);
  for (const auto& list : ids)
    for (const auto& entity : list)
      CHECK(*store.head(entity) == 2);
}

TEMPLATE_TEST_CASE("read returns events in order and round-trips every field",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  auto other = uuid::random();
  auto request = make_append(entity, 0, 12);
  request.events[3].payload = {0, 1, 2, 255, 0};
  request.events[4].payload.clear();
  for (auto& event : request.events) {
    event.command_id = uuid::random();
    event.correlation_id = uuid::random();
    event.causation_id = uuid::random();
  }
  REQUIRE(store.append(request).ok());
  REQUIRE(store.append(make_append(other, 0, 3)).ok());
  auto events = *store.read(entity);
  REQUIRE(events.size() == 12);
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto expected = request.events[i];
    expected.entity = entity;
    expected.version = i + 1;
    expected.position = i + 1; // the first events of the store
    CHECK(events[i] == expected);
  }
  auto middle = *store.read(entity, 10, 11);
  REQUIRE(middle.size() == 2);
  CHECK(middle[0].version == 10);
  CHECK(middle[1].version == 11);
  CHECK(store.read(entity, 13, last_version)->empty());
  CHECK(store.read(entity, 5, 4)->empty());
  CHECK(store.read(uuid::random())->empty());
}

TEMPLATE_TEST_CASE("an event's schema version is stored and read back, and version 0 is "
                   "refused",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  auto request = make_append(entity, 0, 3);
  request.events[1].schema_version = 2;
  request.events[2].schema_version = 4'000'000'000;
  REQUIRE(store.append(request).ok());
  auto events = *store.read(entity);
  REQUIRE(events.size() == 3);
  CHECK(events[0].schema_version == 1);
  CHECK(events[1].schema_version == 2);
  CHECK(events[2].schema_version == 4'000'000'000);
  auto log = *store.read_all(0, 10);
  REQUIRE(log.events.size() == 3);
  CHECK(log.events == events);
  auto zero = make_append(entity, 3, 2);
  zero.events[1].schema_version = 0;
  auto refused = store.append(zero);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::invalid_argument);
  CHECK_THAT(refused.error().message, Catch::Contains("schema version 0"));
  CHECK(*store.head(entity) == 3);
  auto batch = store.append_batch(std::vector<append_request>{zero, make_append(entity, 3)});
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].error().code == ec::invalid_argument);
  CHECK(batch[1].ok());
}

TEMPLATE_TEST_CASE("a batch checks each append on its own", "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto a = uuid::random();
  auto b = uuid::random();
  REQUIRE(store.append(make_append(b, 0)).ok());
  std::vector<append_request> batch{
    make_append(a, 0, 2), // creates a at 2
    make_append(b, 0),    // conflicts: b is at 1
    make_append(a, 2),    // sees the first append of this batch
    make_append(b, 1, 3), // succeeds despite its neighbour's conflict
    make_append(a, 2),    // conflicts with the third
  };
  auto results = store.append_batch(batch);
  REQUIRE(results.size() == 5);
  CHECK(*results[0] == 2);
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].error().actual_version == 1);
  CHECK(*results[2] == 3);
  CHECK(*results[3] == 4);
  REQUIRE_FALSE(results[4].ok());
  CHECK(results[4].error().expected_version == 2);
  CHECK(results[4].error().actual_version == 3);
  CHECK(*store.head(a) == 3);
  CHECK(*store.head(b) == 4);
  CHECK(store.read(a)->size() == 3);
}

TEMPLATE_TEST_CASE("a long history reads back in version order, whole and in ranges",
                   "[storage]", STORES) {
  // Past 255 and 65,535 versions, a key layout that does not sort versions
  // numerically (little-endian, say) reads out of order.
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  constexpr std::uint64_t total = 66'000;
  for (std::uint64_t version = 0; version < total; version += 1'000)
    REQUIRE(*store.append(make_append(entity, version, 1'000)) == version + 1'000);
  auto events = *store.read(entity);
  REQUIRE(events.size() == total);
  for (std::uint64_t i = 0; i < total; ++i) {
    REQUIRE(events[i].version == i + 1);
    REQUIRE(std::string(events[i].payload.begin(), events[i].payload.end())
            == "event " + std::to_string(i + 1));
  }
  auto around_byte = *store.read(entity, 250, 260);
  REQUIRE(around_byte.size() == 11);
  for (std::uint64_t i = 0; i < 11; ++i)
    CHECK(around_byte[i].version == 250 + i);
  auto around_short = *store.read(entity, 65'530, 65'540);
  REQUIRE(around_short.size() == 11);
  CHECK(around_short.front().version == 65'530);
  CHECK(around_short.back().version == 65'540);
  CHECK(*store.head(entity) == total);
}

TEMPLATE_TEST_CASE("read_batch reads many histories at once, each as read would",
                   "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  std::vector<read_request> requests;
  for (std::uint64_t i = 0; i < 100; ++i) { // more than one etcd transaction holds
    auto entity = uuid::random();
    REQUIRE(store.append(make_append(entity, 0, 1 + i % 3)).ok());
    REQUIRE(store.append(make_append(entity, 1 + i % 3, 2)).ok());
    requests.push_back({entity, 1, last_version});
  }
  requests.push_back({requests[0].entity, 2, 3});  // a range
  requests.push_back({requests[1].entity, 3, last_version}); // from past the first append
  requests.push_back({uuid::random(), 1, last_version});     // unknown: empty
  requests.push_back({requests[2].entity, 4, 2});            // empty range
  auto results = store.read_batch(requests);
  REQUIRE(results.size() == requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    INFO("request " << i);
    REQUIRE(results[i].ok());
    CHECK(*results[i] == *store.read(requests[i].entity, requests[i].from, requests[i].to));
  }
  CHECK(results[0]->size() == 3);
  CHECK(results[100]->size() == 2);
  CHECK(results[100]->front().version == 2);
  CHECK(results[101]->front().version == 3);
  CHECK(results[102]->empty());
  CHECK(results[103]->empty());
}

TEMPLATE_TEST_CASE("entities are listed in id order, page by page", "[storage]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  std::vector<entity_id> ids;
  for (int i = 0; i < 25; ++i) {
    ids.push_back(uuid::random());
    REQUIRE(store.append(make_append(ids.back(), 0, 1 + i % 3)).ok());
  }
  // A refused creation leaves nothing to list.
  REQUIRE_FALSE(store.append(make_append(uuid::random(), 4)).ok());
  std::sort(ids.begin(), ids.end());
  std::vector<entity_id> listed;
  std::optional<entity_id> after;
  for (;;) {
    auto page = store.list_entities(after, 7);
    REQUIRE(page.ok());
    CHECK(page->size() <= 7);
    if (page->empty())
      break;
    listed.insert(listed.end(), page->begin(), page->end());
    after = page->back();
  }
  CHECK(listed == ids);
}

#ifndef CAFES_ETCD_CONTRACT // RocksDB only
TEST_CASE("a reopened RocksDB directory holds everything acknowledged", "[storage]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  auto entity = uuid::random();
  std::vector<event_record> written;
  {
    auto store = rocksdb_store::open(options);
    REQUIRE(store.ok());
    for (std::uint64_t v = 0; v < 20; ++v)
      REQUIRE((*store)->append(make_append(entity, v)).ok());
    written = *(*store)->read(entity);
  }
  auto reopened = rocksdb_store::open(options);
  REQUIRE(reopened.ok());
  CHECK(*(*reopened)->head(entity) == 20);
  CHECK(*(*reopened)->read(entity) == written);
  CHECK((*reopened)->append(make_append(entity, 19)).error().code == ec::conflict);
  CHECK(*(*reopened)->append(make_append(entity, 20)) == 21);
  // The global log goes on where it stopped.
  CHECK(*(*reopened)->last_position() == 21);
  auto log = *(*reopened)->read_all(0, 100);
  REQUIRE(log.events.size() == 21);
  for (std::size_t i = 0; i < log.events.size(); ++i)
    CHECK(log.events[i].position == i + 1);
  CHECK(log.events.back().version == 21);
}
#endif

TEMPLATE_TEST_CASE("the global log numbers every stored event 1, 2, 3, ... in commit "
                   "order, and refused appends take no position",
                   "[storage][global-log]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  CHECK(*store.last_position() == 0);
  CHECK(store.read_all(0, 10)->events.empty());
  auto a = uuid::random();
  auto b = uuid::random();
  REQUIRE(store.append(make_append(a, 0, 2)).ok());                // 1, 2
  CHECK(store.append(make_append(a, 0)).error().code == ec::conflict);
  std::vector<append_request> batch{make_append(b, 0, 3),          // 3, 4, 5
                                    make_append(a, 1),             // refused
                                    make_append(a, 2)};            // 6
  auto outcomes = store.append_batch(batch);
  REQUIRE(outcomes[0].ok());
  REQUIRE_FALSE(outcomes[1].ok());
  REQUIRE(outcomes[2].ok());
  CHECK(store.append(make_append(b, 3, 0)).error().code == ec::invalid_argument);
  CHECK(*store.last_position() == 6);

  auto page = *store.read_all(0, 100);
  REQUIRE(page.events.size() == 6);
  CHECK(page.next_after == 6);
  std::vector<std::pair<entity_id, std::uint64_t>> order;
  for (std::size_t i = 0; i < page.events.size(); ++i) {
    const auto& event = page.events[i];
    CHECK(event.position == i + 1);
    order.emplace_back(event.entity, event.version);
    // The same record, position and all, as the entity's own read gives.
    CHECK(store.read(event.entity, event.version, event.version)->front() == event);
  }
  CHECK(order == std::vector<std::pair<entity_id, std::uint64_t>>{
                   {a, 1}, {a, 2}, {b, 1}, {b, 2}, {b, 3}, {a, 3}});
  auto middle = *store.read_all(3, 2);
  REQUIRE(middle.events.size() == 2);
  CHECK(middle.events[0].position == 4);
  CHECK(middle.events[1].position == 5);
  CHECK(middle.next_after == 5);
  auto end = *store.read_all(6, 10);
  CHECK(end.events.empty());
  CHECK(end.next_after == 6);
  auto beyond = *store.read_all(1000, 10); // not an error: nothing there yet
  CHECK(beyond.events.empty());
  CHECK(beyond.next_after == 1000);
}

TEMPLATE_TEST_CASE("the global log filters by aggregate and event type, and says how "
                   "far it looked",
                   "[storage][global-log]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto append = [&](std::string aggregate, std::string type) {
    auto request = make_append(uuid::random(), 0);
    request.aggregate = std::move(aggregate);
    request.events.front().type = std::move(type);
    REQUIRE(store.append(request).ok());
  };
  append("alpha", "alpha.made");   // 1
  append("beta", "beta.made");     // 2
  append("alpha", "alpha.moved");  // 3
  append("beta", "beta.moved");    // 4
  append("gamma", "gamma.made");   // 5
  auto positions = [](const log_page& page) {
    std::vector<std::uint64_t> out;
    for (const auto& event : page.events)
      out.push_back(event.position);
    return out;
  };
  auto alpha = *store.read_all(0, 10, {{"alpha"}, {}});
  CHECK(positions(alpha) == std::vector<std::uint64_t>{1, 3});
  CHECK(alpha.next_after == 5); // looked at everything
  auto moved = *store.read_all(0, 10, {{}, {"alpha.moved", "beta.moved"}});
  CHECK(positions(moved) == std::vector<std::uint64_t>{3, 4});
  auto both = *store.read_all(0, 10, {{"beta"}, {"beta.moved"}});
  CHECK(positions(both) == std::vector<std::uint64_t>{4});
  auto first = *store.read_all(0, 1, {{"beta"}, {}});
  CHECK(positions(first) == std::vector<std::uint64_t>{2});
  CHECK(first.next_after == 2); // stopped at the limit
  auto none = *store.read_all(0, 10, {{"delta"}, {}});
  CHECK(none.events.empty());
  CHECK(none.next_after == 5);
}

TEMPLATE_TEST_CASE("8 writers with conflicts on overlapping entities: positions are "
                   "exactly 1..N, and a reader polling meanwhile never sees a hole",
                   "[storage][global-log][concurrency]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  constexpr int writers = 8;
  constexpr int attempts = 300;
  std::vector<entity_id> entities(6);
  for (auto& id : entities)
    id = uuid::random();
  std::atomic<bool> writing{true};
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < attempts; ++i) {
        const auto& id = entities[static_cast<std::size_t>(w + i) % entities.size()];
        auto head = *store.head(id);
        auto count = static_cast<std::size_t>(1 + (w + i) % 3);
        if (i % 5 == 0) { // a group commit of two, one of them often stale
          std::vector<append_request> batch{make_append(id, head, count),
                                            make_append(id, head, 1)};
          for (auto& outcome : store.append_batch(batch))
            if (!outcome)
              ++conflicts;
        } else if (!store.append(make_append(id, head, count))) {
          ++conflicts;
        }
      }
    });
  // The reader: every page continues exactly where the last one ended.
  std::vector<event_record> seen;
  std::optional<std::string> hole;
  std::thread reader{[&] {
    std::uint64_t after = 0;
    auto poll = [&] {
      auto page = store.read_all(after, 500);
      if (!page) {
        hole = "read_all failed: " + to_string(page.error());
        return;
      }
      for (auto& event : page->events) {
        if (event.position != after + 1 && !hole)
          hole = "position " + std::to_string(event.position) + " after "
                 + std::to_string(after);
        after = event.position;
        seen.push_back(std::move(event));
      }
    };
    while (writing && !hole)
      poll();
    for (std::uint64_t last = ~0ull; last != after && !hole;) {
      last = after;
      poll();
    }
  }};
  for (auto& thread : threads)
    thread.join();
  writing = false;
  reader.join();
  INFO(hole.value_or("no hole"));
  CHECK_FALSE(hole);
  CHECK(conflicts > 0); // the race was real
  std::uint64_t total = 0;
  for (const auto& id : entities)
    total += *store.head(id);
  CHECK(*store.last_position() == total);
  REQUIRE(seen.size() == total);
  std::set<std::pair<entity_id, std::uint64_t>> distinct;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].position == i + 1);
    distinct.emplace(seen[i].entity, seen[i].version);
  }
  CHECK(distinct.size() == total); // each event once
  for (const auto& id : entities) {
    // Within an entity, versions come in position order.
    std::uint64_t previous = 0;
    for (const auto& event : seen)
      if (event.entity == id) {
        CHECK(event.version == previous + 1);
        previous = event.version;
      }
  }
}

TEMPLATE_TEST_CASE("a command id is applied once: an append that carries it again is "
                   "refused as a duplicate naming the version it got, and writes nothing",
                   "[storage][idempotency]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  auto command = uuid::random();
  auto with_command = [&](std::uint64_t expected, std::size_t count, const uuid& id) {
    auto request = make_append(entity, expected, count);
    for (auto& event : request.events)
      event.command_id = id;
    return request;
  };
  CHECK_FALSE(store.find_command(entity, command)->has_value());
  REQUIRE(*store.append(with_command(0, 2, command)) == 2);
  CHECK(*store.find_command(entity, command) == std::optional<std::uint64_t>{2});
  REQUIRE(*store.append(make_append(entity, 2)) == 3);
  // Again, at the current version: refused, with the version it got.
  auto again = store.append(with_command(3, 1, command));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ec::duplicate_command);
  CHECK(again.error().actual_version == 2);
  CHECK_THAT(again.error().message, Catch::Contains(to_string(command)));
  CHECK(*store.head(entity) == 3);
  CHECK(*store.last_position() == 3);
  // Twice in one group commit: the second copy sees the first.
  auto other = uuid::random();
  auto outcomes = store.append_batch(std::vector<append_request>{
    with_command(3, 1, other), with_command(4, 1, other), make_append(entity, 4)});
  CHECK(*outcomes[0] == 4);
  REQUIRE_FALSE(outcomes[1].ok());
  CHECK(outcomes[1].error().code == ec::duplicate_command);
  CHECK(outcomes[1].error().actual_version == 4);
  CHECK(*outcomes[2] == 5);
  // Nil command ids are not tracked.
  CHECK(*store.append(with_command(5, 1, uuid{})) == 6);
  CHECK(*store.append(with_command(6, 1, uuid{})) == 7);
  CHECK_FALSE(store.find_command(entity, uuid{})->has_value());
  // Ids are per entity.
  auto elsewhere = make_append(uuid::random(), 0);
  elsewhere.events.front().command_id = command;
  CHECK(store.append(elsewhere).ok());
}

TEMPLATE_TEST_CASE("one command raced by 8 writers is stored once, and every writer "
                   "learns the version it got",
                   "[storage][idempotency][concurrency]", STORES) {
  TestType fixture;
  auto& store = *fixture.store;
  auto entity = uuid::random();
  REQUIRE(store.append(make_append(entity, 0)).ok());
  auto command = uuid::random();
  std::vector<std::uint64_t> answers(8, 0);
  std::vector<std::thread> writers;
  for (std::size_t w = 0; w < answers.size(); ++w)
    writers.emplace_back([&, w] {
      // Each writer also appends unrelated events, so versions move.
      for (int attempt = 0; attempt < 1000 && answers[w] == 0; ++attempt) {
        auto head = *store.head(entity);
        auto request = make_append(entity, head);
        if (attempt % 2 == 0)
          request.events.front().command_id = command;
        auto outcome = store.append(request);
        if (outcome && attempt % 2 == 0)
          answers[w] = *outcome;
        else if (!outcome && outcome.error().code == ec::duplicate_command)
          answers[w] = outcome.error().actual_version;
      }
    });
  for (auto& writer : writers)
    writer.join();
  auto stored = *store.find_command(entity, command);
  REQUIRE(stored.has_value());
  for (auto answer : answers)
    CHECK(answer == *stored);
  int copies = 0;
  auto history = *store.read(entity);
  for (const auto& event : history)
    copies += event.command_id == command ? 1 : 0;
  CHECK(copies == 1);
}
