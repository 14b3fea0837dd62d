// cafes-stress: many client actors, many entities; verifies the store at the
// end and reports throughput, conflicts, latency and memory. Exit codes:
// 0 verified (with --subscribers: each saw the whole log in order) and every
// command answered with success, a conflict or a rejection; 1 an invariant broke, or commands failed with other errors
// (storage failures, timeouts; unless --allow-errors); 2 bad usage; 3 the
// store could not open; 130 / 143 stopped by SIGINT / SIGTERM (after
// closing, verifying and reporting what ran).

#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cafes/net/node.hpp"
#include "cafes/etcd/etcd_store.hpp"
#include "cafes/storage/memory_store.hpp"
#include "cafes/storage/sharded_store.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes/tools/stop.hpp"
#include "cafes/tools/stress.hpp"
#include "cafes_samples/tally.hpp"

using namespace cafes;

namespace {

/// Serves tally counters over `store` as a CAF node at `address` until
/// SIGINT or SIGTERM. Returns the exit code.
int serve_node(const std::pair<std::string, std::uint16_t>& address, net::node_options node_opts,
               std::shared_ptr<event_store> store, const application_config& config) {
  node_opts.host = address.first;
  node_opts.port = address.second;
  net::node node{node_opts, config};
  application app{node.system(), std::move(store), config};
  auto port = node.publish<cafes_samples::tally::counter>(app);
  std::printf("cafes-stress: serving tally counters on %s:%u%s\n", address.first.c_str(),
              static_cast<unsigned>(port), node_opts.tls ? " (TLS)" : "");
  std::fflush(stdout);
  while (!tools::stop_requested())
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  node.close();
  std::printf("cafes-stress: stopped (%s)\n", tools::stop_signal_name());
  return tools::exit_ok;
}

// Upper bounds of the options (--help shows them): far above what this tool
// was measured with, below what would exhaust memory or threads.
constexpr std::uint64_t max_entities = 10'000'000;    // 16 bytes each while running
constexpr std::uint64_t max_clients = 100'000;        // one actor each
constexpr std::uint64_t max_commands = 100'000'000;   // in all: ~50 bytes each kept
constexpr std::uint64_t max_in_flight = 10'000;
constexpr std::uint64_t max_shards = max_application_threads;
constexpr std::uint64_t max_milliseconds = 86'400'000; // one day
constexpr std::uint64_t max_subscribers = 1'000;      // two actors each, each reads the log
constexpr std::uint64_t max_deliveries = 250'000'000; // in all: ~20 bytes each kept

int run(int argc, char** argv) {
  CLI::App cli{"cafes-stress: drive many entity actors and verify every event"};
  stress::options opts;
  std::string store_kind = "rocksdb";
  std::string db_path;
  bool sync = false;
  bool allow_errors = false;
  std::string json_path;
  std::string keys = "uniform";
  const std::map<std::string, stress::key_distribution> key_names{
    {"uniform", stress::key_distribution::uniform},
    {"zipf", stress::key_distribution::zipf},
    {"sequential", stress::key_distribution::sequential}};
  std::int64_t idle_ms = 0;
  std::int64_t timeout_ms = 60'000;
  std::string progress = "auto";
  cli.add_option("--entities", opts.entities, "distinct entities")
    ->check(tools::whole_number(1, max_entities))->capture_default_str();
  cli.add_option("--clients", opts.clients, "concurrent client actors")
    ->check(tools::whole_number(1, max_clients))->capture_default_str();
  cli.add_option("--commands", opts.commands_per_client, "commands per client")
    ->check(tools::whole_number(0, max_commands))->capture_default_str();
  cli.add_option("--in-flight", opts.in_flight, "outstanding commands per client")
    ->check(tools::whole_number(1, max_in_flight))->capture_default_str();
  cli.add_option("--keys", keys, "key distribution")
    ->check(CLI::IsMember(key_names, CLI::ignore_case))->capture_default_str();
  cli.add_option("--zipf-exponent", opts.zipf_exponent, "skew of --keys zipf")
    ->check(tools::real_number(0, 10))->capture_default_str();
  bool unversioned = false;
  cli.add_flag("--unversioned", unversioned,
               "send commands that are not stale without an expected version");
  cli.add_option("--stale", opts.stale_fraction,
                 "fraction of commands sent with a stale expected version")
    ->check(tools::real_number(0, 1))->capture_default_str();
  cli.add_option("--subscribers", opts.subscribers,
                 "subscriptions of the global log from position 0 during the run; each "
                 "must see the whole log in order (lag: from the decision to delivery)")
    ->check(tools::whole_number(0, max_subscribers))->capture_default_str();
  cli.add_option("--store", store_kind, "memory, rocksdb or etcd")
    ->check(CLI::IsMember({"memory", "rocksdb", "etcd"}))->capture_default_str();
  std::vector<std::string> clusters;
  std::string etcd_prefix = "cafes/";
  cli.add_option("--endpoints", clusters,
                 "an etcd cluster's members, HOST:PORT,HOST:PORT,... (with --store etcd); "
                 "given again for each further cluster, entities are sharded over them by id")
    ->take_all()->allow_extra_args(false);
  cli.add_option("--etcd-prefix", etcd_prefix, "key prefix of the store in etcd")
    ->capture_default_str();
  etcd_tls etcd_tls_files;
  bool etcd_tls_on = false;
  cli.add_flag("--etcd-tls", etcd_tls_on,
               "TLS towards etcd, trusting gRPC's default roots (implied by --etcd-cacert, "
               "--etcd-cert and --etcd-key)");
  cli.add_option("--etcd-cacert", etcd_tls_files.ca_file,
                 "TLS towards etcd: the CA of the members' certificates (PEM)")
    ->check(CLI::ExistingFile);
  cli.add_option("--etcd-cert", etcd_tls_files.cert_file,
                 "TLS towards etcd: this client's certificate (PEM), for a cluster with "
                 "--client-cert-auth")
    ->check(CLI::ExistingFile);
  cli.add_option("--etcd-key", etcd_tls_files.key_file,
                 "TLS towards etcd: that certificate's unencrypted key (PEM)")
    ->check(CLI::ExistingFile);
  std::uint64_t entity_seed = 0;
  cli.add_option("--entity-seed", entity_seed,
                 "picks the entity ids (default: --seed); processes sharing a store give "
                 "the same one to race on the same entities")
    ->check(tools::whole_number(0, UINT64_MAX));
  cli.add_flag("--shared", opts.shared,
               "other processes write the same entities meanwhile: their events are not "
               "violations");
  cli.add_option("--db", db_path, "RocksDB directory (default: RocksDB in memory)")
    ->check(tools::non_empty_path());
  cli.add_flag("--sync", sync, "sync the WAL before acknowledging (durable)");
  cli.add_option("--idle-ms", idle_ms, "passivate entity actors idle this long; 0 = never")
    ->check(tools::whole_number(0, max_milliseconds))->capture_default_str();
  cli.add_option("--timeout-ms", timeout_ms, "answer timeout per command; 0 = none")
    ->check(tools::whole_number(0, max_milliseconds))->capture_default_str();
  cli.add_option("--registry-shards", opts.app.registry_shards, "registries per aggregate; 0 = one per core")
    ->check(tools::whole_number(0, max_shards))->capture_default_str();
  cli.add_option("--storage-shards", opts.app.storage_shards, "storage actors; 0 = one per core")
    ->check(tools::whole_number(0, max_shards))->capture_default_str();
  cli.add_option("--threads", opts.app.scheduler_threads, "CAF scheduler threads; 0 = cores")
    ->check(tools::whole_number(0, max_application_threads))->capture_default_str();
  cli.add_option("--seed", opts.seed)
    ->check(tools::whole_number(0, UINT64_MAX))->capture_default_str();
  cli.add_option("--json", json_path, "also write the report as JSON to this file")
    ->check(tools::writable_file());
  cli.add_flag("--allow-errors", allow_errors,
               "exit 0 even if commands failed with errors other than conflicts and "
               "rejections (storage failures, timeouts)");
  cli.add_option("--progress", progress,
                 "on stderr: auto (a bar on a terminal, else none), bar, lines (one a "
                 "second) or none")
    ->check(CLI::IsMember({"auto", "bar", "lines", "none"}))->capture_default_str();
  std::string listen, connect, tls_cert, tls_key, tls_ca;
  cli.add_option("--listen", listen,
                 "serve tally counters over the store as a CAF node at HOST:PORT (port 0: "
                 "any) until SIGINT or SIGTERM, for --connect runs elsewhere");
  cli.add_option("--connect", connect,
                 "drive the node at HOST:PORT (see --listen), after the same run in process "
                 "on RocksDB in memory; verifies by reading every entity back from the node");
  cli.add_option("--tls-cert", tls_cert, "node certificate (PEM): TLS with --listen/--connect");
  cli.add_option("--tls-key", tls_key, "its private key (PEM)");
  cli.add_option("--tls-ca", tls_ca, "CA whose certificates peers must have");
  if (auto code = tools::parse(cli, argc, argv))
    return *code;
  std::optional<std::pair<std::string, std::uint16_t>> listen_at, connect_to;
  if (!listen.empty() && !(listen_at = tools::host_port(listen)))
    return tools::usage_error("--listen: '" + listen + "' is not HOST:PORT");
  if (!connect.empty() && !(connect_to = tools::host_port(connect)))
    return tools::usage_error("--connect: '" + connect + "' is not HOST:PORT");
  if (listen_at && connect_to)
    return tools::usage_error("--listen and --connect: one process serves, another connects");
  if (connect_to && (cli.count("--db") > 0 || sync || store_kind == "memory"))
    return tools::usage_error("--connect drives another process's store: no --db, --sync or "
                              "--store");
  if (connect_to && opts.subscribers > 0)
    return tools::usage_error("--subscribers need the store: not with --connect");
  net::node_options node_opts;
  if (!tls_cert.empty() || !tls_key.empty() || !tls_ca.empty()) {
    if (tls_cert.empty() || tls_key.empty() || tls_ca.empty())
      return tools::usage_error("TLS needs --tls-cert, --tls-key and --tls-ca");
    if (!listen_at && !connect_to)
      return tools::usage_error("--tls-* go with --listen or --connect");
    node_opts.tls = net::tls_options{tls_cert, tls_key, "", tls_ca};
  }
  opts.versioned = !unversioned;
  if (cli.count("--entity-seed") > 0)
    opts.entity_seed = entity_seed;
  if ((store_kind == "etcd") != (cli.count("--endpoints") > 0))
    return tools::usage_error("--store etcd needs --endpoints, and --endpoints needs --store etcd");
  if (cli.count("--etcd-prefix") > 0 && store_kind != "etcd")
    return tools::usage_error("--etcd-prefix needs --store etcd");
  etcd_tls_on = etcd_tls_on || !etcd_tls_files.ca_file.empty()
                || !etcd_tls_files.cert_file.empty() || !etcd_tls_files.key_file.empty();
  if (etcd_tls_on && store_kind != "etcd")
    return tools::usage_error("--etcd-tls, --etcd-cacert, --etcd-cert and --etcd-key need "
                              "--store etcd");
  if (etcd_tls_files.cert_file.empty() != etcd_tls_files.key_file.empty())
    return tools::usage_error("--etcd-cert and --etcd-key go together");
  std::vector<std::vector<std::string>> etcd_clusters;
  if (store_kind == "etcd") {
    for (const auto& cluster : clusters) {
      auto parsed = parse_endpoints(cluster);
      if (!parsed)
        return tools::usage_error("--endpoints: " + parsed.error().message);
      etcd_clusters.push_back(std::move(*parsed));
    }
    if (etcd_clusters.size() > 1 && opts.subscribers > 0)
      return tools::usage_error("--subscribers need one global log: not with several "
                                "--endpoints clusters (each has its own)");
    opts.global_log = etcd_clusters.size() == 1;
    if (cli.count("--db") > 0 || sync)
      return tools::usage_error("--db and --sync need --store rocksdb (etcd always syncs)");
  }
  if (store_kind == "memory" && (cli.count("--db") > 0 || sync))
    return tools::usage_error("--db and --sync need --store rocksdb");
  if (opts.commands_per_client > max_commands / opts.clients)
    return tools::usage_error("--clients x --commands is more than "
                              + std::to_string(max_commands) + " commands");
  if (opts.subscribers > 0
      && opts.clients * opts.commands_per_client > max_deliveries / opts.subscribers)
    return tools::usage_error("--subscribers x --clients x --commands is more than "
                              + std::to_string(max_deliveries) + " deliveries");
  opts.keys = key_names.at(CLI::detail::to_lower(keys));
  opts.app.idle_timeout = std::chrono::milliseconds{idle_ms};
  opts.command_timeout = std::chrono::milliseconds{timeout_ms};
  if (progress == "auto")
    progress = ::isatty(STDERR_FILENO) == 1 ? "bar" : "none";
  opts.progress = progress == "bar"     ? stress::progress_display::bar
                  : progress == "lines" ? stress::progress_display::lines
                                        : stress::progress_display::none;
  // From here on SIGINT and SIGTERM stop the run, which still reports, and a
  // write past a file size limit is a storage failure, not the end.
  tools::install_stop_handlers();
  tools::ignore_file_size_signal();
  opts.stop = &tools::stop_requested();

  std::shared_ptr<event_store> store;
  std::optional<stress::report> in_process; // with --connect: the same run, here
  stress::report r;
  if (connect_to) {
    rocksdb_options memory;
    memory.in_memory = true;
    auto local_opts = opts;
    local_opts.progress = stress::progress_display::none;
    in_process = stress::run(std::shared_ptr<event_store>{std::move(*rocksdb_store::open(memory))},
                             local_opts);
    net::node node{node_opts, opts.app};
    auto remote = node.connect(connect_to->first, connect_to->second, opts.app);
    if (!remote) {
      std::fprintf(stderr, "error: cannot connect to %s: %s\n", connect.c_str(),
                   to_string(remote.error()).c_str());
      return tools::exit_unavailable;
    }
    r = stress::run_remote(**remote, opts);
    remote->reset(); // before the node
  } else if (store_kind == "memory") {
    store = std::make_shared<memory_store>();
  } else if (store_kind == "etcd") {
    std::vector<std::shared_ptr<event_store>> shards;
    for (const auto& cluster : etcd_clusters) {
      etcd_options options;
      options.endpoints = cluster;
      options.key_prefix = etcd_prefix;
      if (etcd_tls_on)
        options.tls = etcd_tls_files;
      auto opened = etcd_store::open(options);
      if (!opened) {
        // Refused before connecting: a value given on the command line (a
        // TLS file, an endpoint's host without an address).
        if (opened.error().code == ec::invalid_argument)
          return tools::usage_error(opened.error().message);
        std::fprintf(stderr, "error: %s\n", opened.error().message.c_str());
        return tools::exit_unavailable;
      }
      shards.push_back(std::move(*opened));
    }
    if (shards.size() == 1)
      store = std::move(shards.front());
    else
      store = std::move(*sharded_store::make(std::move(shards)));
  } else {
    rocksdb_options options;
    options.in_memory = db_path.empty();
    options.path = db_path;
    options.sync = sync;
    auto opened = rocksdb_store::open(options);
    if (!opened) {
      std::fprintf(stderr, "error: %s\n", opened.error().message.c_str());
      return tools::exit_unavailable;
    }
    store = std::move(*opened);
  }
  if (listen_at)
    return serve_node(*listen_at, node_opts, store, opts.app);
  if (!connect_to && !opts.shared && opts.entities > 0) {
    auto used = stress::first_used_entity(*store, opts);
    if (!used) {
      std::fprintf(stderr, "error: %s\n", to_string(used.error()).c_str());
      return tools::exit_unavailable;
    }
    if (*used) {
      auto seed_option = std::string{opts.entity_seed ? "--entity-seed" : "--seed"};
      return tools::usage_error(
        "entity " + to_string(**used) + " of this run (" + seed_option + " "
        + std::to_string(opts.entity_seed.value_or(opts.seed))
        + ") already has events in the store, and the verification would count them as "
          "this run's: give another "
        + seed_option
        + ", a fresh --db or --etcd-prefix, or (other processes write these entities) "
          "--shared with a --seed of its own");
    }
  }
  if (!connect_to)
    r = stress::run(store, opts);
  if (connect_to)
    std::printf("%-26s %s%s\n", "store", ("the node at " + connect).c_str(),
                node_opts.tls ? " (TLS)" : "");
  else
    std::printf("%-26s %s\n", "store", (store_kind + (db_path.empty() ? "" : " " + db_path)
                                        + [&] {
                                            std::string all;
                                            for (const auto& cluster : clusters)
                                              all += " " + cluster;
                                            return all;
                                          }()
                                        + (sync ? " (sync)" : "")).c_str());
  auto row = [](const char* name, double value, const char* unit) {
    std::printf("%-26s %14.0f %s\n", name, value, unit);
  };
  row("entities", double(opts.entities), "");
  row("clients", double(opts.clients), "");
  row("commands answered", double(r.commands), "");
  bool interrupted = r.interrupted || tools::stop_requested();
  if (interrupted)
    std::printf("%-26s %14s  by %s; %llu commands not sent\n", "interrupted", "yes",
                tools::stop_signal_name(), static_cast<unsigned long long>(r.unsent));
  row("acknowledged", double(r.acknowledged), "");
  row("conflicts", double(r.conflicts), "");
  row("  of which sent stale", double(r.stale_sent), "");
  row("rejections", double(r.rejections), "");
  row("other errors", double(r.other_errors), "");
  for (const auto& [code, errors] : r.errors)
    std::printf("  %-24s %14llu  first: %s\n", std::string{to_string(code)}.c_str(),
                static_cast<unsigned long long>(errors.count), errors.first_message.c_str());
  row("events stored", double(r.events), "");
  if (opts.shared)
    row("of other processes", double(r.foreign_events), "");
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
  const auto& d = r.delivery;
  if (d.subscribers > 0) {
    row("subscribers", double(d.subscribers), "each from position 0");
    row("  log before the run", double(d.log_start), "last position");
    row("  log after the run", double(d.log_end), "last position");
    row("  events delivered", double(d.delivered), "all subscribers");
    row("  delivered/s", d.events_per_second, "all subscribers");
    row("  delivered/s, slowest", d.slowest_events_per_second, "one subscriber");
    row("  lag p50", d.lag_p50_us, "us (from the decision to delivery)");
    row("  lag p99", d.lag_p99_us, "us");
    std::printf("%-26s %14.3f s after the last answer\n", "  all caught up",
                d.catch_up_seconds);
  }
  if (in_process) {
    // The network path beside the in-process one, same options, same run.
    std::printf("%-26s %14.0f commands/s, p50 %.0f us, p99 %.0f us (RocksDB in memory, %s)\n",
                "in process, same run", in_process->commands_per_second,
                in_process->latency_p50_us, in_process->latency_p99_us,
                in_process->violations.empty() ? "verified" : "VERIFICATION FAILED");
    std::printf("%-26s %14.2f commands/s, %.2f p50 latency\n", "node / in process",
                in_process->commands_per_second > 0
                  ? r.commands_per_second / in_process->commands_per_second
                  : 0.0,
                in_process->latency_p50_us > 0 ? r.latency_p50_us / in_process->latency_p50_us
                                               : 0.0);
  }
  std::printf("%-26s %14.3f s\n", "close (stop all actors)", r.close_seconds);
  std::printf("%-26s %14.3f s\n", "verification read-back", r.verify_seconds);
  std::printf("%-26s %14s\n", "verification",
              !r.verified ? "skipped" : r.violations.empty() ? "passed" : "FAILED");
  for (const auto& v : r.violations)
    std::printf("  violation: %s\n", v.c_str());

  if (!json_path.empty()) {
    auto errors_json = nlohmann::json::object();
    for (const auto& [code, errors] : r.errors)
      errors_json[std::string{to_string(code)}] = {{"count", errors.count},
                                                   {"first_message", errors.first_message}};
    nlohmann::json j = {
      {"store", store_kind}, {"sync", sync}, {"entities", opts.entities},
      {"clients", opts.clients}, {"commands_per_client", opts.commands_per_client},
      {"stale_fraction", opts.stale_fraction}, {"idle_ms", idle_ms},
      {"commands", r.commands}, {"acknowledged", r.acknowledged},
      {"conflicts", r.conflicts}, {"stale_sent", r.stale_sent},
      {"rejections", r.rejections}, {"other_errors", r.other_errors},
      {"errors", errors_json}, {"allow_errors", allow_errors},
      {"events", r.events}, {"seconds", r.seconds},
      {"commands_per_second", r.commands_per_second},
      {"events_per_second", r.events_per_second},
      {"latency_us", {{"p50", r.latency_p50_us}, {"p99", r.latency_p99_us},
                      {"p999", r.latency_p999_us}}},
      {"peak_resident_actors", r.peak_resident}, {"spawned", r.spawned},
      {"passivated", r.passivated}, {"peak_rss_bytes", r.peak_rss_bytes},
      {"close_seconds", r.close_seconds}, {"verify_seconds", r.verify_seconds},
      {"verified", r.verified}, {"violations", r.violations},
      {"interrupted", interrupted}, {"signal", tools::stop_signal_name()},
      {"unsent", r.unsent}};
    if (d.subscribers > 0)
      j["subscribers"] = {
        {"count", d.subscribers}, {"log_start", d.log_start}, {"log_end", d.log_end},
        {"delivered", d.delivered}, {"seconds", d.seconds},
        {"events_per_second", d.events_per_second},
        {"slowest_events_per_second", d.slowest_events_per_second},
        {"catch_up_seconds", d.catch_up_seconds},
        {"lag_us", {{"p50", d.lag_p50_us}, {"p99", d.lag_p99_us}}},
        {"lag_from", "decision"}};
    if (in_process)
      j["in_process"] = {{"commands_per_second", in_process->commands_per_second},
                         {"latency_us", {{"p50", in_process->latency_p50_us},
                                         {"p99", in_process->latency_p99_us}}},
                         {"verified", in_process->violations.empty()}};
    if (connect_to)
      j["node"] = connect;
    std::ofstream file{json_path};
    file << j.dump(2) << '\n';
    file.close();
    if (!file) {
      std::fprintf(stderr, "error: cannot write %s\n", json_path.c_str());
      return tools::exit_failed;
    }
  }
  // The one line on stderr when it is not a terminal.
  std::string failed;
  for (const auto& [code, errors] : r.errors)
    failed += (failed.empty() ? ", " : " + ") + std::to_string(errors.count) + " "
              + std::string{to_string(code)};
  std::fprintf(stderr, "cafes-stress: %s commands, %.0f/s, %s%s%s%s%s\n",
               std::to_string(r.commands).c_str(), r.commands_per_second,
               !r.verified ? "not verified"
               : r.violations.empty() ? "verified"
                                      : "VERIFICATION FAILED",
               failed.c_str(), failed.empty() ? "" : " (commands FAILED)",
               interrupted ? ", interrupted by " : "", tools::stop_signal_name());
  if (!r.violations.empty())
    return tools::exit_failed;
  if (interrupted)
    return tools::stopped_exit_code();
  return r.other_errors > 0 && !allow_errors ? tools::exit_failed : tools::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const cafes_error& e) {
    if (e.code() == ec::invalid_argument)
      return tools::usage_error(e.what());
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  }
  return tools::exit_failed;
}
