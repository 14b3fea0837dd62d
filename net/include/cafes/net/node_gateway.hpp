#pragma once
// The actor a node publishes: it routes each request to the registry shard
// of the named aggregate that serves the entity, which answers the remote
// sender directly. Its typed interface is the node protocol: a peer must
// compile the same one (CAF compares the interface strings on connect).

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/registry.hpp"

namespace cafes::net {

using node_gateway_actor = caf::typed_actor<
  // Runs a command on entity `id` of the aggregate named by the string.
  caf::replies_to<execute_atom, std::string, entity_id, command_envelope>::with<entity_snapshot>,
  // Asks entity `id` of the named aggregate for its snapshot.
  caf::replies_to<caf::get_atom, std::string, entity_id>::with<entity_snapshot>>;

/// The registry shards of each published aggregate, by aggregate name.
using published_aggregates = std::map<std::string, std::vector<registry_actor>, std::less<>>;

/// Spawns a gateway over `aggregates` (each with at least one shard). A
/// request for an aggregate not in it is answered ec::invalid_argument;
/// any other answer is the entity actor's (see entity_actor.hpp). The
/// gateway does not own the registries: the application stops them.
node_gateway_actor spawn_node_gateway(caf::actor_system& system, published_aggregates aggregates);

} // namespace cafes::net
