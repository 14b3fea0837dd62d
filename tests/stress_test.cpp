// Stress runs small enough for CI: many clients, stale commands, passivation
// forcing respawns; the read-back verification must hold.

#include <catch2/catch.hpp>

#include "cafes/tools/stress.hpp"
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
