#include "bank_example/service.hpp"

#include <mutex>
#include <optional>

#include "bank_example/accounts_by_owner.hpp"
#include "bank_example/transfer.hpp"
#include "cafes/actors/process_manager.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes_samples/bank_account.hpp"

namespace bank_example {

using namespace cafes;
namespace bank = cafes_samples::bank;
using net::http_reply;
using net::http_request;

namespace {

constexpr const char* uuid_segment = "([0-9a-fA-F-]{36})";

std::shared_ptr<event_store> open_store(const std::string& db) {
  rocksdb_options options;
  if (db.empty())
    options.in_memory = true;
  else
    options.path = db;
  auto opened = rocksdb_store::open(options);
  if (!opened)
    throw cafes_error{std::move(opened).error()};
  return std::shared_ptr<event_store>{std::move(*opened)};
}

application_config app_config(const service_options& options) {
  application_config config;
  config.idle_timeout = options.idle_timeout;
  return config;
}

http_reply bad_request(const failure& problem) {
  return net::failure_reply(problem, json::value::array());
}

http_reply bad_request(const std::string& message) {
  return bad_request(failure::make(ec::invalid_argument, message));
}

/// Reads `T` from the request's JSON body.
template <class T>
result<T> body_of(const http_request& request) {
  auto body = json::value::parse(request.body, nullptr, false);
  if (body.is_discarded())
    return failure::make(ec::invalid_argument, "the body is not JSON");
  return json::from_json<T>(body);
}

http_reply json_reply(int status, const json::value& body) {
  return {status, body.dump(), {}};
}

json::value transfer_json(const entity_id& id, std::uint64_t version,
                               const transfer_state& state) {
  return {{"id", to_string(id)},         {"version", version},
          {"status", to_string(state.status)}, {"from", to_string(state.from)},
          {"to", to_string(state.to)},   {"amount", state.amount},
          {"reason", state.reason}};
}

std::unique_ptr<net::node> make_node(const service_options& options) {
  if (!options.node)
    return nullptr;
  return std::make_unique<net::node>(*options.node, app_config(options));
}

std::unique_ptr<application> make_app(net::node* node, std::shared_ptr<event_store> store,
                                      const service_options& options) {
  if (node)
    return std::make_unique<application>(node->system(), std::move(store), app_config(options));
  return std::make_unique<application>(std::move(store), app_config(options));
}

} // namespace

struct service::impl {
  service_options options;
  std::shared_ptr<event_store> store;
  /// With options.node: the actor system the application runs in.
  std::unique_ptr<net::node> node;
  std::unique_ptr<application> owned_app;
  application& app;
  std::uint16_t node_port = 0;
  std::unique_ptr<process_manager_runner> transfers;
  net::typed_endpoint<bank::account> accounts;
  net::typed_endpoint<transfer> transfer_requests;
  net::http_edge edge;
  std::mutex stop_mutex;
  bool stopped = false;

  explicit impl(service_options opts)
    : options(std::move(opts)),
      store(open_store(options.db)),
      node(make_node(options)),
      owned_app(make_app(node.get(), store, options)),
      app(*owned_app),
      accounts(app, app.serve(erase<bank::account>()), "/accounts"),
      transfer_requests(app, app.serve(erase<transfer>()), "/transfers"),
      edge(app, options.http) {
    app.run_projection<accounts_by_owner>();
    transfers = std::make_unique<process_manager_runner>(
      app, erase_process_manager<transfer_manager>());
    add_routes();
    if (node)
      node_port = node->publish<bank::account, transfer>(app);
  }

  ~impl() {
    // The edge's threads and the node's peers call into the application:
    // both stop before it, and the application before the node's system.
    edge.stop();
    if (node)
      node->close();
    transfers.reset();
  }

  /// Runs `command` on account `request.matches[1]` with the request's
  /// If-Match and Idempotency-Key.
  http_reply on_account(const http_request& request, const bank::account::command& command) {
    auto id = uuid::parse(request.matches.at(1));
    if (!id)
      return bad_request("'" + request.matches.at(1) + "' is not an account id (a UUID)");
    auto preconditions = net::request_preconditions(request);
    if (!preconditions)
      return bad_request(preconditions.error());
    return accounts.execute(*id, command, preconditions->first, preconditions->second);
  }

  void add_routes() {
    // Registered before the generic routes of the served aggregates, so
    // these win where both match (POST /accounts).
    edge.route("POST", "/accounts", [this](const http_request& request) {
      auto open = body_of<bank::open>(request);
      if (!open)
        return bad_request(open.error());
      if (request.header("If-Match"))
        return bad_request("If-Match on a new account: it has no version yet");
      auto preconditions = net::request_preconditions(request);
      if (!preconditions)
        return bad_request(preconditions.error());
      return accounts.execute(std::nullopt, *open, any_version, preconditions->second);
    });
    edge.route("POST", std::string{"/accounts/"} + uuid_segment + "/deposits",
               [this](const http_request& request) {
                 auto deposit = body_of<bank::deposit>(request);
                 return deposit ? on_account(request, *deposit) : bad_request(deposit.error());
               });
    edge.route("POST", std::string{"/accounts/"} + uuid_segment + "/withdrawals",
               [this](const http_request& request) {
                 auto withdraw = body_of<bank::withdraw>(request);
                 return withdraw ? on_account(request, *withdraw) : bad_request(withdraw.error());
               });
    edge.route("GET", std::string{"/accounts/"} + uuid_segment + "/events",
               [this](const http_request& request) { return history(request); });
    edge.route("GET", "/accounts", [this](const http_request& request) { return by_owner(request); });
    edge.route("POST", "/transfers", [this](const http_request& request) {
      auto requested = body_of<request_transfer>(request);
      if (!requested)
        return bad_request(requested.error());
      auto preconditions = net::request_preconditions(request);
      if (!preconditions)
        return bad_request(preconditions.error());
      auto reply = transfer_requests.execute(std::nullopt, *requested, any_version,
                                             preconditions->second);
      if (reply.status != 201)
        return reply;
      // Accepted: the process manager carries it out. The status by name.
      auto body = json::value::parse(reply.body, nullptr, false);
      if (body.is_object() && body.contains("status") && body["status"].is_number_integer())
        body["status"] = to_string(static_cast<transfer_status>(body["status"].get<int>()));
      reply.status = 202;
      reply.body = body.dump();
      return reply;
    });
    edge.route("GET", std::string{"/transfers/"} + uuid_segment,
               [this](const http_request& request) { return transfer_status_of(request); });
    edge.serve<bank::account>("/accounts");
    edge.serve<transfer>("/transfers");
  }

  http_reply history(const http_request& request) {
    auto id = uuid::parse(request.matches.at(1));
    if (!id)
      return bad_request("'" + request.matches.at(1) + "' is not an account id (a UUID)");
    auto events = store->read(*id, 1, last_version);
    if (!events)
      return bad_request(events.error());
    if (events->empty())
      return net::failure_reply(failure::not_found(*id), json::value::array());
    auto out = json::value::array();
    for (const auto& record : *events) {
      auto item = accounts.event_json(record);
      if (!item)
        return net::failure_reply(failure::make(ec::decode_failure,
                                                "event " + std::to_string(record.version)
                                                  + " of account " + to_string(*id)
                                                  + " does not decode as a bank event"),
                                  json::value::array());
      (*item)["version"] = record.version;
      (*item)["position"] = record.position;
      out.push_back(std::move(*item));
    }
    return json_reply(200, out);
  }

  http_reply by_owner(const http_request& request) {
    auto view = app.view<accounts_by_owner>();
    auto owner = request.param("owner");
    if (!owner) {
      auto sums = totals(view);
      if (!sums)
        return bad_request(sums.error());
      return json_reply(200, {{"open_accounts", sums->open_accounts}, {"balance", sums->balance}});
    }
    auto owned = accounts_of(view, *owner);
    if (!owned)
      return bad_request(owned.error());
    auto list = json::value::array();
    std::int64_t balance = 0;
    for (const auto& account : *owned) {
      list.push_back({{"id", to_string(account.id)}, {"balance", account.balance}});
      balance += account.balance;
    }
    return json_reply(200, {{"owner", *owner}, {"accounts", list}, {"balance", balance}});
  }

  http_reply transfer_status_of(const http_request& request) {
    auto id = uuid::parse(request.matches.at(1));
    if (!id)
      return bad_request("'" + request.matches.at(1) + "' is not a transfer id (a UUID)");
    auto found = app.entities<transfer>().try_get(*id);
    if (!found)
      return bad_request(found.error());
    return {200,
            transfer_json(found->id, found->version, found->state).dump(),
            {{"ETag", "\"" + std::to_string(found->version) + "\""}}};
  }
};

service::service(service_options options) : impl_(std::make_unique<impl>(std::move(options))) {
  impl_->edge.start();
}

service::~service() {
  stop();
}

std::uint16_t service::port() const noexcept {
  return impl_->edge.port();
}

std::uint16_t service::node_port() const noexcept {
  return impl_->node_port;
}

void service::stop() {
  std::lock_guard guard{impl_->stop_mutex};
  if (impl_->stopped)
    return;
  impl_->stopped = true;
  impl_->edge.drain();
  impl_->edge.stop(); // before the actors: its threads call into them
  impl_->transfers.reset();
}

} // namespace bank_example
