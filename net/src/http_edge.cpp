#include "cafes/net/http_edge.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <httplib.h>

namespace cafes::net {

namespace {

/// Idempotency keys become command ids by name-based UUIDs in this space.
const uuid idempotency_space = *uuid::parse("5c2d1a38-4f8e-4a6b-9c31-7a0e2f6d8b41");

std::string json_text(const json::value& body) {
  // Invalid UTF-8 in a message (a type name from a client) is replaced,
  // not thrown about.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int status_of(const failure& problem, bool precondition) {
  switch (problem.code) {
    case ec::conflict:
      // A stale If-Match is a failed precondition; a command without one
      // that kept meeting other writers is a conflict.
      return precondition ? 412 : 409;
    case ec::not_found:
      return 404;
    case ec::rejected:
      return 422;
    case ec::invalid_argument:
      return 400;
    case ec::closing:
    case ec::storage_unavailable:
      return 503;
    case ec::timeout:
      return 504;
    default:
      return 500;
  }
}

void send(httplib::Response& res, const http_reply& reply) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers)
    res.set_header(name, value);
  res.set_content(reply.body, "application/json");
}

http_reply error_reply(int status, ec code, const std::string& message) {
  json::value body{{"error", std::string{to_string(code)}}, {"message", message}};
  http_reply reply{status, json_text(body), {}};
  if (status == 503)
    reply.headers.emplace_back("Retry-After", "1");
  return reply;
}

/// Reads `If-Match`: `"N"` (a strong tag) is version N, `*` any version.
/// Returns nullopt for anything else.
std::optional<std::uint64_t> expected_version(const std::string& header) {
  if (header == "*")
    return any_version;
  static const std::regex tag{R"re(^"([0-9]{1,19})"$)re"};
  std::smatch match;
  if (!std::regex_match(header, match, tag))
    return std::nullopt;
  try {
    return std::stoull(match[1].str());
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool valid_prefix(const std::string& prefix) {
  static const std::regex allowed{R"(^(/[A-Za-z0-9_-]+)+$)"};
  return std::regex_match(prefix, allowed);
}

} // namespace

http_reply failure_reply(const failure& problem, const json::value& missed_events,
                         bool precondition) {
  json::value body{{"error", std::string{to_string(problem.code)}},
                   {"message", problem.message}};
  if (!problem.entity.is_nil())
    body["entity"] = to_string(problem.entity);
  std::vector<std::pair<std::string, std::string>> headers;
  if (problem.code == ec::conflict) {
    body["expected_version"] = problem.expected_version;
    body["actual_version"] = problem.actual_version;
    body["missed_events"] = missed_events;
    body["missed_all"] = problem.missed_all() && !missed_events.empty();
    headers.emplace_back("ETag", "\"" + std::to_string(problem.actual_version) + "\"");
  }
  auto status = status_of(problem, precondition);
  if (status == 503)
    headers.emplace_back("Retry-After", "1");
  return {status, json_text(body), std::move(headers)};
}

json::value state_body(const entity_id& id, std::uint64_t version, json::value state) {
  json::value out{{"id", to_string(id)}, {"version", version}};
  out.update(state);
  return out;
}

struct http_edge::impl {
  application& app;
  http_options options;
  httplib::Server server;
  std::map<std::string, std::unique_ptr<entity_endpoint>> endpoints;
  std::vector<std::string> aggregate_names; // of the served aggregates, for /metrics
  std::mutex answered_mutex;
  std::map<int, std::uint64_t> answered; // requests answered, by status
  std::thread listener;
  std::atomic<bool> draining{false};
  std::atomic<bool> listen_ended{false};
  std::atomic<std::uint16_t> port{0};
  std::mutex stop_mutex;
  bool started = false;
  bool stopped = false;

  impl(application& application, http_options opts)
    : app(application), options(std::move(opts)) {}

  void count(int status) {
    std::lock_guard guard{answered_mutex};
    ++answered[status];
  }

  /// Sends `reply` and counts it.
  void answer(httplib::Response& res, const http_reply& reply) {
    send(res, reply);
    count(reply.status);
  }

  /// The Prometheus text exposition (format 0.0.4) of the edge's and the
  /// application's counters.
  std::string metrics() {
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
      out += std::string{"# HELP "} + name + " " + help + "\n# TYPE " + name + " " + type
             + "\n";
    };
    auto sample = [&](const std::string& name, const std::string& labels,
                      std::uint64_t value) {
      out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(value)
             + "\n";
    };
    family("cafes_http_requests_total", "counter", "HTTP requests answered, by status code.");
    {
      std::lock_guard guard{answered_mutex};
      for (const auto& [status, count] : answered)
        sample("cafes_http_requests_total", "code=\"" + std::to_string(status) + "\"", count);
    }
    struct per_aggregate {
      const char* name;
      const char* help;
      std::uint64_t command_stats::*field;
    };
    const per_aggregate counters[] = {
      {"cafes_conflicts_total", "Conflicts answered (stale versions, retries exhausted).",
       &command_stats::conflicts},
      {"cafes_retries_total", "Retries of commands without an expected version.",
       &command_stats::retries},
      {"cafes_retries_exhausted_total",
       "Commands without an expected version whose every attempt met another writer.",
       &command_stats::retries_exhausted},
      {"cafes_missed_events_delivered_total", "Events carried in conflict answers.",
       &command_stats::missed_events_delivered},
    };
    for (const auto& counter : counters) {
      family(counter.name, "counter", counter.help);
      for (const auto& name : aggregate_names)
        sample(counter.name, "aggregate=\"" + name + "\"", app.counters(name).*counter.field);
    }
    auto stats = app.stats();
    family("cafes_entity_actors_resident", "gauge", "Entity actors alive now.");
    sample("cafes_entity_actors_resident", "", stats.resident);
    family("cafes_entity_actors_spawned_total", "counter",
           "Entity actors spawned (respawns after passivation included).");
    sample("cafes_entity_actors_spawned_total", "", stats.spawned);
    family("cafes_entity_actors_passivated_total", "counter",
           "Entity actors stopped after being idle.");
    sample("cafes_entity_actors_passivated_total", "", stats.passivated);
    return out;
  }

  /// Answers a request for `endpoint`, entity `id` (empty: the collection).
  http_reply handle(entity_endpoint& endpoint, const httplib::Request& req,
                    const std::string& id_text) {
    if (draining)
      return error_reply(503, ec::closing, "the service is shutting down");
    std::optional<entity_id> id;
    if (!id_text.empty()) {
      id = uuid::parse(id_text);
      if (!id)
        return error_reply(400, ec::invalid_argument,
                           "'" + id_text + "' is not an entity id (a UUID)");
    }
    if (req.method == "GET") {
      if (!id)
        return error_reply(405, ec::invalid_argument, "GET needs an entity id in the path");
      return endpoint.get(*id);
    }
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return error_reply(400, ec::invalid_argument, "the body is not JSON");
    std::uint64_t expected = any_version;
    if (req.has_header("If-Match")) {
      if (!id)
        return error_reply(400, ec::invalid_argument,
                           "If-Match on a create: a new entity has no version");
      auto parsed = expected_version(req.get_header_value("If-Match"));
      if (!parsed)
        return error_reply(400, ec::invalid_argument,
                           "If-Match must be one entity tag like \"3\" (the version), or *");
      expected = *parsed;
    }
    command_ids ids;
    if (req.has_header("Idempotency-Key")) {
      auto key = req.get_header_value("Idempotency-Key");
      if (key.empty() || key.size() > 256)
        return error_reply(400, ec::invalid_argument,
                           "Idempotency-Key must have 1 to 256 characters");
      ids.command = uuid::name_based(idempotency_space, key);
    }
    return endpoint.run(id, body, expected, ids);
  }
};

http_edge::http_edge(application& app, http_options options)
  : app_(&app), impl_(std::make_unique<impl>(app, std::move(options))) {}

http_edge::~http_edge() {
  stop();
}

void http_edge::add(const std::string& prefix, std::string aggregate,
                    std::unique_ptr<entity_endpoint> endpoint) {
  if (impl_->started)
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "serve '" + prefix + "' before the edge starts")};
  if (!valid_prefix(prefix))
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "'" + prefix
                                      + "' is not a path prefix like /accounts (letters, "
                                        "digits, '-', '_', segments starting with '/')")};
  if (prefix == "/metrics" || impl_->endpoints.contains(prefix))
    throw cafes_error{failure::make(ec::invalid_argument, "'" + prefix + "' is served already")};
  auto& served = *(impl_->endpoints[prefix] = std::move(endpoint));
  if (std::find(impl_->aggregate_names.begin(), impl_->aggregate_names.end(), aggregate)
      == impl_->aggregate_names.end())
    impl_->aggregate_names.push_back(aggregate);
  auto& state = *impl_;
  auto on_item = [&state, &served](const httplib::Request& req, httplib::Response& res) {
    state.answer(res, state.handle(served, req, req.matches[1]));
  };
  auto on_collection = [&state, &served](const httplib::Request& req, httplib::Response& res) {
    state.answer(res, state.handle(served, req, std::string{}));
  };
  auto item = prefix + "/([^/]+)";
  impl_->server.Get(item, on_item);
  impl_->server.Post(item, on_item);
  impl_->server.Post(prefix, on_collection);
}

std::uint16_t http_edge::start() {
  auto& state = *impl_;
  std::lock_guard guard{state.stop_mutex};
  if (state.started)
    throw cafes_error{failure::make(ec::invalid_argument, "the HTTP edge is started already")};
  auto& server = state.server;
  const auto threads = std::max<std::size_t>(state.options.threads, 1);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(state.options.max_body_bytes);
  server.set_tcp_nodelay(true);
  // httplib's default also sets SO_REUSEPORT, which lets a second server
  // bind a port in use and share its connections: refused here, so that a
  // taken port is an error (SO_REUSEADDR still allows a quick restart).
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.set_keep_alive_max_count(1000);
  server.set_keep_alive_timeout(state.options.keep_alive_timeout.count());
  server.set_read_timeout(state.options.read_timeout.count(), 0);
  // Paths no endpoint serves, and errors httplib answers itself (413 for a
  // body over the limit, 400 for a malformed request): JSON too.
  server.Get("/metrics", [&state](const httplib::Request&, httplib::Response& res) {
    if (state.draining) {
      state.answer(res, error_reply(503, ec::closing, "the service is shutting down"));
      return;
    }
    res.set_content(state.metrics(), "text/plain; version=0.0.4");
    state.count(200);
  });
  server.set_error_handler([&state](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty())
      return; // an answer of ours (httplib calls this for every status >= 400)
    state.count(res.status);
    auto code = res.status == 413 ? ec::invalid_argument
                                  : (res.status == 404 ? ec::not_found : ec::invalid_argument);
    auto message = res.status == 404 ? std::string{"no such path"}
                   : res.status == 413
                     ? std::string{"the body is larger than this service takes"}
                     : "HTTP status " + std::to_string(res.status);
    send(res, error_reply(res.status, code, message));
  });
  server.set_exception_handler(
    [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send(res, error_reply(500, ec::storage_failure, "internal error: " + what));
    });
  bool bound = false;
  if (state.options.port == 0) {
    auto port = server.bind_to_any_port(state.options.host);
    bound = port > 0;
    state.port = bound ? static_cast<std::uint16_t>(port) : 0;
  } else {
    bound = server.bind_to_port(state.options.host, state.options.port);
    state.port = bound ? state.options.port : 0;
  }
  if (!bound)
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "cannot listen on " + state.options.host + ":"
                                      + std::to_string(state.options.port)
                                      + " (taken, or not an address of this machine)")};
  state.started = true;
  state.listener = std::thread{[&server, &state] {
    server.listen_after_bind();
    state.listen_ended = true;
  }};
  // httplib ignores a stop() that comes before its loop runs: wait for it.
  while (!server.is_running() && !state.listen_ended)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  return state.port;
}

std::uint16_t http_edge::port() const noexcept {
  return impl_->port;
}

void http_edge::drain() {
  impl_->draining = true;
}

void http_edge::stop() {
  auto& state = *impl_;
  std::lock_guard guard{state.stop_mutex};
  if (!state.started || state.stopped)
    return;
  state.stopped = true;
  state.draining = true;
  state.server.stop();
  if (state.listener.joinable())
    state.listener.join();
}

} // namespace cafes::net
