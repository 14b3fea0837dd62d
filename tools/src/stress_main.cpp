// cafes-stress: many client actors, many entities; verifies the store at the
// end and reports throughput, conflicts, latency and memory. Exit codes:
// 0 verified, 1 an invariant broke, 2 bad usage, 3 the store could not open.

#include <cstdio>
#include <fstream>
#include <map>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cafes/storage/memory_store.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/stress.hpp"

using namespace cafes;

int main(int argc, char** argv) {
  CLI::App cli{"cafes-stress: drive many entity actors and verify every event"};
  stress::options opts;
  std::string store_kind = "rocksdb";
  std::string db_path;
  bool sync = false;
  std::string json_path;
  std::int64_t idle_ms = 0;
  std::int64_t timeout_ms = 60'000;
  cli.add_option("--entities", opts.entities, "distinct entities")->capture_default_str();
  cli.add_option("--clients", opts.clients, "concurrent client actors")->capture_default_str();
  cli.add_option("--commands", opts.commands_per_client, "commands per client")
    ->capture_default_str();
  cli.add_option("--in-flight", opts.in_flight, "outstanding commands per client")
    ->capture_default_str();
  cli.add_option("--keys", opts.keys, "key distribution: uniform, zipf or sequential")
    ->transform(CLI::CheckedTransformer(
      std::map<std::string, stress::key_distribution>{
        {"uniform", stress::key_distribution::uniform},
        {"zipf", stress::key_distribution::zipf},
        {"sequential", stress::key_distribution::sequential}},
      CLI::ignore_case).description(""))
    ->option_text("uniform|zipf|sequential [uniform]");
  cli.add_option("--zipf-exponent", opts.zipf_exponent, "skew of --keys zipf")
    ->capture_default_str();
  cli.add_option("--stale", opts.stale_fraction,
                 "fraction of commands sent with a stale expected version")
    ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cli.add_option("--store", store_kind, "memory or rocksdb")
    ->check(CLI::IsMember({"memory", "rocksdb"}))->capture_default_str();
  cli.add_option("--db", db_path, "RocksDB directory (default: RocksDB in memory)");
  cli.add_flag("--sync", sync, "sync the WAL before acknowledging (durable)");
  cli.add_option("--idle-ms", idle_ms, "passivate entity actors idle this long; 0 = never")
    ->check(CLI::NonNegativeNumber)->capture_default_str();
  cli.add_option("--timeout-ms", timeout_ms, "answer timeout per command; 0 = none")
    ->check(CLI::NonNegativeNumber)->capture_default_str();
  cli.add_option("--registry-shards", opts.app.registry_shards, "registries per aggregate; 0 = one per core")
    ->capture_default_str();
  cli.add_option("--storage-shards", opts.app.storage_shards, "storage actors; 0 = one per core")
    ->capture_default_str();
  cli.add_option("--threads", opts.app.scheduler_threads, "CAF scheduler threads; 0 = cores")
    ->capture_default_str();
  cli.add_option("--seed", opts.seed)->capture_default_str();
  cli.add_option("--json", json_path, "also write the report as JSON to this file");
  CLI11_PARSE(cli, argc, argv);
  if (opts.entities == 0 || opts.clients == 0) {
    std::fprintf(stderr, "error: --entities and --clients must be positive\n");
    return 2;
  }
  opts.app.idle_timeout = std::chrono::milliseconds{idle_ms};
  opts.command_timeout = std::chrono::milliseconds{timeout_ms};
  opts.progress = ::isatty(STDERR_FILENO) == 1;

  std::shared_ptr<event_store> store;
  if (store_kind == "memory") {
    store = std::make_shared<memory_store>();
  } else {
    rocksdb_options options;
    options.in_memory = db_path.empty();
    options.path = db_path;
    options.sync = sync;
    auto opened = rocksdb_store::open(options);
    if (!opened) {
      std::fprintf(stderr, "error: %s\n", opened.error().message.c_str());
      return 3;
    }
    store = std::move(*opened);
  }

  auto r = stress::run(store, opts);
  std::printf("%-26s %s\n", "store", (store_kind + (db_path.empty() ? "" : " " + db_path)
                                      + (sync ? " (sync)" : "")).c_str());
  auto row = [](const char* name, double value, const char* unit) {
    std::printf("%-26s %14.0f %s\n", name, value, unit);
  };
  row("entities", double(opts.entities), "");
  row("clients", double(opts.clients), "");
  row("commands answered", double(r.commands), "");
  row("acknowledged", double(r.acknowledged), "");
  row("conflicts", double(r.conflicts), "");
  row("  of which sent stale", double(r.stale_sent), "");
  row("rejections", double(r.rejections), "");
  row("other errors", double(r.other_errors), "");
  row("events stored", double(r.events), "");
  std::printf("%-26s %14.3f s\n", "time", r.seconds);
  row("commands/s", r.commands_per_second, "");
  row("events/s", r.events_per_second, "");
  row("latency p50", r.latency_p50_us, "us");
  row("latency p99", r.latency_p99_us, "us");
  row("latency p999", r.latency_p999_us, "us");
  row("peak resident actors", double(r.peak_resident), "");
  row("entity actors spawned", double(r.spawned), "");
  row("passivated", double(r.passivated), "");
  row("peak RSS", double(r.peak_rss_bytes) / (1 << 20), "MiB");
  std::printf("%-26s %14.3f s\n", "close (stop all actors)", r.close_seconds);
  std::printf("%-26s %14.3f s\n", "verification read-back", r.verify_seconds);
  std::printf("%-26s %14s\n", "verification",
              !r.verified ? "skipped" : r.violations.empty() ? "passed" : "FAILED");
  for (const auto& v : r.violations)
    std::printf("  violation: %s\n", v.c_str());

  if (!json_path.empty()) {
    nlohmann::json j = {
      {"store", store_kind}, {"sync", sync}, {"entities", opts.entities},
      {"clients", opts.clients}, {"commands_per_client", opts.commands_per_client},
      {"stale_fraction", opts.stale_fraction}, {"idle_ms", idle_ms},
      {"commands", r.commands}, {"acknowledged", r.acknowledged},
      {"conflicts", r.conflicts}, {"stale_sent", r.stale_sent},
      {"rejections", r.rejections}, {"other_errors", r.other_errors},
      {"events", r.events}, {"seconds", r.seconds},
      {"commands_per_second", r.commands_per_second},
      {"events_per_second", r.events_per_second},
      {"latency_us", {{"p50", r.latency_p50_us}, {"p99", r.latency_p99_us},
                      {"p999", r.latency_p999_us}}},
      {"peak_resident_actors", r.peak_resident}, {"spawned", r.spawned},
      {"passivated", r.passivated}, {"peak_rss_bytes", r.peak_rss_bytes},
      {"close_seconds", r.close_seconds}, {"verify_seconds", r.verify_seconds},
      {"verified", r.verified}, {"violations", r.violations}};
    std::ofstream{json_path} << j.dump(2) << '\n';
  }
  // The one line on stderr when it is not a terminal.
  std::fprintf(stderr, "cafes-stress: %s commands, %.0f/s, %s\n",
               std::to_string(r.commands).c_str(), r.commands_per_second,
               !r.verified ? "not verified"
               : r.violations.empty() ? "verified"
                                      : "VERIFICATION FAILED");
  return r.violations.empty() ? 0 : 1;
}
