#pragma once
// The local stand-in of a remote node's registries for one aggregate
// (private to cafes::net): a registry_actor that forwards each request to
// the node's gateway with a finite timeout, fails the requests in flight
// as soon as the connection is lost, and connects again on the next
// request.

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include <caf/fwd.hpp>
#include <caf/io/middleman_actor.hpp>

#include "cafes/actors/registry.hpp"
#include "cafes/domain/result.hpp"
#include "cafes/net/node_gateway.hpp"

namespace cafes::net {

/// A node to connect to, and how.
struct remote_endpoint {
  std::string host;
  std::uint16_t port = 0;
  /// CAF's middleman actor (plain TCP) or the openssl manager's (TLS).
  caf::io::middleman_actor manager;
  std::chrono::milliseconds connect_timeout{5'000};
  /// Bound of every forwarded request.
  std::chrono::milliseconds request_timeout{30'000};

  /// "host:port", for messages.
  std::string name() const { return host + ":" + std::to_string(port); }
};

/// Returns the gateway in the answer to a connect_atom request to
/// `where.manager`. Errors: ec::actor_error when nothing or something else
/// than a node gateway is published there.
result<node_gateway_actor> gateway_of(caf::actor_system& system, const remote_endpoint& where,
                                      const caf::strong_actor_ptr& published,
                                      const std::set<std::string>& interface);

/// Returns the failure of a connect_atom request that CAF answered with
/// `error`: ec::timeout for its timeout, ec::closing otherwise.
failure connect_failure(caf::actor_system& system, const remote_endpoint& where,
                        const caf::error& error);

/// Spawns the stand-in for aggregate `aggregate` of the node at `where`,
/// starting with `gateway` (connected; null: connect at the first
/// request). Answers as the node's entity actors do, and: ec::closing when
/// the node cannot be reached, ec::timeout past `where->request_timeout`
/// after sending, and, when the connection is lost or the stand-in stops
/// with the request in flight, ec::unknown_outcome for a command (it may
/// have been applied) and ec::closing for a get (and for any request not
/// sent yet). Stats are zero (the node counts).
registry_actor spawn_remote_registry(caf::actor_system& system, std::string aggregate,
                                     std::shared_ptr<const remote_endpoint> where,
                                     node_gateway_actor gateway);

} // namespace cafes::net
