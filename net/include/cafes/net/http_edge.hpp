#pragma once
// The HTTP/JSON edge: an application's entities for clients that are not CAF
// programs (curl, a browser, another language). HTTP's own optimistic
// concurrency fits cafes: an entity's version is its ETag, and a command
// sent with `If-Match` runs only at that version.
//
// For an aggregate served at PREFIX (for example "/accounts"):
//   GET  PREFIX/{id}   200, the state as JSON and `ETag: "version"`;
//                      404 for an entity with no events.
//   POST PREFIX        a command that creates ({"type": "...", fields...}):
//                      201, `Location: PREFIX/{id}`, the state, its ETag.
//   POST PREFIX/{id}   a command. With `If-Match: "N"`: run at version N,
//                      412 Precondition Failed when the entity is elsewhere
//                      (the body has the current version and the events the
//                      client missed). Without: at whatever version the
//                      entity has, retried on another writer's append.
//                      200 with the new state and ETag.
//   GET  /events?after=N   a live tail of the global log as server-sent
//                      events, from after position N (or the
//                      Last-Event-ID header): each event's `id:` is its
//                      position, `event:` its type, `data:` its JSON
//                      {"position", "entity", "version", "type",
//                      "timestamp_ns", "command_id", "correlation_id",
//                      "causation_id", fields...}; the fields of an
//                      aggregate not served here come as "payload_base64".
//                      `aggregate=` and `type=` filter (repeatable).
//   GET  /metrics      the edge's and the application's counters in
//                      Prometheus text format: requests by status code,
//                      and per served aggregate conflicts, retries,
//                      retries exhausted, missed events delivered; entity
//                      actors resident, spawned, passivated.
// `Idempotency-Key: K` makes the command idempotent (its command id is
// derived from K): sent again, it is not applied again, and the answer is
// the current state. A create with a key also derives the entity's id from
// it, so a repeated create answers the entity it made.
//
// Errors are JSON, {"error": code, "message": ..., "entity": ...} and for
// a conflict "expected_version", "actual_version", "missed_events" (each
// event {"version", "position", "type", fields...}): 400 malformed JSON, an
// unknown command type, a field that is missing or wrong, an id that is not
// a UUID, a bad If-Match; 404 unknown entity or path; 409 a command without
// If-Match that kept meeting other writers (retries exhausted); 412 stale
// If-Match; 413 a body over `max_body_bytes`; 422 a rejection; 500 a
// storage failure or undecodable history; 503 while draining or closing,
// or a store that is unavailable (with Retry-After); 504 no answer in
// time, and 500 "unknown_outcome" when the write may or may not be stored:
// the client reads the entity back.
//
// Commands, states and events cross as JSON: their structs name their
// fields (`field_names`, see cafes/net/json.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cafes/actors/repository.hpp"
#include "cafes/net/json.hpp"

namespace cafes::net {

/// HTTPS: the edge's certificate and key (PEM files), and optionally the
/// CA whose certificates clients must present (mutual TLS).
struct tls_files {
  std::string certificate;
  std::string key;
  /// Empty: any client may connect (authenticate it with a bearer token).
  std::string client_ca;

  bool enabled() const noexcept { return !certificate.empty(); }
};

struct http_options {
  /// Where to listen. Loopback by default: any other address needs TLS and
  /// a bearer token or client certificates (see http_edge::start).
  std::string host = "127.0.0.1";
  /// 0: the system picks one (see http_edge::port).
  std::uint16_t port = 0;
  /// A larger request body gets 413 before it is read whole.
  std::size_t max_body_bytes = 64 * 1024;
  /// Worker threads. A keep-alive connection holds one while it is open,
  /// so give more than the clients expected at once.
  std::size_t threads = 16;
  /// An idle keep-alive connection is closed after this long (it also
  /// bounds how long stop() waits for one).
  std::chrono::seconds keep_alive_timeout{1};
  /// A client that sends a request slower than this is cut off.
  std::chrono::seconds read_timeout{5};
  /// HTTPS instead of HTTP when set.
  tls_files tls;
  /// When not empty, every request needs `Authorization: Bearer TOKEN`
  /// (else 401).
  std::string bearer_token;
  /// Most live tails of the global log (GET /events) open at once: each
  /// holds a worker thread while open. Over it: 503. 0: half the threads.
  std::size_t max_streams = 0;
  /// A live tail with nothing to send writes a comment this often (it also
  /// finds clients that went away).
  std::chrono::milliseconds stream_keep_alive{15'000};
};

/// An HTTP request as a route's handler sees it.
struct http_request {
  std::string method;
  std::string path;
  /// The route's regular expression groups: [0] the whole path.
  std::vector<std::string> matches;
  std::string body;
  /// Header values and query parameters by name (names of headers in any
  /// case).
  std::function<std::optional<std::string>(const std::string&)> header;
  std::function<std::optional<std::string>(const std::string&)> param;
};

/// The expected version and command ids an HTTP request asks for: If-Match
/// ("N" or *) and Idempotency-Key. Errors: ec::invalid_argument naming the
/// bad header.
result<std::pair<std::uint64_t, command_ids>> request_preconditions(const http_request& request);

/// An HTTP answer, before it is sent.
struct http_reply {
  int status = 200;
  std::string body; // JSON
  std::vector<std::pair<std::string, std::string>> headers{};
};

/// One served aggregate's side of the edge (made by http_edge::serve).
class entity_endpoint {
public:
  virtual ~entity_endpoint() = default;
  /// GET of entity `id`.
  virtual http_reply get(const entity_id& id) = 0;
  /// POST of `body` (the JSON command) to entity `id`, or to a new entity
  /// when `id` is null, at version `expected` (any_version: none given).
  virtual http_reply run(const std::optional<entity_id>& id, const json::value& body,
                         std::uint64_t expected, const command_ids& ids) = 0;
  /// Returns the JSON of `record` ({"type", fields...}) when it is an event
  /// of this aggregate that decodes, else nothing.
  virtual std::optional<json::value> event_json(const event_record& record) = 0;
};

/// Returns the reply for `problem`, with `missed_events` (a conflict's, as
/// JSON). `precondition`: the command had an If-Match (a conflict is 412,
/// else 409).
http_reply failure_reply(const failure& problem, const json::value& missed_events,
                         bool precondition = false);

/// Returns the JSON of `id`'s `state` at `version`: {"id", "version", fields...}.
json::value state_body(const entity_id& id, std::uint64_t version, json::value state);

template <aggregate A>
class typed_endpoint final : public entity_endpoint {
public:
  typed_endpoint(application& app, const application::served& served, std::string prefix)
    : app_(app), served_(served), prefix_(std::move(prefix)) {}

  http_reply get(const entity_id& id) override {
    return answer(app_.call(served_, id, std::nullopt), 200);
  }

  http_reply run(const std::optional<entity_id>& id, const json::value& body,
                 std::uint64_t expected, const command_ids& ids) override {
    auto type = body.is_object() && body.contains("type") && body["type"].is_string()
                  ? body["type"].template get<std::string>()
                  : std::string{};
    if (type.empty())
      return failure_reply(failure::make(ec::invalid_argument,
                                         "the body needs \"type\": the command's type name"),
                           json::value::array());
    auto command = json::variant_from_json<typename A::command>(type, body);
    if (!command)
      return failure_reply(command.error(), json::value::array());
    return execute(id, *command, expected, ids);
  }

  /// Runs `command` on entity `id` (none: a new entity, 201) at version
  /// `expected` with `ids`, and returns the reply (see http_edge.hpp).
  http_reply execute(const std::optional<entity_id>& id, const typename A::command& command,
                     std::uint64_t expected, const command_ids& ids) {
    if (!id) {
      // With an idempotency key, the id comes from it too: a repeated
      // create finds the entity it made.
      auto created = ids.command.is_nil() ? uuid::random()
                                          : uuid::name_based(ids.command, "entity");
      return answer(app_.call(served_, created, encode_command(command), 0, ids), 201);
    }
    return answer(app_.call(served_, *id, encode_command(command), expected, ids), 200,
                  expected != any_version);
  }

  std::optional<json::value> event_json(const event_record& record) override {
    auto event = decode<typename A::event>(record);
    if (!event)
      return std::nullopt;
    return json::variant_to_json(*event);
  }

private:
  http_reply answer(result<entity_snapshot> snapshot, int status, bool precondition = false) {
    if (!snapshot)
      return failure_reply(snapshot.error(), missed(snapshot.error()), precondition);
    auto copy = copy_from<A>(*snapshot);
    if (!copy)
      return failure_reply(copy.error(), json::value::array());
    http_reply reply{status,
                     state_body(copy->id, copy->version, json::to_json(copy->state)).dump(),
                     {{"ETag", "\"" + std::to_string(copy->version) + "\""}}};
    if (status == 201)
      reply.headers.emplace_back("Location", prefix_ + "/" + to_string(copy->id));
    return reply;
  }

  static json::value missed(const failure& problem) {
    auto out = json::value::array();
    for (const auto& record : problem.missed_events) {
      auto event = decode<typename A::event>(record);
      if (!event)
        return json::value::array(); // undecodable here: the versions say enough
      auto item = json::variant_to_json(*event);
      item["version"] = record.version;
      item["position"] = record.position;
      out.push_back(std::move(item));
    }
    return out;
  }

  application& app_;
  const application::served& served_;
  std::string prefix_;
};

/// The HTTP server. Serve aggregates, then start. Stop it (or destroy it)
/// before the application: its worker threads call into the actor system.
class http_edge {
public:
  /// Does not listen yet (see start).
  explicit http_edge(application& app, http_options options = {});

  /// Stops (see stop).
  ~http_edge();

  http_edge(const http_edge&) = delete;
  http_edge& operator=(const http_edge&) = delete;

  /// Serves aggregate `A`'s entities under `prefix` ("/accounts": letters,
  /// digits, '-', '_' and '/', starting with '/'). Call before start.
  /// Throws cafes_error with ec::invalid_argument for a bad or taken
  /// prefix, or as application::serve.
  template <aggregate A>
  typed_endpoint<A>& serve(const std::string& prefix) {
    auto endpoint = std::make_unique<typed_endpoint<A>>(*app_, app_->serve(erase<A>()), prefix);
    auto& typed = *endpoint;
    add(prefix, std::string{A::name}, std::move(endpoint));
    return typed;
  }

  /// Answers requests with method `method` ("GET" or "POST") whose path
  /// matches the regular expression `pattern` with `handler` (a service's
  /// own resources, next to the served aggregates). Call before start. A
  /// handler that throws gets 500. Throws cafes_error with
  /// ec::invalid_argument for another method or after start.
  void route(const std::string& method, const std::string& pattern,
             std::function<http_reply(const http_request&)> handler);

  /// Binds and starts listening on a thread of its own. Returns the port.
  /// Throws cafes_error with ec::invalid_argument when the host and port
  /// cannot be bound (taken, not an address of this machine), when it was
  /// started before, when a TLS file does not load, or when the host is
  /// not a loopback address and the edge has no TLS, or neither a bearer
  /// token nor client certificates (anyone on the network could write).
  std::uint16_t start();

  /// The port it listens on (0 before start).
  std::uint16_t port() const noexcept;

  /// From now on every request gets 503 with Retry-After (requests being
  /// answered finish). For a graceful stop: drain, wait, stop.
  void drain();

  /// Stops listening, lets running requests finish, closes idle
  /// connections (within keep_alive_timeout) and joins every thread. Safe
  /// to call twice.
  void stop();

private:
  void add(const std::string& prefix, std::string aggregate,
           std::unique_ptr<entity_endpoint> endpoint);

  struct impl;
  application* app_;
  std::unique_ptr<impl> impl_;
};

} // namespace cafes::net
