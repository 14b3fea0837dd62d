// Subscriptions of the global log: order, exactly once, back-pressure,
// many subscribers, resuming from a checkpoint.

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes_samples/bank_account.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace std::chrono_literals;

namespace {

/// What a test subscriber saw.
struct seen {
  std::mutex mutex;
  std::vector<event_record> events;
  std::size_t largest_batch = 0;
  int in_flight = 0;
  int most_in_flight = 0;
  /// The last position of the last batch it finished (its checkpoint).
  std::uint64_t checkpoint = 0;

  std::size_t count() {
    std::lock_guard guard{mutex};
    return events.size();
  }
};

struct collector_options {
  std::chrono::milliseconds per_event{0}; // a slow subscriber sleeps this long
  std::size_t crash_after = 0;            // 0: never; else fail the batch that
                                          // would take it past this many events
};

subscriber_actor::behavior_type collector(subscriber_actor::pointer self,
                                          std::shared_ptr<seen> out,
                                          collector_options options) {
  return {
    [=](log_events_atom, std::vector<event_record>& batch) -> caf::result<std::uint64_t> {
      {
        std::lock_guard guard{out->mutex};
        if (options.crash_after != 0 && out->events.size() + batch.size() > options.crash_after) {
          self->quit(caf::sec::runtime_error); // crashes before processing it
          return caf::sec::runtime_error;
        }
        out->most_in_flight = std::max(out->most_in_flight, ++out->in_flight);
        out->largest_batch = std::max(out->largest_batch, batch.size());
      }
      if (options.per_event.count() > 0)
        std::this_thread::sleep_for(options.per_event * batch.size());
      std::lock_guard guard{out->mutex};
      for (auto& event : batch)
        out->events.push_back(std::move(event));
      out->checkpoint = out->events.back().position;
      --out->in_flight;
      return out->checkpoint;
    },
  };
}

std::shared_ptr<event_store> rocksdb_in_memory() {
  rocksdb_options options;
  options.in_memory = true;
  return std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))};
}

/// Waits (up to a minute) until `done` holds; returns whether it did.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 60'000 && !done(); ++i)
    std::this_thread::sleep_for(1ms);
  return done();
}

/// `events` hold exactly positions first..last in order, each the store's
/// own record.
void check_exactly(event_store& store, const std::vector<event_record>& events,
                   std::uint64_t first, std::uint64_t last) {
  REQUIRE(events.size() == last - first + 1);
  auto log = store.read_all(first - 1, events.size());
  REQUIRE(log.ok());
  REQUIRE(log->events.size() == events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].position == first + i);
    CHECK(events[i] == log->events[i]);
  }
}

/// `writers` threads each deposit `each` times into accounts of `ids`.
void write_concurrently(application& app, const std::vector<entity_id>& ids, int writers,
                        int each) {
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      auto accounts = app.entities<bank::account>();
      for (int i = 0; i < each; ++i)
        accounts.execute(ids[static_cast<std::size_t>(w + i) % ids.size()], bank::deposit{1});
    });
  for (auto& thread : threads)
    thread.join();
}

std::vector<entity_id> open_accounts(application& app, int count) {
  std::vector<entity_id> ids;
  auto accounts = app.entities<bank::account>();
  for (int i = 0; i < count; ++i)
    ids.push_back(accounts.create(bank::open{"owner " + std::to_string(i)}).id);
  return ids;
}

} // namespace

TEST_CASE("a subscriber started mid-stream while 8 writers append sees every event "
          "exactly once, in order",
          "[subscriptions]") {
  auto direct = GENERATE(true, false); // appends on entity actors or storage actors
  CAPTURE(direct);
  auto store = rocksdb_in_memory();
  application_config config;
  config.allow_direct_appends = direct;
  application app{store, config};
  auto ids = open_accounts(app, 20);
  auto out = std::make_shared<seen>();
  std::thread writing{[&] { write_concurrently(app, ids, 8, 150); }};
  // Mid-stream: some events are stored, more are coming.
  REQUIRE(eventually([&] { return *store->last_position() > 200; }));
  subscription_options small;
  small.batch = 64;
  app.subscribe(app.system().spawn(collector, out, collector_options{}), 0, {}, small);
  writing.join();
  auto last = *store->last_position();
  CHECK(last == 20 + 8 * 150);
  REQUIRE(eventually([&] { return out->count() >= last; }));
  std::this_thread::sleep_for(20ms); // nothing more may come
  std::lock_guard guard{out->mutex};
  check_exactly(*store, out->events, 1, last);
  CHECK(out->largest_batch <= 64);
}

TEST_CASE("a subscriber that sleeps 10 ms per event holds back only itself: one batch "
          "at a time, and it still sees everything",
          "[subscriptions]") {
  auto store = rocksdb_in_memory();
  application_config config;
  config.scheduler_threads = 4; // the sleeper holds one
  application app{store, config};
  auto ids = open_accounts(app, 4);
  auto out = std::make_shared<seen>();
  subscription_options options;
  options.batch = 8;
  app.subscribe(app.system().spawn(collector, out, collector_options{10ms, 0}), 0, {},
                options);
  write_concurrently(app, ids, 4, 40); // 160 deposits, at full speed
  auto last = *store->last_position();
  CHECK(last == 4 + 160);
  // The writers are done while the subscriber is far behind (164 events
  // take it at least 1.6 s); it catches up on its own.
  REQUIRE(eventually([&] { return out->count() >= last; }));
  std::lock_guard guard{out->mutex};
  check_exactly(*store, out->events, 1, last);
  CHECK(out->largest_batch <= 8);  // the bound: one batch of at most 8
  CHECK(out->most_in_flight == 1); // never a second batch before the reply
}

TEST_CASE("100 subscribers at once each see the whole log", "[subscriptions]") {
  auto store = std::make_shared<memory_store>();
  application app{store};
  auto ids = open_accounts(app, 10);
  std::vector<std::shared_ptr<seen>> outs;
  for (int i = 0; i < 100; ++i) {
    outs.push_back(std::make_shared<seen>());
    app.subscribe(app.system().spawn(collector, outs.back(), collector_options{}));
  }
  write_concurrently(app, ids, 4, 50);
  auto last = *store->last_position();
  CHECK(last == 10 + 200);
  for (auto& out : outs) {
    REQUIRE(eventually([&] { return out->count() >= last; }));
    std::lock_guard guard{out->mutex};
    check_exactly(*store, out->events, 1, last);
  }
}

TEST_CASE("a subscriber that crashes ends its subscription, and one resumed from its "
          "checkpoint sees the rest exactly once",
          "[subscriptions]") {
  auto store = rocksdb_in_memory();
  application app{store};
  auto ids = open_accounts(app, 5);
  write_concurrently(app, ids, 2, 100); // 205 events
  auto last = *store->last_position();
  subscription_options options;
  options.batch = 16;
  auto first = std::make_shared<seen>();
  auto crashing = app.system().spawn(collector, first, collector_options{0ms, 100});
  auto subscription = app.subscribe(crashing, 0, {}, options);
  caf::scoped_actor self{app.system()};
  self->wait_for(subscription); // it ends with its subscriber
  std::uint64_t checkpoint = 0;
  {
    std::lock_guard guard{first->mutex};
    checkpoint = first->checkpoint;
    REQUIRE(checkpoint > 0);
    REQUIRE(checkpoint < last);
    check_exactly(*store, first->events, 1, checkpoint);
  }
  auto second = std::make_shared<seen>();
  app.subscribe(app.system().spawn(collector, second, collector_options{}), checkpoint, {},
                options);
  REQUIRE(eventually([&] { return second->count() >= last - checkpoint; }));
  std::this_thread::sleep_for(20ms);
  std::lock_guard guard{second->mutex};
  check_exactly(*store, second->events, checkpoint + 1, last);
}

TEST_CASE("a subscription delivers only what its filter passes", "[subscriptions]") {
  auto store = std::make_shared<memory_store>();
  application app{store};
  auto ids = open_accounts(app, 3);
  auto out = std::make_shared<seen>();
  app.subscribe(app.system().spawn(collector, out, collector_options{}), 0,
                {{}, {"bank.deposited"}});
  write_concurrently(app, ids, 2, 10);
  REQUIRE(eventually([&] { return out->count() >= 20; }));
  std::this_thread::sleep_for(20ms);
  std::lock_guard guard{out->mutex};
  REQUIRE(out->events.size() == 20);
  for (std::size_t i = 0; i < out->events.size(); ++i) {
    CHECK(out->events[i].type == "bank.deposited");
    if (i > 0)
      CHECK(out->events[i].position > out->events[i - 1].position);
  }
}

TEST_CASE("a subscription from past the end of the log is refused with a clear error",
          "[subscriptions]") {
  auto store = std::make_shared<memory_store>();
  application app{store};
  open_accounts(app, 2);
  auto out = std::make_shared<seen>();
  auto subscriber = app.system().spawn(collector, out, collector_options{});
  try {
    app.subscribe(subscriber, 3);
    FAIL("a position past the end was accepted");
  } catch (const cafes_error& error) {
    CHECK(error.code() == ec::invalid_argument);
    CHECK_THAT(error.what(), Catch::Contains("the global log ends at 2"));
  }
  // At the end exactly is fine: it waits for what comes next.
  app.subscribe(subscriber, 2);
  open_accounts(app, 1);
  REQUIRE(eventually([&] { return out->count() >= 1; }));
  std::lock_guard guard{out->mutex};
  CHECK(out->events.front().position == 3);
}

TEST_CASE("a subscription sees the commits of another application over the same store",
          "[subscriptions]") {
  auto store = std::make_shared<memory_store>();
  application reader{store};
  application writer{store};
  auto out = std::make_shared<seen>();
  reader.subscribe(reader.system().spawn(collector, out, collector_options{}));
  open_accounts(writer, 5); // only the writer's hub hears of these
  REQUIRE(eventually([&] { return out->count() >= 5; }));
  check_exactly(*store, out->events, 1, 5);
}
