#pragma once
// A CAF node: an actor system that publishes an application's aggregates
// on a host and port, or connects to another node's and gives a remote
// application with the same synchronous API (repository<A>) and typed
// handles (entity_ref<A>). Plain TCP, or TLS with mutual certificate
// authentication (CAF's openssl module).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "cafes/actors/repository.hpp"
#include "cafes/domain/result.hpp"

namespace cafes::net {

/// Mutual TLS: each end presents its certificate and accepts only a peer
/// whose certificate `ca_file`'s CA signed. CAF checks no host name, so a
/// node's identity is "holds a certificate from this CA": give the cluster
/// a CA of its own. All three files are PEM.
struct tls_options {
  /// This node's certificate, used at both ends of a connection (give it
  /// the extended key usages serverAuth and clientAuth).
  std::string certificate;
  /// Its private key.
  std::string key;
  /// The key's passphrase; empty: the key is not encrypted.
  std::string passphrase;
  /// The CA certificate that a peer's certificate must be signed by.
  std::string ca_file;
};

struct node_options {
  /// Where `publish` listens: 127.0.0.1 (loopback only).
  std::string host = "127.0.0.1";
  /// Where `publish` listens: 0 = the system picks one (publish returns it).
  std::uint16_t port = 0;
  /// None: plain TCP, neither encrypted nor authenticated (loopback or a
  /// network you trust). Set: TLS both ways, for publish and connect.
  std::optional<tls_options> tls;
  /// Heartbeats on every connection, so that a peer that stops answering
  /// without closing (frozen, or its host gone) is noticed: 500 ms;
  /// 0 = none (then such a peer is noticed only by request timeouts).
  std::chrono::milliseconds heartbeat{500};
  /// A connection silent this long is closed, and requests in flight on it
  /// fail: 2 s (ignored without heartbeats).
  std::chrono::milliseconds connection_timeout{2'000};
  /// Longest a connection attempt (TCP, TLS handshake, CAF's handshake)
  /// takes before it fails: 5 s.
  std::chrono::milliseconds connect_timeout{5'000};
};

/// One actor system with CAF's middleman (and, with TLS, its openssl
/// manager). Destroy it on the thread that made it, after every
/// application running in it (CAF 0.17.6 hangs otherwise).
class node {
public:
  /// Makes the actor system; `scheduler`'s scheduler_threads and
  /// poll_attempts apply to it (see configure_scheduler). With TLS, the
  /// files are loaded and checked here, because CAF loads them only at the
  /// first connection, on its network thread, where a bad file ends the
  /// process (std::terminate) or hangs the connect. Throws cafes_error with
  /// ec::invalid_argument when a TLS field is empty, a file is missing or
  /// not PEM, the key does not decrypt with the passphrase or does not
  /// match the certificate, or CAF refuses a setting.
  explicit node(node_options options = {}, const application_config& scheduler = {});

  /// Stops publishing (see close), then the actor system, waiting for its
  /// actors.
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The actor system: run the serving application in it
  /// (`application{node.system(), store}`).
  caf::actor_system& system() noexcept;

  const node_options& options() const noexcept;

  /// Publishes aggregates `aggregates` of `app` (which runs in system(),
  /// and must outlive the publication: close() or destroy the node first)
  /// at options().host and port. Returns the port. Throws cafes_error with
  /// ec::invalid_argument when the list is empty, the node publishes
  /// already, the host is not loopback and the node has no TLS (CAF
  /// 0.17.6 crashes on crafted bytes from an unauthenticated peer), or the
  /// host and port cannot be bound (taken, not an address of this
  /// machine); and as application::serve.
  std::uint16_t publish(application& app,
                        const std::vector<std::shared_ptr<const erased_aggregate>>& aggregates);

  /// Publishes aggregates `As...` of `app`; see above.
  template <aggregate... As>
  std::uint16_t publish(application& app) {
    return publish(app, {erase<As>()...});
  }

  /// Stops publishing: the port is closed and requests arriving after are
  /// refused. Connected peers see their requests fail (ec::closing, or
  /// ec::unknown_outcome for commands in flight). Safe to call again.
  void close();

  /// Connects to the node at `host`:`port` (with this node's TLS
  /// settings) and returns a remote application in system(): its
  /// repositories and entity_refs reach that node's published aggregates;
  /// conflicts, rejections and every other entity error arrive as they
  /// would locally. `config.request_timeout` bounds each request once it
  /// is sent (also those sent through entity_ref without a timeout); a
  /// request that first waits for a reconnect waits up to
  /// options().connect_timeout more. The synchronous API's own calls stay
  /// within request_timeout in all. Destroy it before
  /// the node. If the connection is lost, requests in flight fail at once
  /// (a command: ec::unknown_outcome, it may have been applied; a get:
  /// ec::closing), and the next request connects again; while the node
  /// cannot be reached, requests fail with ec::closing. Errors (nothing
  /// connected): ec::closing when the node cannot be reached or refuses
  /// the connection (a TLS peer refuses a certificate of another CA, or
  /// none, and plain TCP to a TLS port), ec::timeout when the attempt takes
  /// longer than options().connect_timeout, ec::actor_error when the port
  /// serves something other than a cafes node.
  result<std::unique_ptr<application>> connect(const std::string& host, std::uint16_t port,
                                               application_config config = {});

  /// The state behind the node (node.cpp).
  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace cafes::net
