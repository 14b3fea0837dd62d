#pragma once
// The bank as a service (cafes-bank serve): accounts, transfers run by the
// process manager, the accounts-by-owner projection, and the global log,
// over HTTP/JSON (see cafes/net/http_edge.hpp for ETag, If-Match, errors):
//
//   POST /accounts                 {"owner":"ada"} -> 201, Location, ETag,
//                                  {"id","version","owner","balance",...}
//   GET  /accounts/{id}            200 with ETag; 404
//   POST /accounts/{id}/deposits   {"amount":100}, optional If-Match and
//   POST /accounts/{id}/withdrawals  Idempotency-Key -> 200 with the new
//                                  ETag; 412 stale (current version and the
//                                  missed events); 422 rejected
//   GET  /accounts/{id}/events     the account's history, oldest first
//   GET  /accounts?owner=ada       the projection: ada's open accounts
//   GET  /accounts                 the totals over every open account
//   POST /transfers                {"from","to","amount"} -> 202, Location,
//                                  {"id","status":"requested",...}
//   GET  /transfers/{id}           {"status": requested, debited, completed,
//                                  refunded, held or rejected, ...}
//   GET  /events?after=N           the global log, server-sent events
//   GET  /metrics                  Prometheus text

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <optional>

#include "cafes/net/http_edge.hpp"
#include "cafes/net/node.hpp"
#include "cafes/storage/event_store.hpp"

namespace bank_example {

struct service_options {
  /// The RocksDB directory; empty: RocksDB in memory (gone at exit).
  std::string db;
  /// Where HTTP (or HTTPS, with tls) listens, the token, the limits.
  cafes::net::http_options http;
  /// Also publish accounts and transfers as a CAF node (cafes::net::node):
  /// other CAF programs connect there and get the same repositories.
  std::optional<cafes::net::node_options> node;
  /// Accounts and transfers idle this long leave memory (they come back
  /// from the store on their next request): 2 min.
  std::chrono::milliseconds idle_timeout{120'000};
};

/// A running bank: the store, the application, the projection, the
/// transfer manager and the HTTP edge.
class service {
public:
  /// Opens the store, starts the projection and the transfer manager
  /// (both resume from their checkpoints: transfers interrupted by a crash
  /// complete or are refunded) and starts listening (HTTP, and the CAF
  /// node when asked). Throws cafes_error:
  /// the store's error when it does not open (ec::storage_unavailable for
  /// a locked or missing directory, ec::decode_failure for a foreign or
  /// damaged one); ec::invalid_argument when an address cannot be bound,
  /// needs TLS and a token (see http_edge::start), or a node TLS file does
  /// not load (see net::node).
  explicit service(service_options options);

  /// Stops serving, then the application (see stop).
  ~service();

  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// The port it listens on.
  std::uint16_t port() const noexcept;

  /// The port the CAF node listens on (0 without options.node).
  std::uint16_t node_port() const noexcept;

  /// Answers 503 to new requests, lets running ones finish, stops the edge
  /// and the actors. Safe to call twice.
  void stop();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace bank_example
