#pragma once
// The storage actor: owns a store and answers appends and reads without ever
// blocking a CAF scheduler thread (it runs on a thread of its own). Appends
// that arrive while a commit is in flight are committed together as one batch
// (group commit), each with its own conditional check and its own reply.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/type_ids.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes {

using storage_actor = caf::typed_actor<
  // Conditional append: replies the new version, or the store's error
  // (see event_store::append: ec::conflict with expected/actual,
  // ec::invalid_argument, ec::storage_failure, ec::unknown_outcome, ...).
  caf::replies_to<append_atom, append_request>::with<std::uint64_t>,
  // Events of an entity with from <= version <= to, in order.
  caf::replies_to<read_atom, entity_id, std::uint64_t, std::uint64_t>::with<
    std::vector<event_record>>,
  // The entity's current version (0 = no events).
  caf::replies_to<head_atom, entity_id>::with<std::uint64_t>>;

struct storage_actor_options {
  /// Most appends committed as one batch: 4096. Later arrivals wait for the
  /// next batch.
  std::size_t max_batch = 4096;
};

/// Spawns a storage actor over `store`. It is a detached actor: store calls
/// run on its own thread, so a slow disk never stalls the scheduler. It takes
/// everything queued in its mailbox (up to `max_batch` appends), commits the
/// appends as one batch, answers each request, and repeats; requests that
/// arrive meanwhile form the next batch. Requests still queued when it ends
/// are answered with an error.
storage_actor spawn_storage_actor(caf::actor_system& system,
                                  std::shared_ptr<event_store> store,
                                  storage_actor_options options = {});

} // namespace cafes
