#include "etcd_bench.hpp"

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>

#include <grpcpp/grpcpp.h>

#include "bench_support.hpp"
#include "cafes/etcd/etcd_store.hpp"
#include "cafes/storage/sharded_store.hpp"
#include "etcd_min.grpc.pb.h"

namespace cafes::bench {

namespace {

using clock_type = std::chrono::steady_clock;

struct figures {
  double per_second = 0;
  double p50_us = 0;
  double p99_us = 0;
};

/// The baseline: etcd's own transaction, one at a time from one client,
/// through one gRPC channel to the first member: compare an entity's head
/// version, put the event and the head. No cafes code on the path.
figures raw_transaction_loop(const std::vector<std::string>& cluster, std::uint64_t appends) {
  using namespace etcdserverpb;
  auto channel = grpc::CreateChannel("ipv4:" + cluster.front(),
                                     grpc::InsecureChannelCredentials());
  auto kv = KV::NewStub(channel);
  auto prefix = "bench-raw/" + to_string(uuid::random()) + "/";
  constexpr std::uint64_t entities = 100;
  std::vector<std::int64_t> heads(entities, 0);
  std::vector<double> latencies;
  latencies.reserve(appends);
  std::string payload(64, 'x');
  auto start = clock_type::now();
  for (std::uint64_t i = 0; i < appends; ++i) {
    stop_point();
    auto entity = i % entities;
    auto head_key = prefix + std::to_string(entity) + "/head";
    TxnRequest request;
    auto* compare = request.add_compare();
    compare->set_key(head_key);
    compare->set_target(Compare::VERSION);
    compare->set_result(Compare::EQUAL);
    compare->set_version(heads[entity]);
    auto* event = request.add_success()->mutable_request_put();
    event->set_key(prefix + std::to_string(entity) + "/e/" + std::to_string(heads[entity] + 1));
    event->set_value(payload);
    auto* head = request.add_success()->mutable_request_put();
    head->set_key(head_key);
    head->set_value(std::to_string(heads[entity] + 1));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds{5});
    TxnResponse response;
    auto sent = clock_type::now();
    auto status = kv->Txn(&context, request, &response);
    latencies.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - sent).count());
    if (!status.ok() || !response.succeeded())
      throw std::runtime_error("etcd bench: the raw transaction failed: "
                               + status.error_message());
    ++heads[entity];
  }
  auto seconds = seconds_since(start);
  std::sort(latencies.begin(), latencies.end());
  return {double(appends) / seconds, latencies[latencies.size() / 2],
          latencies[latencies.size() * 99 / 100]};
}

std::shared_ptr<etcd_store> open_etcd(const std::vector<std::string>& cluster) {
  etcd_options options;
  options.endpoints = cluster;
  options.key_prefix = "bench/" + to_string(uuid::random()) + "/";
  auto store = etcd_store::open(options);
  if (!store)
    throw std::runtime_error("etcd bench: " + store.error().message);
  return std::move(*store);
}

/// The full path over `store`: stress's client actors over 256 counters,
/// each command an append (one event with a command id; unversioned, so
/// events/s counts no client-side conflicts).
figures actor_path(std::shared_ptr<event_store> store, std::uint64_t clients,
                   std::uint64_t commands) {
  stress::options opts;
  opts.entities = 256;
  opts.versioned = false; // counters: no client-side conflicts to skew events/s
  opts.clients = clients;
  opts.commands_per_client = std::max<std::uint64_t>(commands / clients, 1);
  opts.command_timeout = std::chrono::milliseconds{0};
  opts.app.scheduler_threads = 2;
  opts.app.registry_shards = 2;
  opts.app.storage_shards = 2;
  opts.verify = false; // verified by the tests; here it would only add reads
  opts.stop = &tools::stop_requested();
  auto* etcd = dynamic_cast<etcd_store*>(store.get());
  auto report = stress::run(store, opts);
  if (etcd) { // how full the group commit ran: appends per transaction
    auto stats = etcd->stats();
    std::printf("    [%llu transactions, %llu appends, %llu log races, %.2f s]\n",
                (unsigned long long)stats.transactions, (unsigned long long)stats.appends,
                (unsigned long long)stats.log_races, report.seconds);
  }
  stop_point();
  if (report.other_errors > 0)
    throw std::runtime_error("etcd bench: " + std::to_string(report.other_errors)
                             + " commands failed: "
                             + report.errors.begin()->second.first_message);
  return {report.events_per_second, report.latency_p50_us, report.latency_p99_us};
}

struct summary {
  double median = 0, low = 0, high = 0;
};

summary summarize(std::vector<double> runs) {
  std::sort(runs.begin(), runs.end());
  return {median(runs), runs.front(), runs.back()};
}

nlohmann::json row(const char* name, const std::vector<figures>& runs, double baseline) {
  std::vector<double> rate, p50, p99;
  for (const auto& run : runs) {
    rate.push_back(run.per_second);
    p50.push_back(run.p50_us);
    p99.push_back(run.p99_us);
  }
  auto r = summarize(rate);
  auto m50 = median(p50);
  auto m99 = median(p99);
  std::printf("  %-30s %9.0f events/s [%.0f-%.0f]  p50 %7.0f us  p99 %7.0f us  %6.2fx\n",
              name, r.median, r.low, r.high, m50, m99, baseline > 0 ? r.median / baseline : 1.0);
  return {{"path", name},        {"events_per_second", r.median}, {"min", r.low},
          {"max", r.high},       {"p50_us", m50},                 {"p99_us", m99},
          {"vs_baseline", baseline > 0 ? r.median / baseline : 1.0}};
}

} // namespace

nlohmann::json measure_etcd(int repeats, std::uint64_t appends,
                            const std::vector<std::string>& cluster,
                            const std::vector<std::string>& second) {
  nlohmann::json out = nlohmann::json::array();
  std::vector<figures> baseline;
  std::map<std::uint64_t, std::vector<figures>> actors;
  std::vector<figures> one_cluster, two_clusters;
  const std::vector<std::uint64_t> clients{1, 64, 512};
  for (int r = 0; r < repeats; ++r) {
    baseline.push_back(raw_transaction_loop(cluster, appends));
    for (auto count : clients)
      actors[count].push_back(
        actor_path(open_etcd(cluster), count, count == 1 ? appends * 2 : appends * 40));
    if (!second.empty()) {
      one_cluster.push_back(actor_path(open_etcd(cluster), 512, appends * 40));
      auto sharded = sharded_store::make({open_etcd(cluster), open_etcd(second)});
      two_clusters.push_back(actor_path(std::move(*sharded), 512, appends * 40));
    }
  }
  auto base = summarize([&] {
    std::vector<double> v;
    for (const auto& run : baseline)
      v.push_back(run.per_second);
    return v;
  }()).median;
  out.push_back(row("raw etcd txn loop, 1 client", baseline, base));
  for (auto count : clients) {
    auto name = "actor path, " + std::to_string(count) + " client" + (count == 1 ? "" : "s");
    out.push_back(row(name.c_str(), actors[count], base));
  }
  if (second.empty()) {
    std::printf("  (two clusters: skipped, no second cluster given)\n");
  } else {
    auto one = row("one cluster, 512 clients", one_cluster, base);
    auto two = row("two clusters, 512 clients", two_clusters, base);
    std::printf("  two clusters / one: %.2fx\n",
                two["events_per_second"].get<double>() / one["events_per_second"].get<double>());
    out.push_back(one);
    out.push_back(two);
  }
  return out;
}

} // namespace cafes::bench
