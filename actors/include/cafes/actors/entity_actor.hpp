#pragma once
// The entity actor: one per entity id. Loads the entity's history on first
// use, holds its state and version, and handles its commands one at a time:
// decide, conditional append at the current version, evolve, reply.

#include <chrono>
#include <memory>

#include <caf/actor_control_block.hpp>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/config.hpp"
#include "cafes/actors/counters.hpp"
#include "cafes/actors/delay_actor.hpp"
#include "cafes/actors/storage_actor.hpp"
#include "cafes/actors/type_ids.hpp"
#include "cafes/domain/erased_aggregate.hpp"

namespace cafes {

using entity_actor = caf::typed_actor<
  // Runs one command; replies the snapshot after it (a command whose id
  // this entity applied before is not applied again: the reply is the
  // current snapshot with command_version the version it got then), or an
  // error naming the entity (failure::entity):
  // ec::conflict (stale expected version, with the missed events up to
  // entity_options::missed_events_cap; without an expected version: the
  // retry budget ran out, versions only), ec::rejected, ec::not_found,
  // ec::invalid_argument (a command of another aggregate),
  // ec::decode_failure (history unreadable or damaged, or command bytes
  // that do not decode), ec::storage_failure (nothing written),
  // ec::storage_unavailable (the store is closed or read-only),
  // ec::unknown_outcome (the store may have written it: the actor reloads
  // before the next command; read back to know: the RocksDB store reopens
  // before its next read, so that the read shows the write if the log
  // kept it), ec::timeout (the store
  // did not answer within entity_options::storage_timeout: it may still
  // write; or a read-your-writes projection did not answer in time: the
  // command was applied), ec::closing (the registry: the application is
  // closing). No cafes actor answers ec::actor_error: to_failure gives it
  // for a CAF error of another kind only (see entity_ref.hpp for the
  // errors CAF gives a caller itself).
  caf::replies_to<execute_atom, command_envelope>::with<entity_snapshot>,
  // The current snapshot, or an error naming the entity: ec::not_found for
  // an entity with no events; ec::decode_failure, ec::storage_failure,
  // ec::storage_unavailable, ec::timeout when the history cannot be
  // loaded; ec::closing (the registry: the application is closing).
  caf::replies_to<caf::get_atom>::with<entity_snapshot>,
  // From the registry: finish what is queued, then stop.
  caf::reacts_to<stop_atom>,
  // From the actor itself: decide the requests that queued up meanwhile.
  caf::reacts_to<decide_atom>>;

struct entity_options {
  /// Stop after this long without a message, asking the registry first so
  /// that no command is lost: 0 = never.
  std::chrono::milliseconds idle_timeout{0};
  /// How long to wait for the storage actor: 0 = as long as it takes (it
  /// answers every request once its store call returns; callers have their
  /// own timeouts). A positive value makes a slow store fail the command
  /// with ec::timeout; the actor then reloads before the next one. A direct
  /// append (see direct_appends) runs on the actor's thread and has no
  /// timeout: it is only used for stores whose appends do not wait for a
  /// device.
  std::chrono::milliseconds storage_timeout{0};
  /// Retries of commands without an expected version.
  retry_policy retry;
  /// Most missed events a conflict answer carries (see
  /// failure::missed_events); further behind, the versions only. 0: none.
  std::uint32_t missed_events_cap = 64;
  /// Serves the waits between retries; without one, retries do not wait.
  delay_actor delays;
  /// The aggregate's conflict and retry counters, shared by all its entity
  /// actors (null: not counted).
  std::shared_ptr<command_counters> counters;
};

/// What the entity actors of one registry and storage shard share: one copy
/// per shard, not one per actor (a million actors may be resident).
struct entity_context {
  std::shared_ptr<const erased_aggregate> aggregate;
  /// Where appends and reads go.
  storage_shard storage;
  /// Receives `(passivate_atom, id)` from an actor idle for
  /// `options.idle_timeout`; when null (or gone) such an actor just stops.
  caf::weak_actor_ptr registry;
  entity_options options;
};

/// Spawns the actor of entity `id`.
entity_actor spawn_entity_actor(caf::local_actor& parent, entity_id id,
                                std::shared_ptr<const entity_context> context);

} // namespace cafes
