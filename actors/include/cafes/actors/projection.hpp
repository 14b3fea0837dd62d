#pragma once
// The projection runner: keeps one projection's view (see
// cafes/domain/projection.hpp) up to date with the global log. It reads the
// log after its checkpoint in batches, projects each batch, and writes the
// view's changes and the new checkpoint in one atomic write; so after a
// crash it resumes exactly after the last batch it committed (no event
// applied twice, none skipped). A new projection, or one whose version
// changed, is rebuilt from position 0 first.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/config.hpp"
#include "cafes/actors/log_hub.hpp"
#include "cafes/actors/type_ids.hpp"
#include "cafes/domain/projection.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes {

using projection_actor = caf::typed_actor<
  // Replies the position the view has projected up to, once it is at least
  // `position`; position 0 means the global log's last position when the
  // request arrives (so a writer that asks after its append was
  // acknowledged reads its own write). Errors: the projection's failure
  // once it has stopped (its `project` threw: ec::rejected; an event it
  // reads did not decode: ec::decode_failure), naming the event; the
  // store's error when position 0 cannot be resolved.
  caf::replies_to<wait_atom, std::uint64_t>::with<std::uint64_t>,
  // To itself: go on reading.
  caf::reacts_to<next_atom>>;

/// Spawns the runner of `projection` over `store`. It waits at `hub` when it
/// has read the whole log. When `project` throws on an event (or the event
/// does not decode), the runner writes everything before that event, logs
/// the failure and stops projecting: the view stays at the event before,
/// and waits are answered with the failure; the writers are not affected.
/// Started again (a new application) it retries that event, so a fixed
/// `project` (or a new version, which rebuilds) goes on from there. Two
/// runners of one projection over one store (two applications) share the
/// work: each commit is conditional on the checkpoint it read, and the one
/// that loses re-reads it. A runner whose projection version is older than
/// the stored view's does not reset it (a rolling deploy): it stops with
/// ec::invalid_argument. Over a store whose appends wait for a device the
/// runner has its own thread.
projection_actor spawn_projection(caf::actor_system& system, std::shared_ptr<event_store> store,
                                  log_hub_actor hub,
                                  std::shared_ptr<const erased_projection> projection,
                                  projection_options options = {});

} // namespace cafes
