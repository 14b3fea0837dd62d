#pragma once
// The registry: spawns entity actors on demand, keeps exactly one per entity
// id at a time, routes commands to them, and retires idle ones without losing
// or reordering a command.

#include <cstddef>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/entity_actor.hpp"

namespace cafes {

using registry_actor = caf::typed_actor<
  // Routes a command to the entity's actor (spawning it if needed); the
  // entity actor replies to the original sender.
  caf::replies_to<execute_atom, entity_id, command_envelope>::with<entity_snapshot>,
  // Routes a state query the same way.
  caf::replies_to<caf::get_atom, entity_id>::with<entity_snapshot>,
  // From an idle entity actor: may it stop?
  caf::reacts_to<passivate_atom, entity_id>,
  // Counters of this registry.
  caf::replies_to<stats_atom>::with<registry_stats>>;

/// Spawns a registry for one aggregate. Entity `id` uses
/// `storage[shard_of(id, storage.size())]` (precondition: not empty). On an exit
/// message it refuses new requests (ec::closing), stops every
/// entity actor it spawned after each has handled what it already queued, a
/// bounded number at a time, and quits once the last one has ended.
registry_actor spawn_registry(caf::actor_system& system,
                              std::shared_ptr<const erased_aggregate> aggregate,
                              std::vector<storage_shard> storage,
                              entity_options options);

/// Returns the shard of `id` among `count` shards (count > 0). Registries and
/// storage actors are sharded by the same function.
std::size_t shard_of(const entity_id& id, std::size_t count);

} // namespace cafes
