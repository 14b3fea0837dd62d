#include "cafes/net/http_edge.hpp"

#include <algorithm>
#include <atomic>
#include <list>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <caf/all.hpp>
#include <httplib.h>

#include "address.hpp"
#include "cafes/actors/application.hpp"

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

/// Compares without stopping at the first difference (a token's prefix is
/// not revealed by how long the comparison took).
bool same_secret(const std::string& given, const std::string& secret) {
  unsigned char diff = given.size() == secret.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ secret[i % std::max<std::size_t>(secret.size(), 1)]);
  return diff == 0 && !secret.empty();
}

/// Returns an http_request view of httplib's request.
http_request view_of(const httplib::Request& req) {
  http_request out;
  out.method = req.method;
  out.path = req.path;
  for (const auto& match : req.matches)
    out.matches.push_back(match.str());
  out.body = req.body;
  out.header = [&req](const std::string& name) -> std::optional<std::string> {
    if (!req.has_header(name.c_str()))
      return std::nullopt;
    return req.get_header_value(name.c_str());
  };
  out.param = [&req](const std::string& name) -> std::optional<std::string> {
    if (!req.has_param(name.c_str()))
      return std::nullopt;
    return req.get_param_value(name.c_str());
  };
  return out;
}

/// Reads a whole number from `text` (1 to 19 digits, nothing else).
/// Returns nullopt otherwise.
std::optional<std::uint64_t> position_of(const std::string& text) {
  static const std::regex digits{R"(^[0-9]{1,19}$)"};
  if (!std::regex_match(text, digits))
    return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// Reads `If-Match`: `"N"` (a strong tag) is version N, `*` any version.
/// Returns nullopt for anything else.
std::optional<std::uint64_t> expected_version(const std::string& header) {
  if (header == "*")
    return any_version;
  if (header.size() < 2 || header.front() != '"' || header.back() != '"')
    return std::nullopt;
  return position_of(header.substr(1, header.size() - 2));
}

bool valid_prefix(const std::string& prefix) {
  static const std::regex allowed{R"(^(/[A-Za-z0-9_-]+)+$)"};
  return std::regex_match(prefix, allowed);
}

} // namespace

result<std::pair<std::uint64_t, command_ids>> request_preconditions(const http_request& request) {
  std::uint64_t expected = any_version;
  if (auto header = request.header("If-Match")) {
    auto parsed = expected_version(*header);
    if (!parsed)
      return failure::make(ec::invalid_argument,
                           "If-Match must be one entity tag like \"3\" (the version), or *");
    expected = *parsed;
  }
  command_ids ids;
  if (auto key = request.header("Idempotency-Key")) {
    if (key->empty() || key->size() > 256)
      return failure::make(ec::invalid_argument, "Idempotency-Key must have 1 to 256 characters");
    ids.command = uuid::name_based(idempotency_space, *key);
  }
  return std::pair{expected, ids};
}

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
  /// An SSLServer when options.tls is set.
  std::unique_ptr<httplib::Server> server;
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
  /// The position each open live tail has looked at.
  std::mutex streams_mutex;
  std::list<std::atomic<std::uint64_t>> streams;

  impl(application& application, http_options opts)
    : app(application), options(std::move(opts)) {
    const auto& tls = options.tls;
    if (tls.enabled())
      server = std::make_unique<httplib::SSLServer>(
        tls.certificate.c_str(), tls.key.c_str(),
        tls.client_ca.empty() ? nullptr : tls.client_ca.c_str());
    else
      server = std::make_unique<httplib::Server>();
  }

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
           "Entity actors stopped after being idle or finding no history.");
    sample("cafes_entity_actors_passivated_total", "", stats.passivated);
    auto commits = app.commits();
    auto histogram = [&](const char* name, const auto& bounds, const auto& counts,
                         std::uint64_t sum, double scale) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += counts[i];
        out += std::string{name} + "_bucket{le=\"" + number(bounds[i] * scale) + "\"} "
               + std::to_string(cumulative) + "\n";
      }
      cumulative += counts.back();
      out += std::string{name} + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
      out += std::string{name} + "_sum " + number(static_cast<double>(sum) * scale) + "\n";
      out += std::string{name} + "_count " + std::to_string(cumulative) + "\n";
    };
    family("cafes_append_latency_seconds", "histogram",
           "How long the store took per commit (a group commit or a direct append).");
    histogram("cafes_append_latency_seconds", commit_stats::latency_bounds_us, commits.latency,
              commits.latency_sum_us, 1e-6);
    family("cafes_group_commit_size", "histogram", "Appends per commit.");
    histogram("cafes_group_commit_size", commit_stats::size_bounds, commits.size,
              commits.appends, 1.0);
    std::uint64_t tails = 0;
    std::uint64_t behind = 0;
    if (auto last = app.store()->last_position()) {
      std::lock_guard guard{streams_mutex};
      tails = streams.size();
      for (const auto& position : streams)
        behind = std::max(behind, *last - std::min(*last, position.load()));
    }
    family("cafes_event_streams_open", "gauge", "Live tails of the global log open (GET /events).");
    sample("cafes_event_streams_open", "", tails);
    family("cafes_subscription_lag_events", "gauge",
           "Log positions the furthest-behind live tail has still to look at.");
    sample("cafes_subscription_lag_events", "", behind);
    return out;
  }

  static std::string number(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
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
    if (req.method == "GET")
      return endpoint.get(id.value()); // GET is routed only with an id
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return error_reply(400, ec::invalid_argument, "the body is not JSON");
    if (!id && req.has_header("If-Match"))
      return error_reply(400, ec::invalid_argument,
                         "If-Match on a create: a new entity has no version");
    http_request headers_only; // what request_preconditions reads: no body copy
    headers_only.header = [&req](const std::string& name) -> std::optional<std::string> {
      if (!req.has_header(name.c_str()))
        return std::nullopt;
      return req.get_header_value(name.c_str());
    };
    auto preconditions = request_preconditions(headers_only);
    if (!preconditions)
      return failure_reply(preconditions.error(), json::value::array());
    return endpoint.run(id, body, preconditions->first, preconditions->second);
  }

  /// Returns whether the request may go on; if not, `res` is the answer
  /// (401 without the bearer token).
  bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (options.bearer_token.empty())
      return true;
    auto given = req.get_header_value("Authorization");
    if (given.rfind("Bearer ", 0) == 0 && same_secret(given.substr(7), options.bearer_token))
      return true;
    auto reply = error_reply(401, ec::invalid_argument,
                             "this service needs Authorization: Bearer TOKEN");
    reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    answer(res, reply);
    return false;
  }

  /// The JSON of a log event: where it is, which entity, and its fields as
  /// a served aggregate reads them (else its payload in base64).
  json::value log_event_json(const event_record& record) {
    json::value out{{"position", record.position},
                    {"entity", to_string(record.entity)},
                    {"version", record.version},
                    {"type", record.type},
                    {"timestamp_ns", record.timestamp_ns},
                    {"command_id", to_string(record.command_id)},
                    {"correlation_id", to_string(record.correlation_id)},
                    {"causation_id", to_string(record.causation_id)}};
    for (auto& [prefix, endpoint] : endpoints)
      if (auto fields = endpoint->event_json(record)) {
        fields->erase("type");
        out.update(*fields);
        return out;
      }
    out["payload_base64"] = to_base64(record.payload);
    return out;
  }

  /// Streams the global log after `after` through `filter` to `sink` as
  /// server-sent events until the client goes or the edge stops;
  /// `position` follows what was looked at (for the lag in /metrics).
  void stream(std::uint64_t after, const log_filter& filter, httplib::DataSink& sink,
              std::atomic<std::uint64_t>& position) {
    using clock = std::chrono::steady_clock;
    auto quiet_since = clock::now();
    caf::scoped_actor self{app.system()};
    while (!draining) {
      auto page = app.store()->read_all(after, 256, filter);
      if (!page) {
        auto text = "event: error\ndata: "
                    + json_text(json::value{{"error", std::string{to_string(page.error().code)}},
                                            {"message", page.error().message}})
                    + "\n\n";
        sink.write(text.data(), text.size());
        break;
      }
      std::string out;
      for (const auto& record : page->events)
        out += "id: " + std::to_string(record.position) + "\nevent: " + record.type
               + "\ndata: " + json_text(log_event_json(record)) + "\n\n";
      if (!out.empty()) {
        if (!sink.write(out.data(), out.size()))
          break;
        quiet_since = clock::now();
      }
      if (page->next_after > after) {
        after = page->next_after;
        position = after;
        continue; // there may be more: read on before waiting
      }
      if (clock::now() - quiet_since >= options.stream_keep_alive) {
        static const std::string comment = ": keep-alive\n\n";
        if (!sink.write(comment.data(), comment.size()))
          break;
        quiet_since = clock::now();
      }
      // Wait at the log hub for a commit past `after`, a short while at a
      // time so that a stopping edge ends the stream soon.
      self->request(app.hub(), std::chrono::milliseconds{250}, wait_atom::value, after)
        .receive([](std::uint64_t) {}, [](caf::error&) {});
    }
  }

  /// Answers GET /events: opens a live tail, or says why not.
  void open_stream(const httplib::Request& req, httplib::Response& res) {
    if (draining) {
      answer(res, error_reply(503, ec::closing, "the service is shutting down"));
      return;
    }
    std::uint64_t after = 0;
    auto from = req.has_header("Last-Event-ID") ? req.get_header_value("Last-Event-ID")
                : req.has_param("after")        ? req.get_param_value("after")
                                                : std::string{"0"};
    if (auto parsed = position_of(from)) {
      after = *parsed;
    } else {
      answer(res, error_reply(400, ec::invalid_argument,
                              "after (or Last-Event-ID) must be a log position: digits, got '"
                                + from + "'"));
      return;
    }
    log_filter filter;
    for (std::size_t i = 0; i < req.get_param_value_count("aggregate"); ++i)
      filter.aggregates.push_back(req.get_param_value("aggregate", i));
    for (std::size_t i = 0; i < req.get_param_value_count("type"); ++i)
      filter.event_types.push_back(req.get_param_value("type", i));
    auto last = app.store()->last_position();
    if (!last) {
      answer(res, failure_reply(last.error(), json::value::array()));
      return;
    }
    if (after > *last) {
      answer(res, error_reply(400, ec::invalid_argument,
                              "after " + std::to_string(after) + " is past the end of the log ("
                                + std::to_string(*last) + ")"));
      return;
    }
    std::list<std::atomic<std::uint64_t>>::iterator slot;
    {
      std::lock_guard guard{streams_mutex};
      if (streams.size() >= stream_limit()) {
        answer(res, error_reply(503, ec::storage_unavailable,
                                "too many live tails open (" + std::to_string(streams.size())
                                  + "): try again later"));
        return;
      }
      slot = streams.emplace(streams.end(), after);
    }
    count(200);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
      "text/event-stream",
      [this, after, filter, slot](std::size_t, httplib::DataSink& sink) {
        stream(after, filter, sink, *slot);
        sink.done();
        return true;
      },
      [this, slot](bool) {
        std::lock_guard guard{streams_mutex};
        streams.erase(slot);
      });
  }

  std::size_t stream_limit() const {
    return options.max_streams > 0 ? options.max_streams
                                    : std::max<std::size_t>(options.threads / 2, 1);
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
  if (prefix == "/metrics" || prefix == "/events" || impl_->endpoints.contains(prefix))
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
  impl_->server->Get(item, on_item);
  impl_->server->Post(item, on_item);
  impl_->server->Post(prefix, on_collection);
}

void http_edge::route(const std::string& method, const std::string& pattern,
                      std::function<http_reply(const http_request&)> handler) {
  if (impl_->started)
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "add route '" + pattern + "' before the edge starts")};
  if (method != "GET" && method != "POST")
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "a route's method is GET or POST, not '" + method + "'")};
  auto& state = *impl_;
  auto shared = std::make_shared<std::function<http_reply(const http_request&)>>(std::move(handler));
  auto on_request = [&state, shared](const httplib::Request& req, httplib::Response& res) {
    if (state.draining) {
      state.answer(res, error_reply(503, ec::closing, "the service is shutting down"));
      return;
    }
    state.answer(res, (*shared)(view_of(req)));
  };
  if (method == "GET")
    impl_->server->Get(pattern, on_request);
  else
    impl_->server->Post(pattern, on_request);
}

std::uint16_t http_edge::start() {
  auto& state = *impl_;
  std::lock_guard guard{state.stop_mutex};
  if (state.started)
    throw cafes_error{failure::make(ec::invalid_argument, "the HTTP edge is started already")};
  auto& server = *state.server;
  const auto& options = state.options;
  if (!detail::is_loopback(options.host)
      && (!options.tls.enabled() || (options.bearer_token.empty() && options.tls.client_ca.empty())))
    throw cafes_error{failure::make(
      ec::invalid_argument,
      "listening on " + options.host
        + " (not loopback) needs TLS (a certificate and key) and a bearer token or client "
          "certificates: anyone who reaches it could write")};
  if (!server.is_valid())
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "cannot load the TLS certificate '" + options.tls.certificate
                                      + "', key '" + options.tls.key + "' or client CA '"
                                      + options.tls.client_ca + "'")};
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
  server.set_pre_routing_handler([&state](const httplib::Request& req, httplib::Response& res) {
    return state.authorized(req, res) ? httplib::Server::HandlerResponse::Unhandled
                                      : httplib::Server::HandlerResponse::Handled;
  });
  server.Get("/events", [&state](const httplib::Request& req, httplib::Response& res) {
    state.open_stream(req, res);
  });
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
  state.server->stop();
  if (state.listener.joinable())
    state.listener.join();
}

} // namespace cafes::net
