#include "cafes/net/node_gateway.hpp"

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"

namespace cafes::net {

namespace {

struct gateway_state {
  static inline const char* name = "cafes.node_gateway";
  published_aggregates aggregates;
};

using gateway_pointer = node_gateway_actor::stateful_pointer<gateway_state>;

/// Returns the shard that serves `id` of `aggregate`, or null when the
/// node publishes no aggregate of that name.
const registry_actor* shard_for(gateway_pointer self, const std::string& aggregate,
                                const entity_id& id) {
  auto found = self->state.aggregates.find(aggregate);
  if (found == self->state.aggregates.end())
    return nullptr;
  const auto& shards = found->second;
  return &shards[shard_of(id, shards.size())];
}

caf::error not_published(const std::string& aggregate, const entity_id& id) {
  auto f = failure::make(ec::invalid_argument,
                         "this node publishes no aggregate named '" + aggregate + "'");
  f.entity = id;
  return to_caf_error(f);
}

node_gateway_actor::behavior_type gateway(gateway_pointer self, published_aggregates aggregates) {
  self->state.aggregates = std::move(aggregates);
  // Delegation: the entity actor answers the remote sender itself, so the
  // gateway holds no state per request.
  return {
    [=](execute_atom, const std::string& aggregate, const entity_id& id,
        command_envelope& command) -> caf::result<entity_snapshot> {
      const auto* shard = shard_for(self, aggregate, id);
      if (shard == nullptr)
        return not_published(aggregate, id);
      // Read-your-writes names projection runners of the sender's
      // process, which do not read this node's log.
      if (!command.await_projections.empty()) {
        auto f = failure::make(ec::invalid_argument,
                               "read-your-writes cannot name projections of another node");
        f.entity = id;
        return to_caf_error(f);
      }
      return self->delegate(*shard, execute_atom::value, id, std::move(command));
    },
    [=](caf::get_atom, const std::string& aggregate,
        const entity_id& id) -> caf::result<entity_snapshot> {
      const auto* shard = shard_for(self, aggregate, id);
      if (shard == nullptr)
        return not_published(aggregate, id);
      return self->delegate(*shard, caf::get_atom::value, id);
    },
  };
}

} // namespace

node_gateway_actor spawn_node_gateway(caf::actor_system& system, published_aggregates aggregates) {
  return system.spawn(gateway, std::move(aggregates));
}

} // namespace cafes::net
