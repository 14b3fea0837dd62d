// Stress runs small enough for CI: many clients, stale commands, passivation
// forcing respawns, subscribers following the log; the read-back
// verification must hold, and must catch a subscriber that was fed wrong.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <regex>
#include <thread>

#include "cafes/tools/stress.hpp"
#include "gated_store.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes::testing;
using namespace std::chrono_literals;

namespace {

void require_verified(const stress::report& report) {
  INFO("violations: " << report.violations.size()
                      << (report.violations.empty() ? "" : ", first: " + report.violations[0]));
  REQUIRE(report.verified);
  REQUIRE(report.violations.empty());
}

} // namespace

TEST_CASE("stress: 10k entities, 50 clients, 20% stale, passivation respawns",
          "[stress]") {
  stress::options opts;
  opts.entities = 10'000;
  opts.clients = 50;
  opts.commands_per_client = 400;
  opts.in_flight = 2;
  opts.stale_fraction = 0.2;
  opts.app.idle_timeout = 20ms;
  opts.app.registry_shards = 2;
  opts.seed = 7;
  auto report = stress::run(rocksdb_memory_fixture{}.store, opts);
  require_verified(report);
  CHECK(report.commands == opts.clients * opts.commands_per_client);
  CHECK(report.acknowledged + report.conflicts + report.rejections == report.commands);
  CHECK(report.other_errors == 0);
  CHECK(report.events == report.acknowledged);
  CHECK(report.stale_sent > 0);
  CHECK(report.conflicts >= report.stale_sent); // every stale command refused
  CHECK(report.passivated > 0);
  CHECK(report.spawned > report.peak_resident); // actors came back after passivation
}

TEST_CASE("stress: skewed keys on a few hot entities", "[stress]") {
  stress::options opts;
  opts.entities = 200;
  opts.clients = 40;
  opts.commands_per_client = 250;
  opts.in_flight = 4;
  opts.keys = stress::key_distribution::zipf;
  opts.stale_fraction = 0.1;
  opts.app.storage_shards = 2;
  opts.seed = 11;
  auto report = stress::run(std::make_shared<memory_store>(), opts);
  require_verified(report);
  CHECK(report.conflicts > report.stale_sent); // hot keys also conflict for real
  CHECK(report.events == report.acknowledged);
}

TEST_CASE("stress: durable RocksDB on disk with group commit", "[stress]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = true;
  auto store = rocksdb_store::open(options);
  REQUIRE(store.ok());
  stress::options opts;
  opts.entities = 2'000;
  opts.clients = 100;
  opts.commands_per_client = 30;
  opts.stale_fraction = 0.2;
  opts.seed = 3;
  auto report = stress::run(std::shared_ptr<event_store>{std::move(*store)}, opts);
  require_verified(report);
  CHECK(report.events == report.acknowledged);
}

TEST_CASE("stress: a stop ends the run early, and what ran is answered and verified",
          "[stress]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  std::atomic<bool> stop{false};
  stress::options opts;
  opts.entities = 100;
  opts.clients = 8;
  opts.commands_per_client = 1'000;
  opts.in_flight = 2;
  opts.app.storage_shards = 1;
  opts.stop = &stop;
  gate->close_gate();
  stress::report report;
  std::thread running{[&] { report = stress::run(gate, opts); }};
  REQUIRE(gate->wait_for_waiting(1)); // under way: the store holds a call
  stop = true;
  gate->open_gate();
  running.join();
  require_verified(report);
  CHECK(report.interrupted);
  CHECK(report.unsent > 0);
  CHECK(report.commands + report.unsent == opts.clients * opts.commands_per_client);
  CHECK(report.events == report.acknowledged);
}

TEST_CASE("stress: commands failed by the store are counted by error code with the "
          "first message",
          "[stress]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  gate->fail_appends(true); // a full disk from the start
  stress::options opts;
  opts.entities = 50;
  opts.clients = 4;
  opts.commands_per_client = 25;
  auto report = stress::run(gate, opts);
  require_verified(report); // nothing stored, nothing acknowledged
  CHECK(report.acknowledged == 0);
  CHECK(report.events == 0);
  CHECK(report.other_errors == report.commands);
  REQUIRE(report.errors.size() == 1);
  const auto& [code, errors] = *report.errors.begin();
  CHECK(code == ec::storage_failure);
  CHECK(errors.count == report.commands);
  CHECK_THAT(errors.first_message, Catch::Contains("disk full"));
}

TEST_CASE("stress: one hot entity, 64 clients, with and without expected versions, "
          "stale commands refused",
          "[stress]") {
  // Commands that arrive while the entity's append is in flight are
  // decided together on top of it and stored as one append: every answer
  // must still match the store, stale ones refused, none stored twice.
  stress::options opts;
  opts.entities = 1;
  opts.clients = 64;
  opts.commands_per_client = 60;
  opts.in_flight = 2;
  opts.versioned = GENERATE(false, true);
  opts.stale_fraction = 0.1;
  opts.app.storage_shards = 2;
  opts.seed = 13;
  CAPTURE(opts.versioned);
  auto report = stress::run(rocksdb_memory_fixture{}.store, opts);
  require_verified(report);
  CHECK(report.commands == opts.clients * opts.commands_per_client);
  CHECK(report.other_errors == 0);
  CHECK(report.events == report.acknowledged);
  CHECK(report.stale_sent > 0);
  CHECK(report.conflicts >= report.stale_sent);
  if (!opts.versioned)
    CHECK(report.conflicts == report.stale_sent); // unversioned ones all land
}

TEST_CASE("stress: subscribers from position 0 see the whole log, each event once and in "
          "order, while the clients write",
          "[stress]") {
  auto on_rocksdb = GENERATE(false, true);
  auto earlier = GENERATE(std::uint64_t{0}, std::uint64_t{300}); // catch up first
  CAPTURE(on_rocksdb, earlier);
  auto store = on_rocksdb ? rocksdb_memory_fixture{}.store : memory_fixture{}.store;
  if (earlier > 0)
    REQUIRE(store->append(make_append(uuid::random(), 0, earlier)).ok());
  stress::options opts;
  opts.entities = 1'000;
  opts.clients = 32;
  opts.commands_per_client = 100;
  opts.in_flight = 2;
  opts.stale_fraction = 0.1;
  opts.app.idle_timeout = 20ms;
  opts.subscribers = 4;
  opts.seed = 17;
  auto report = stress::run(store, opts);
  require_verified(report);
  const auto& delivery = report.delivery;
  CHECK(delivery.subscribers == 4);
  CHECK(delivery.log_start == earlier);
  CHECK(delivery.log_end == earlier + report.events);
  CHECK(delivery.delivered == 4 * delivery.log_end); // each the whole log, once
  CHECK(delivery.events_per_second > 0);
  CHECK(delivery.slowest_events_per_second > 0);
  CHECK(delivery.lag_p99_us >= delivery.lag_p50_us);
}

TEST_CASE("stress: a subscriber that misses, repeats or reorders an event, gets another "
          "event than the log holds, or whose subscription ends early is a violation",
          "[stress]") {
  using fault = gated_store::log_fault;
  auto [kind, expected] = GENERATE(table<fault, std::string>({
    {fault::drop, "never got position 10$"},
    {fault::repeat, "got position 10 2 times"},
    {fault::swap, "got position 10 after 11: out of order"},
    {fault::alter, "got another event at position 10 than the global log holds"},
    {fault::fail, "of the log's .*: its subscription ended: .*disk full"},
  }));
  CAPTURE(static_cast<int>(kind));
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  // Stored before the run: a subscriber's first page holds position 10
  // and its neighbours.
  REQUIRE(gate->append(make_append(uuid::random(), 0, 100)).ok());
  gate->doctor_log_page(10, kind);
  stress::options opts;
  opts.entities = 100;
  opts.clients = 8;
  opts.commands_per_client = 50;
  opts.subscribers = 2;
  opts.seed = 19;
  auto report = stress::run(gate, opts);
  CHECK(gate->log_page_doctored());
  REQUIRE(report.verified);
  INFO("violations: " << Catch::Detail::stringify(report.violations));
  REQUIRE_FALSE(report.violations.empty());
  // Only the subscriber that got the spoiled page is named.
  const auto& first = report.violations.front();
  auto named = first.substr(0, first.find(' ', std::string{"subscriber "}.size()) + 1);
  CHECK_THAT(named, Catch::Matches("subscriber [12] "));
  for (const auto& violation : report.violations)
    CHECK_THAT(violation, Catch::StartsWith(named));
  CHECK(std::any_of(report.violations.begin(), report.violations.end(),
                    [&](const std::string& v) { return std::regex_search(v, std::regex{expected}); }));
  CHECK(report.delivery.subscribers == 2);
}
