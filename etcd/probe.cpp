// Runs the etcd store's conditional append against a cluster: a create at
// version 0, the next at 1, a stale one at 1 (a conflict that reports the
// current version), then reads the history back. Exit 0 when each outcome
// is the expected one. Usage: etcd_probe HOST:PORT[,HOST:PORT...]
#include <chrono>
#include <cstdio>
#include <string>

#include <grpcpp/grpcpp.h>

#include "etcd_min.grpc.pb.h"

using namespace etcdserverpb;

namespace {

struct outcome {
  bool ok = false;        // the call went through
  bool appended = false;  // the compare held
  std::int64_t current = 0;
  std::string error;
};

outcome append(KV::Stub& kv, const std::string& entity, std::int64_t expected,
               const std::string& payload) {
  auto head = "s/" + entity + "/head";
  char version[32];
  std::snprintf(version, sizeof version, "%012lld", static_cast<long long>(expected + 1));
  TxnRequest request;
  auto* compare = request.add_compare();
  compare->set_key(head);
  compare->set_target(Compare::VERSION);
  compare->set_result(Compare::EQUAL);
  compare->set_version(expected);
  auto* event = request.add_success()->mutable_request_put();
  event->set_key("s/" + entity + "/e/" + version);
  event->set_value(payload);
  auto* head_put = request.add_success()->mutable_request_put();
  head_put->set_key(head);
  head_put->set_value(version);
  request.add_failure()->mutable_request_range()->set_key(head);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds{2});
  TxnResponse response;
  auto status = kv.Txn(&context, request, &response);
  outcome out;
  if (!status.ok()) {
    out.error = std::to_string(status.error_code()) + " " + status.error_message();
    return out;
  }
  out.ok = true;
  out.appended = response.succeeded();
  if (!out.appended) {
    const auto& range = response.responses(0).response_range();
    out.current = range.kvs_size() == 0 ? 0 : range.kvs(0).version();
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "error: usage: etcd_probe HOST:PORT[,HOST:PORT...]\n");
    return 2;
  }
  grpc::ChannelArguments arguments;
  arguments.SetLoadBalancingPolicyName("round_robin");
  auto channel = grpc::CreateCustomChannel(std::string{"ipv4:"} + argv[1],
                                           grpc::InsecureChannelCredentials(), arguments);
  auto kv = KV::NewStub(channel);
  auto entity = std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto first = append(*kv, entity, 0, "one");
  auto second = append(*kv, entity, 1, "two");
  auto stale = append(*kv, entity, 1, "stale");
  std::printf("create: %s\nnext: %s\nstale: %s, current %lld\n",
              first.ok ? (first.appended ? "appended" : "conflict") : first.error.c_str(),
              second.ok ? (second.appended ? "appended" : "conflict") : second.error.c_str(),
              stale.ok ? (stale.appended ? "appended" : "conflict") : stale.error.c_str(),
              static_cast<long long>(stale.current));
  RangeRequest range;
  range.set_key("s/" + entity + "/e/");
  range.set_range_end("s/" + entity + "/e0");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds{2});
  RangeResponse events;
  auto status = kv->Range(&context, range, &events);
  std::printf("history:");
  for (const auto& kv_pair : events.kvs())
    std::printf(" %s", kv_pair.value().c_str());
  std::printf("\n");
  bool right = first.appended && second.appended && stale.ok && !stale.appended
               && stale.current == 2 && status.ok() && events.kvs_size() == 2;
  return right ? 0 : 1;
}
