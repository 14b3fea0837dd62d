// Stress runs small enough for CI: many clients, stale commands, passivation
// forcing respawns; the read-back verification must hold.

#include <catch2/catch.hpp>

#include <atomic>
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
