// cafes-bench: throughput of the full actor path against a plain
// single-thread loop over the RocksDB store, both in this one process run
// (the machine is shared and noisy: ratios of medians, not absolute figures).
// Also: replay of a 10,000-event entity, spawning many entity actors, and
// subscriptions of the global log (catch-up and live).
// Exit codes: 0 results written, 1 a measurement failed, 2 bad usage,
// 130 / 143 stopped by SIGINT / SIGTERM (no results written).

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>
#include <thread>
#include <time.h>
#include <tuple>
#include <variant>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "cafes/etcd/etcd_store.hpp"
#include "cafes/storage/memory_store.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes/tools/stop.hpp"
#include "cafes/tools/stress.hpp"
#include "cafes_samples/tally.hpp"
#include "bench_support.hpp"
#include "etcd_bench.hpp"
#include "network_bench.hpp"
#include "node_case.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::bench;
using clock_type = std::chrono::steady_clock;

namespace {


struct settings {
  std::uint64_t entities = 10'000;
  std::uint64_t appends = 200'000;       // per baseline run, no sync
  std::uint64_t synced_appends = 2'000;  // per baseline run, sync
  std::vector<std::uint64_t> clients{1, 8, 64, 512};
  std::vector<std::uint64_t> hot_clients{1, 8, 64};
  int repeats = 3;
  double idle_seconds = 10;
  std::uint64_t spawn_count = 1'000'000;
};

/// The store alone, no actors, one thread: conditional appends over
/// `entities` in turn, `batch` per transaction (append_batch). With a batch
/// of 1 this is the baseline: one transaction per event.
double store_events_per_second(bool sync, std::uint64_t appends,
                               std::uint64_t entities, std::size_t batch) {
  scratch_dir dir;
  auto store = open_store(dir.path(), sync);
  std::vector<std::uint64_t> heads(entities, 0);
  std::vector<append_request> requests;
  std::vector<std::uint64_t> indices;
  std::mt19937_64 rng{42};
  auto start = clock_type::now();
  for (std::uint64_t i = 0; i < appends;) {
    stop_point();
    requests.clear();
    indices.clear();
    for (; i < appends && requests.size() < batch; ++i) {
      auto index = i % entities;
      auto event = encode(tally::counter::event{tally::added{uuid{rng(), rng()}, 1}});
      // Expected versions count the batch's earlier appends to the entity
      // (one entity: a batch is one entity's consecutive appends).
      requests.push_back({stress::entity_of(1, index), heads[index]++,
                          {event_record{{}, 0, uuid::random(), event.type,
                                        event.payload, now_ns()}}});
      indices.push_back(index);
    }
    auto versions = store->append_batch(requests);
    for (std::size_t k = 0; k < versions.size(); ++k) {
      if (!versions[k])
        throw std::runtime_error(to_string(versions[k].error()));
      if (*versions[k] != requests[k].expected_version + 1)
        throw std::runtime_error("the store loop lost count of a head");
    }
  }
  return appends / seconds_since(start);
}

/// Plain loop: one conditional append (one transaction) per event.
double baseline_events_per_second(bool sync, std::uint64_t appends,
                                  std::uint64_t entities) {
  return store_events_per_second(sync, appends, entities, 1);
}

/// The full path: client actors -> registry -> entity actors -> storage
/// actor -> RocksDB, verified afterwards.
stress::report actor_path(std::shared_ptr<event_store> store, std::uint64_t clients,
                          std::uint64_t commands, std::uint64_t entities,
                          bool versioned = true, std::uint64_t subscribers = 0) {
  stress::options opts;
  opts.versioned = versioned;
  opts.subscribers = subscribers;
  opts.entities = entities;
  opts.clients = clients;
  opts.commands_per_client = std::max<std::uint64_t>(commands / clients, 1);
  opts.in_flight = 1;
  opts.command_timeout = std::chrono::milliseconds{0}; // the baseline has no timers either
  opts.app.scheduler_threads = 2;
  opts.app.registry_shards = 2;
  opts.app.storage_shards = 2;
  opts.stop = &tools::stop_requested();
  auto report = stress::run(std::move(store), opts);
  stop_point(); // an interrupted run measures nothing
  if (!report.violations.empty())
    throw std::runtime_error("verification failed: " + report.violations.front());
  return report;
}

nlohmann::json measure_throughput(const settings& s, bool sync) {
  auto appends = sync ? s.synced_appends : s.appends;
  nlohmann::json rows = nlohmann::json::array();
  std::vector<double> baseline_runs;
  for (auto clients : s.clients) {
    std::vector<double> actor_runs;
    std::vector<double> p99_runs;
    for (int r = 0; r < s.repeats; ++r) {
      // Alternate the two so that machine noise hits both alike.
      baseline_runs.push_back(baseline_events_per_second(sync, appends, s.entities));
      // Synced runs need enough clients in flight to fill a group commit.
      auto commands = sync ? std::max<std::uint64_t>(appends * 10, clients * 20) : appends;
      scratch_dir dir;
      auto report = actor_path(open_store(dir.path(), sync), clients, commands, s.entities);
      actor_runs.push_back(report.events_per_second);
      p99_runs.push_back(report.latency_p99_us);
    }
    auto baseline = median(baseline_runs);
    auto actors = median(actor_runs);
    std::printf("  %-6s clients %4llu: baseline %9.0f ev/s, actor path %9.0f ev/s, "
                "ratio %5.2fx, p99 %7.0f us\n",
                sync ? "sync" : "nosync", (unsigned long long)clients, baseline, actors,
                actors / baseline, median(p99_runs));
    std::fflush(stdout);
    rows.push_back({{"clients", clients}, {"baseline_events_per_second", baseline},
                    {"actor_events_per_second", actors}, {"ratio", actors / baseline},
                    {"actor_p99_us", median(p99_runs)}});
  }
  return rows;
}

/// What bounds the actor path without sync: the store alone with group
/// commit (no messaging), and the actor path over the in-memory map store
/// (messaging, almost no storage work). Each against the baseline, in turns.
nlohmann::json measure_ceilings(const settings& s) {
  constexpr std::size_t batch = 256;
  const auto clients = s.clients.back();
  std::vector<double> baseline_runs, batched_runs, messaging_runs;
  for (int r = 0; r < s.repeats; ++r) {
    baseline_runs.push_back(baseline_events_per_second(false, s.appends, s.entities));
    batched_runs.push_back(store_events_per_second(false, s.appends, s.entities, batch));
    messaging_runs.push_back(
      actor_path(std::make_shared<memory_store>(), clients, s.appends, s.entities)
        .events_per_second);
  }
  auto baseline = median(baseline_runs);
  auto batched = median(batched_runs);
  auto messaging = median(messaging_runs);
  std::printf("  baseline %.0f ev/s; RocksDB store alone, %zu appends per "
              "transaction, one thread: %.0f ev/s (%.2fx); actor path over the "
              "memory store, %llu clients: %.0f ev/s (%.2fx)\n",
              baseline, batch, batched, batched / baseline,
              (unsigned long long)clients, messaging, messaging / baseline);
  return {{"baseline_events_per_second", baseline},
          {"batch", batch},
          {"store_batched_events_per_second", batched},
          {"store_batched_ratio", batched / baseline},
          {"clients", clients},
          {"memory_store_actor_events_per_second", messaging},
          {"memory_store_actor_ratio", messaging / baseline}};
}

struct latency {
  double p50_us = 0;
  double p99_us = 0;
};

latency percentiles(std::vector<double> micros) {
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    return micros.empty() ? 0.0 : micros[static_cast<std::size_t>(q * (micros.size() - 1))];
  };
  return {at(0.50), at(0.99)};
}

/// The raw store, one thread: `count` single conditional appends, each timed.
latency store_append_latency(bool sync, std::uint64_t count) {
  scratch_dir dir;
  auto store = open_store(dir.path(), sync);
  std::vector<double> micros;
  micros.reserve(count);
  std::vector<std::uint64_t> heads(1'000, 0);
  for (std::uint64_t i = 0; i < count; ++i) {
    stop_point();
    auto index = i % heads.size();
    auto event = encode(tally::counter::event{tally::added{uuid::random(), 1}});
    append_request request{stress::entity_of(2, index), heads[index],
                           {event_record{{}, 0, uuid::random(), event.type,
                                         event.payload, now_ns()}}};
    auto start = clock_type::now();
    auto version = store->append(request);
    micros.push_back(seconds_since(start) * 1e6);
    if (!version)
      throw std::runtime_error(to_string(version.error()));
    heads[index] = *version;
  }
  return percentiles(std::move(micros));
}

/// One client, one command in flight: the round trip through the actor path
/// against the raw append, sync off and on (targets: <= 3x and <= 1.3x).
nlohmann::json measure_latency(const settings& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (bool sync : {false, true}) {
    auto commands = sync ? s.synced_appends : s.appends / 20;
    std::vector<double> raw_p50, raw_p99, actor_p50, actor_p99;
    for (int r = 0; r < s.repeats; ++r) {
      auto raw = store_append_latency(sync, commands);
      raw_p50.push_back(raw.p50_us);
      raw_p99.push_back(raw.p99_us);
      scratch_dir dir;
      // 10 entities: after its first command each actor is loaded, so the
      // figure is the round trip, not spawning and replay.
      auto report = actor_path(open_store(dir.path(), sync), 1, commands, 10);
      actor_p50.push_back(report.latency_p50_us);
      actor_p99.push_back(report.latency_p99_us);
    }
    auto ratio = median(actor_p50) / median(raw_p50);
    std::printf("  %-6s 1 client: raw append p50 %7.1f us p99 %7.1f us; actor path "
                "p50 %7.1f us p99 %7.1f us; p50 ratio %5.2fx (runs %.1f-%.1f us)\n",
                sync ? "sync" : "nosync", median(raw_p50), median(raw_p99),
                median(actor_p50), median(actor_p99), ratio,
                *std::min_element(actor_p50.begin(), actor_p50.end()),
                *std::max_element(actor_p50.begin(), actor_p50.end()));
    std::fflush(stdout);
    rows.push_back({{"sync", sync}, {"raw_p50_us", median(raw_p50)},
                    {"raw_p99_us", median(raw_p99)}, {"actor_p50_us", median(actor_p50)},
                    {"actor_p99_us", median(actor_p99)}, {"ratio_p50", ratio},
                    {"actor_p50_runs_us", actor_p50}});
  }
  return rows;
}

/// One thread through the synchronous API, RocksDB in memory: get a copy,
/// execute a command on it, repeat; against the raw in-memory append
/// (target: a pair <= 6x one raw append).
nlohmann::json measure_sync_loop(const settings& s) {
  const auto pairs = s.appends / 20;
  std::vector<double> raw_us, pair_us;
  for (int r = 0; r < s.repeats; ++r) {
    stop_point();
    {
      auto store = open_memory_store();
      auto id = uuid::random();
      auto start = clock_type::now();
      for (std::uint64_t i = 0; i < pairs; ++i) {
        auto event = encode(tally::counter::event{tally::added{uuid::random(), 1}});
        if (!store->append({id, i, {event_record{{}, 0, uuid::random(), event.type,
                                                 event.payload, now_ns()}}}))
          throw std::runtime_error("raw append failed");
      }
      raw_us.push_back(seconds_since(start) * 1e6 / double(pairs));
    }
    application app{open_memory_store()};
    auto tallies = app.entities<tally::counter>();
    auto id = tallies.create(tally::add{uuid::random(), 1}).id;
    auto start = clock_type::now();
    for (std::uint64_t i = 0; i < pairs; ++i) {
      auto copy = tallies.get(id);
      tallies.execute(copy, tally::add{uuid::random(), 1});
    }
    pair_us.push_back(seconds_since(start) * 1e6 / double(pairs));
  }
  auto ratio = median(pair_us) / median(raw_us);
  std::printf("  raw in-memory append %.1f us; get + execute through the synchronous "
              "API %.1f us per pair (%.0f pairs/s); ratio %.1fx\n",
              median(raw_us), median(pair_us), 1e6 / median(pair_us), ratio);
  std::fflush(stdout);
  return {{"raw_append_us", median(raw_us)}, {"pair_us", median(pair_us)},
          {"pairs_per_second", 1e6 / median(pair_us)}, {"ratio", ratio},
          {"pair_runs_us", pair_us}};
}

/// An aggregate whose state is `cells` numbers (fixed at creation), for
/// measuring what the state's size costs a command and a get.
struct cells {
  static constexpr std::string_view name = "bench.cells";
  struct state {
    std::vector<std::int64_t> values;
    auto fields() const { return std::tie(values); }
  };
  struct fill {
    static constexpr std::string_view type_name = "bench.fill";
    std::uint64_t count = 0;
    auto fields() const { return std::tie(count); }
  };
  struct bump {
    static constexpr std::string_view type_name = "bench.bump";
    std::uint64_t index = 0;
    auto fields() const { return std::tie(index); }
  };
  using command = std::variant<fill, bump>;
  struct filled {
    static constexpr std::string_view type_name = "bench.filled";
    std::uint64_t count = 0;
    auto fields() const { return std::tie(count); }
  };
  struct bumped {
    static constexpr std::string_view type_name = "bench.bumped";
    std::uint64_t index = 0;
    auto fields() const { return std::tie(index); }
  };
  using event = std::variant<filled, bumped>;

  static decision<event> decide(const state& current, const command& c) {
    if (const auto* f = std::get_if<fill>(&c))
      return std::vector<event>{filled{f->count}};
    auto index = std::get<bump>(c).index;
    if (index >= current.values.size())
      return reject("no cell " + std::to_string(index));
    return std::vector<event>{bumped{index}};
  }
  static state evolve(state s, const event& e) {
    if (const auto* f = std::get_if<filled>(&e))
      s.values.assign(f->count, 0);
    else
      ++s.values[std::get<bumped>(e).index];
    return s;
  }
};

/// One thread through the synchronous API, RocksDB in memory: a command on
/// a copy, and a get, for an entity whose state holds 1 number and one
/// whose state holds `large` (a command's answer carries its events, so
/// its cost should not grow with the state; a get's carries the state).
nlohmann::json measure_state_size(const settings& s) {
  const std::uint64_t large = 10'000;
  const auto commands = s.appends / 40;
  nlohmann::json rows = nlohmann::json::array();
  std::vector<double> per_size_execute, per_size_get;
  for (std::uint64_t size : {std::uint64_t{1}, large}) {
    std::vector<double> execute_us, get_us;
    for (int r = 0; r < s.repeats; ++r) {
      stop_point();
      application app{open_memory_store()};
      auto entities = app.entities<cells>();
      auto copy = entities.create(cells::fill{size});
      auto start = clock_type::now();
      for (std::uint64_t i = 0; i < commands; ++i)
        entities.execute(copy, cells::bump{i % size});
      execute_us.push_back(seconds_since(start) * 1e6 / double(commands));
      const auto gets = commands / 10;
      start = clock_type::now();
      for (std::uint64_t i = 0; i < gets; ++i)
        copy = entities.get(copy.id);
      get_us.push_back(seconds_since(start) * 1e6 / double(gets));
      if (copy.state.values.size() != size || copy.version != commands + 1)
        throw std::runtime_error("state_size: the copy went wrong");
    }
    per_size_execute.push_back(median(execute_us));
    per_size_get.push_back(median(get_us));
    std::printf("  state of %6llu numbers: execute on a copy %7.1f us (runs %.1f-%.1f), "
                "get %8.1f us\n",
                static_cast<unsigned long long>(size), median(execute_us),
                *std::min_element(execute_us.begin(), execute_us.end()),
                *std::max_element(execute_us.begin(), execute_us.end()), median(get_us));
    std::fflush(stdout);
    rows.push_back({{"state_numbers", size}, {"execute_us", median(execute_us)},
                    {"get_us", median(get_us)}, {"execute_runs_us", execute_us},
                    {"get_runs_us", get_us}});
  }
  std::printf("  large / small: execute %.2fx, get %.2fx\n",
              per_size_execute[1] / per_size_execute[0], per_size_get[1] / per_size_get[0]);
  std::fflush(stdout);
  return rows;
}

/// Every command to one entity, 1 to 64 clients: against the store's own
/// rate with 64 appends of that entity per transaction (target >= 25%).
nlohmann::json measure_hot_entity(const settings& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (bool sync : {false, true}) {
    auto appends = sync ? s.synced_appends * 10 : s.appends;
    std::vector<double> store_runs;
    for (auto clients : s.hot_clients) {
      std::vector<double> actor_runs;
      for (int r = 0; r < s.repeats; ++r) {
        store_runs.push_back(store_events_per_second(sync, appends, 1, 64));
        scratch_dir dir;
        auto commands = sync ? std::max<std::uint64_t>(s.synced_appends, clients * 20)
                             : appends / 10;
        // Counter increments: no expected version, as every client of a
        // hot entity would send them.
        actor_runs.push_back(actor_path(open_store(dir.path(), sync), clients, commands, 1,
                                        false)
                               .events_per_second);
      }
      auto store_rate = median(store_runs);
      auto actors = median(actor_runs);
      std::printf("  %-6s hot entity, %2llu clients: store (64 per transaction) %9.0f "
                  "ev/s, actor path %8.0f ev/s, %5.1f%%\n",
                  sync ? "sync" : "nosync", (unsigned long long)clients, store_rate,
                  actors, 100 * actors / store_rate);
      std::fflush(stdout);
      rows.push_back({{"sync", sync}, {"clients", clients},
                      {"store_batched_events_per_second", store_rate},
                      {"actor_events_per_second", actors},
                      {"share", actors / store_rate}, {"actor_runs", actor_runs}});
    }
  }
  return rows;
}

/// CPU an idle application uses: one command, then nothing for `seconds`.
nlohmann::json measure_idle_cpu(double seconds) {
  application app{open_memory_store()};
  auto tallies = app.entities<tally::counter>();
  tallies.create(tally::add{uuid::random(), 1});
  auto cpu = [] {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
  };
  auto before = cpu();
  auto start = clock_type::now();
  while (seconds_since(start) < seconds) {
    stop_point();
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  auto share = (cpu() - before) / seconds_since(start);
  std::printf("  idle application for %.0f s: %.2f%% of one core\n", seconds, 100 * share);
  std::fflush(stdout);
  return {{"seconds", seconds}, {"cpu_share_of_one_core", share}};
}

/// One entity with a long history: `s.appends` single-event conditional
/// appends to it, on-disk RocksDB without sync, timed in ten windows. Each
/// append should cost the same however long the history already is (the
/// last window against the first), and about what an append to a short
/// history costs (the baseline loop over many entities, same run).
nlohmann::json measure_long_history(const settings& s) {
  constexpr int windows = 10;
  const auto per_window = std::max<std::uint64_t>(s.appends / windows, 1);
  std::vector<double> first_us, last_us, baseline_us;
  std::vector<double> window_us(windows, 0); // of the last run
  for (int r = 0; r < s.repeats; ++r) {
    baseline_us.push_back(1e6 / baseline_events_per_second(false, s.appends, s.entities));
    scratch_dir dir;
    auto store = open_store(dir.path(), false);
    auto id = uuid::random();
    std::uint64_t head = 0;
    for (int w = 0; w < windows; ++w) {
      stop_point();
      auto start = clock_type::now();
      for (std::uint64_t i = 0; i < per_window; ++i) {
        auto event = encode(tally::counter::event{tally::added{uuid::random(), 1}});
        auto version = store->append({id, head, {event_record{{}, 0, uuid::random(), event.type,
                                                              event.payload, now_ns()}}});
        if (!version)
          throw std::runtime_error(to_string(version.error()));
        head = *version;
      }
      window_us[w] = seconds_since(start) * 1e6 / double(per_window);
    }
    first_us.push_back(window_us.front());
    last_us.push_back(window_us.back());
  }
  auto growth = median(last_us) / median(first_us);
  auto against_short = median(last_us) / median(baseline_us);
  std::printf("  one entity, %llu appends: first %llu %.2f us each, last %llu %.2f us "
              "each (%.2fx); short histories (baseline loop) %.2f us (last window %.2fx)\n",
              (unsigned long long)(per_window * windows), (unsigned long long)per_window,
              median(first_us), (unsigned long long)per_window, median(last_us), growth,
              median(baseline_us), against_short);
  return {{"events", per_window * windows},
          {"first_window_us", median(first_us)},
          {"last_window_us", median(last_us)},
          {"last_over_first", growth},
          {"baseline_us", median(baseline_us)},
          {"last_over_baseline", against_short},
          {"windows_us_last_run", window_us}};
}

/// "[min-max]" of `runs`, for the spread beside a median.
std::string spread(const std::vector<double>& runs, const char* format = "%.0f") {
  if (runs.empty())
    return "[]";
  auto [low, high] = std::minmax_element(runs.begin(), runs.end());
  char text[96];
  auto form = std::string{"["} + format + "-" + format + "]";
  std::snprintf(text, sizeof text, form.c_str(), *low, *high);
  return text;
}

/// Stores `count` events in `store`'s log: one event per append over
/// `entities` in turn, 256 appends per transaction.
void fill_log(event_store& store, std::uint64_t count, std::uint64_t entities) {
  std::vector<std::uint64_t> heads(entities, 0);
  std::vector<append_request> requests;
  for (std::uint64_t i = 0; i < count;) {
    stop_point();
    requests.clear();
    for (; i < count && requests.size() < 256; ++i) {
      auto index = i % entities;
      auto event = encode(tally::counter::event{tally::added{uuid::random(), 1}});
      requests.push_back({stress::entity_of(3, index), heads[index]++,
                          {event_record{{}, 0, uuid::random(), event.type, event.payload,
                                        now_ns()}}});
    }
    for (auto& version : store.append_batch(requests))
      if (!version)
        throw std::runtime_error(to_string(version.error()));
  }
}

/// The baseline of catch-up: read_all in pages of `batch` from position 0
/// to `last`, one thread, no actors.
double read_all_events_per_second(event_store& store, std::uint64_t last, std::size_t batch) {
  std::uint64_t after = 0;
  std::uint64_t events = 0;
  auto start = clock_type::now();
  while (after < last) {
    auto page = store.read_all(after, batch);
    if (!page)
      throw std::runtime_error(to_string(page.error()));
    if (page->next_after == after)
      throw std::runtime_error("the log ended before position " + std::to_string(last));
    events += page->events.size();
    after = page->next_after;
  }
  auto seconds = seconds_since(start);
  if (events != last)
    throw std::runtime_error("read_all returned " + std::to_string(events) + " of "
                             + std::to_string(last) + " events");
  return events / seconds;
}

/// What the catch-up subscriber saw; its actor writes, the bench reads
/// after `reached` is set.
struct catch_up_count {
  std::uint64_t last = 0;        ///< the position to reach
  std::uint64_t next = 1;        ///< the position expected next
  std::uint64_t events = 0;
  bool in_order = true;
  std::promise<void> reached;
};

subscriber_actor::behavior_type counting_subscriber(subscriber_actor::pointer,
                                                    catch_up_count* count) {
  return {
    [=](log_events_atom, const std::vector<event_record>& batch) -> std::uint64_t {
      for (const auto& event : batch) {
        count->in_order = count->in_order && event.position == count->next;
        count->next = event.position + 1;
      }
      auto before = count->events;
      count->events += batch.size();
      if (before < count->last && count->events >= count->last)
        count->reached.set_value();
      return count->next - 1;
    },
  };
}

/// One subscriber from position 0 over `store`'s log of `last` events:
/// events/s from subscribing until it has the last one.
double subscriber_events_per_second(std::shared_ptr<event_store> store, std::uint64_t last) {
  catch_up_count count; // outlives the application and its actors
  count.last = last;
  auto reached = count.reached.get_future();
  application_config config;
  config.scheduler_threads = 2;
  application app{std::move(store), config};
  auto start = clock_type::now();
  app.subscribe(app.system().spawn(counting_subscriber, &count), 0);
  while (reached.wait_for(std::chrono::milliseconds{100}) != std::future_status::ready)
    stop_point();
  auto seconds = seconds_since(start);
  if (!count.in_order || count.events != last)
    throw std::runtime_error("the subscriber did not get positions 1.." + std::to_string(last)
                             + " in order");
  return last / seconds;
}

/// Subscriptions: (a) catch-up, one subscriber reading a log already
/// written, against the raw read_all loop over the same log (RocksDB in
/// memory, and on disk reopened after writing); (b) live, one subscriber
/// while the largest client count writes (sync off, on disk), against the
/// same writers without it; the subscriber's deliveries are verified.
nlohmann::json measure_subscription(const settings& s) {
  const std::size_t batch = subscription_options{}.batch;
  nlohmann::json catch_up = nlohmann::json::array();
  for (bool on_disk : {false, true}) {
    scratch_dir dir;
    auto store = on_disk ? open_store(dir.path(), false) : open_memory_store();
    fill_log(*store, s.appends, s.entities);
    if (on_disk) { // read what a restart reads: the tables, not this process's memtable
      store.reset();
      store = open_store(dir.path(), false);
    }
    std::vector<double> raw_runs, subscriber_runs;
    for (int r = 0; r < s.repeats; ++r) {
      raw_runs.push_back(read_all_events_per_second(*store, s.appends, batch));
      subscriber_runs.push_back(subscriber_events_per_second(store, s.appends));
    }
    auto raw = median(raw_runs);
    auto subscriber = median(subscriber_runs);
    const char* name = on_disk ? "RocksDB on disk (reopened)" : "RocksDB in memory";
    std::printf("  catch-up, %s, %llu events: read_all loop (%zu per read) %.0f ev/s %s; "
                "one subscriber %.0f ev/s %s; ratio %.2fx\n",
                name, (unsigned long long)s.appends, batch, raw, spread(raw_runs).c_str(),
                subscriber, spread(subscriber_runs).c_str(), subscriber / raw);
    std::fflush(stdout);
    catch_up.push_back({{"store", on_disk ? "rocksdb_disk_reopened" : "rocksdb_memory"},
                        {"events", s.appends}, {"batch", batch},
                        {"read_all_events_per_second", raw}, {"read_all_runs", raw_runs},
                        {"subscriber_events_per_second", subscriber},
                        {"subscriber_runs", subscriber_runs}, {"ratio", subscriber / raw}});
  }

  const auto clients = s.clients.back();
  std::vector<double> alone_runs, with_runs, delivered_runs, p50_runs, p99_runs, behind_runs;
  std::vector<double> command_p50_runs, command_p99_runs; // the writers' own, for scale
  for (int r = 0; r < s.repeats; ++r) {
    {
      scratch_dir dir;
      alone_runs.push_back(
        actor_path(open_store(dir.path(), false), clients, s.appends, s.entities)
          .events_per_second);
    }
    scratch_dir dir;
    auto report = actor_path(open_store(dir.path(), false), clients, s.appends, s.entities,
                             true, 1);
    with_runs.push_back(report.events_per_second);
    delivered_runs.push_back(report.delivery.events_per_second);
    p50_runs.push_back(report.delivery.lag_p50_us);
    p99_runs.push_back(report.delivery.lag_p99_us);
    behind_runs.push_back(report.delivery.catch_up_seconds * 1e3);
    command_p50_runs.push_back(report.latency_p50_us);
    command_p99_runs.push_back(report.latency_p99_us);
  }
  auto alone = median(alone_runs);
  auto with = median(with_runs);
  std::printf("  live, %llu clients, sync off, on disk: writers alone %.0f ev/s %s, with one "
              "subscriber %.0f ev/s %s, ratio %.2fx; delivered %.0f ev/s %s; lag p50 %.0f us "
              "%s, p99 %.0f us %s (from the decision; a command's round trip in the same "
              "runs: p50 %.0f us, p99 %.0f us); caught up %.1f ms after the last answer %s\n",
              (unsigned long long)clients, alone, spread(alone_runs).c_str(), with,
              spread(with_runs).c_str(), with / alone, median(delivered_runs),
              spread(delivered_runs).c_str(), median(p50_runs), spread(p50_runs).c_str(),
              median(p99_runs), spread(p99_runs).c_str(), median(command_p50_runs),
              median(command_p99_runs), median(behind_runs),
              spread(behind_runs, "%.1f").c_str());
  std::fflush(stdout);
  nlohmann::json live = {{"clients", clients},
                         {"sync", false},
                         {"commands", s.appends},
                         {"writers_alone_events_per_second", alone},
                         {"writers_alone_runs", alone_runs},
                         {"writers_with_subscriber_events_per_second", with},
                         {"writers_with_subscriber_runs", with_runs},
                         {"ratio", with / alone},
                         {"delivered_events_per_second", median(delivered_runs)},
                         {"delivered_runs", delivered_runs},
                         {"lag_from", "decision"},
                         {"lag_p50_us", median(p50_runs)},
                         {"lag_p50_runs_us", p50_runs},
                         {"lag_p99_us", median(p99_runs)},
                         {"lag_p99_runs_us", p99_runs},
                         {"command_p50_us", median(command_p50_runs)},
                         {"command_p99_us", median(command_p99_runs)},
                         {"caught_up_after_last_answer_ms", median(behind_runs)},
                         {"caught_up_runs_ms", behind_runs}};
  return {{"catch_up", catch_up}, {"live", live}};
}

nlohmann::json measure_replay(int repeats) {
  constexpr std::uint64_t events = 10'000;
  scratch_dir dir;
  auto store = std::shared_ptr<event_store>{open_store(dir.path(), false)};
  auto id = uuid::random();
  append_request request{id, 0, {}};
  for (std::uint64_t i = 0; i < events; ++i) {
    auto event = encode(tally::counter::event{tally::added{uuid::random(), 1}});
    request.events.push_back({{}, 0, uuid::random(), event.type, event.payload, now_ns()});
  }
  if (!store->append(request))
    throw std::runtime_error("could not write the replay history");
  std::vector<double> store_ms;
  std::vector<double> actor_ms;
  for (int r = 0; r < repeats; ++r) {
    stop_point();
    auto start = clock_type::now();
    auto read = store->read(id);
    tally::state state;
    for (const auto& record : *read)
      state = tally::counter::evolve(state, *decode<tally::counter::event>(record));
    store_ms.push_back(seconds_since(start) * 1e3);
    if (state.additions != events)
      throw std::runtime_error("replay lost events");
    application app{store};
    auto tallies = app.entities<tally::counter>();
    start = clock_type::now();
    auto copy = tallies.get(id); // spawns the actor, which replays
    actor_ms.push_back(seconds_since(start) * 1e3);
    if (copy.version != events)
      throw std::runtime_error("actor replay lost events");
  }
  std::printf("  replay of %llu events: store read + fold %.2f ms, entity actor %.2f ms\n",
              (unsigned long long)events, median(store_ms), median(actor_ms));
  return {{"events", events}, {"store_read_and_fold_ms", median(store_ms)},
          {"entity_actor_ms", median(actor_ms)}};
}

nlohmann::json measure_spawn(std::uint64_t count) {
  auto store = std::shared_ptr<event_store>{open_memory_store()};
  application_config config;
  config.registry_shards = 2;
  application app{store, config};
  const auto& registries = app.registries<tally::counter>();
  auto before = stress::current_rss_bytes();
  auto start = clock_type::now();
  spawn_entities(app.system(), registries, count); // a get per id: spawn + empty replay
  auto seconds = seconds_since(start);
  stop_point();
  auto stats = app.stats();
  auto after = stress::current_rss_bytes();
  auto per_actor = static_cast<double>(after - before) / static_cast<double>(count);
  std::printf("  spawned %llu entity actors in %.2f s (%.0f/s), %.0f bytes each "
              "(RSS %llu -> %llu MiB), resident %llu\n",
              (unsigned long long)count, seconds, count / seconds, per_actor,
              (unsigned long long)(before >> 20), (unsigned long long)(after >> 20),
              (unsigned long long)stats.resident);
  return {{"actors", count}, {"seconds", seconds}, {"bytes_per_actor", per_actor},
          {"resident", stats.resident}};
}

} // namespace

int main(int argc, char** argv) {
  // The "node" case's server, a child process of the bench (node_case.hpp).
  if (argc >= 2 && std::string_view{argv[1]} == "--serve-node")
    return bench::serve_node(argc, argv);
  CLI::App cli{"cafes-bench: actor path vs plain RocksDB loop, replay, spawn, subscriptions, CAF nodes"};
  settings s;
  std::string json_path = "bench-results.json";
  std::string data_path = "bench-throughput.dat";
  bool quick = false;
  cli.add_option("--json", json_path, "where to write the results")->capture_default_str();
  cli.add_option("--data", data_path, "gnuplot data file")->capture_default_str();
  cli.add_option("--repeats", s.repeats, "runs per figure (median)")
    ->check(tools::whole_number(1, 100))->capture_default_str();
  cli.add_option("--entities", s.entities)
    ->check(tools::whole_number(1, 10'000'000))->capture_default_str();
  cli.add_option("--spawn", s.spawn_count, "entity actors to spawn")
    ->check(tools::whole_number(1, 10'000'000))->capture_default_str();
  cli.add_flag("--quick", quick, "small sizes, one repeat (a smoke run)");
  std::vector<std::string> only;
  const std::vector<std::string> cases{"nosync",     "sync",         "ceilings",
                                       "latency",    "sync_loop",    "state_size",
                                       "network",    "hot_entity",
                                       "long_history", "idle",       "replay",
                                       "spawn",      "subscription", "node",
                                       "etcd"};
  cli.add_option("--only", only, "run only these cases (no plot data is written)")
    ->delimiter(',')
    ->check(CLI::IsMember(cases));
  std::string etcd_endpoints, etcd_second;
  cli.add_option("--etcd", etcd_endpoints,
                 "an etcd cluster's endpoints HOST:PORT,... for the etcd case (scripts/bench.sh "
                 "starts one)");
  cli.add_option("--etcd-second", etcd_second,
                 "a second cluster's endpoints: the etcd case also shards over both");
  if (auto code = tools::parse(cli, argc, argv))
    return *code;
  std::vector<std::string> etcd_cluster, etcd_other;
  for (auto [name, text, parsed] : {std::tuple{"--etcd", &etcd_endpoints, &etcd_cluster},
                                    std::tuple{"--etcd-second", &etcd_second, &etcd_other}}) {
    if (text->empty())
      continue;
    auto endpoints = parse_endpoints(*text);
    if (!endpoints)
      return tools::usage_error(std::string{name} + ": " + endpoints.error().message);
    *parsed = std::move(*endpoints);
  }
  if (!etcd_second.empty() && etcd_endpoints.empty())
    return tools::usage_error("--etcd-second needs --etcd");
  if (std::find(only.begin(), only.end(), "etcd") != only.end() && etcd_endpoints.empty())
    return tools::usage_error("--only etcd needs --etcd HOST:PORT,... (scripts/bench.sh starts "
                              "a cluster)");
  // Checked before the hour-long run, given or not.
  for (auto [name, path] : {std::pair{"--json", &json_path}, std::pair{"--data", &data_path}})
    if (auto problem = tools::writable_file()(*path); !problem.empty())
      return tools::usage_error(std::string{name} + ": " + problem);
  if (quick) {
    s.appends = 10'000;
    s.synced_appends = 200;
    s.clients = {1, 64};
    s.hot_clients = {1, 8};
    s.repeats = 1;
    s.spawn_count = 10'000;
    s.idle_seconds = 1;
  }
  tools::install_stop_handlers();
  tools::ignore_file_size_signal();
  try {
    nlohmann::json out;
    auto wanted = [&](const char* name) {
      return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
    };
    if (wanted("nosync")) {
      std::printf("throughput, WAL sync off (medians of %d)\n", s.repeats);
      out["nosync"] = measure_throughput(s, false);
    }
    if (wanted("sync")) {
      std::printf("throughput, WAL sync on (medians of %d)\n", s.repeats);
      out["sync"] = measure_throughput(s, true);
    }
    if (wanted("ceilings")) {
      std::printf("ceilings, WAL sync off (medians of %d)\n", s.repeats);
      out["ceilings"] = measure_ceilings(s);
    }
    if (wanted("latency")) {
      std::printf("latency at one client (medians of %d)\n", s.repeats);
      out["latency"] = measure_latency(s);
    }
    if (wanted("sync_loop")) {
      std::printf("synchronous API loop (medians of %d)\n", s.repeats);
      out["sync_loop"] = measure_sync_loop(s);
    }
    if (wanted("state_size")) {
      std::printf("state size, synchronous API (medians of %d)\n", s.repeats);
      out["state_size"] = measure_state_size(s);
    }
    if (wanted("network")) {
      std::printf("network paths, RocksDB in memory (medians of %d)\n", s.repeats);
      out["network"] = measure_network(s.repeats, quick ? 500 : 5'000);
    }
    if (wanted("hot_entity")) {
      std::printf("one hot entity (medians of %d)\n", s.repeats);
      out["hot_entity"] = measure_hot_entity(s);
    }
    if (wanted("long_history")) {
      std::printf("one entity with a long history (medians of %d)\n", s.repeats);
      out["long_history"] = measure_long_history(s);
    }
    if (wanted("idle")) {
      std::printf("idle\n");
      out["idle"] = measure_idle_cpu(s.idle_seconds);
    }
    if (wanted("replay")) {
      std::printf("replay\n");
      out["replay"] = measure_replay(std::max(s.repeats, 3));
    }
    if (wanted("spawn")) {
      std::printf("spawn\n");
      out["spawn"] = measure_spawn(s.spawn_count);
    }
    if (wanted("subscription")) {
      std::printf("subscription (medians of %d, [min-max] of the runs)\n", s.repeats);
      out["subscription"] = measure_subscription(s);
    }
    if (wanted("node")) {
      std::printf("one client's round trip, in-process vs CAF node in another process "
                  "(medians of %llu calls, then of %d runs)\n",
                  (unsigned long long)(s.appends / 100), s.repeats);
      out["node"] = measure_node(s.appends / 100, s.repeats);
    }
    if (wanted("etcd")) {
      if (etcd_cluster.empty()) {
        std::printf("etcd: skipped (no --etcd; scripts/bench.sh starts the clusters)\n");
      } else {
        std::printf("etcd store, 3-member clusters on this machine (medians of %d, [min-max])\n",
                    s.repeats);
        out["etcd"] = measure_etcd(s.repeats, quick ? 100 : 500, etcd_cluster, etcd_other);
      }
    }
    std::ofstream json{json_path};
    json << out.dump(2) << '\n';
    std::ofstream data{data_path};
    if (out.contains("nosync") && out.contains("sync")) {
      data << "# clients baseline_nosync actors_nosync baseline_sync actors_sync\n";
      for (std::size_t i = 0; i < out["nosync"].size(); ++i)
        data << out["nosync"][i]["clients"] << ' '
             << out["nosync"][i]["baseline_events_per_second"] << ' '
             << out["nosync"][i]["actor_events_per_second"] << ' '
             << out["sync"][i]["baseline_events_per_second"] << ' '
             << out["sync"][i]["actor_events_per_second"] << '\n';
    }
    json.close();
    data.close();
    if (!json || !data)
      throw std::runtime_error("cannot write " + json_path + " or " + data_path);
  } catch (const stopped&) {
    std::fprintf(stderr, "cafes-bench: interrupted by %s, no results written\n",
                 tools::stop_signal_name());
    return tools::stopped_exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return tools::exit_failed;
  }
  return tools::exit_ok;
}
