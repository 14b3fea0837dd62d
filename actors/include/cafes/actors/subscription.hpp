#pragma once
// A subscription of the global log: delivers the events after a position
// that pass a filter to a subscriber actor, in position order, each once:
// first those already stored, then new ones as they commit. Both come from
// the store's gapless log by the same read, so there is no switch from
// catch-up to live where an event could be lost or repeated.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/config.hpp"
#include "cafes/actors/log_hub.hpp"
#include "cafes/actors/type_ids.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes {

/// What a subscriber handles: a batch of events in position order. Its
/// reply (any number, for example the last position it has processed) asks
/// for the next batch: until it replies, the subscription sends nothing
/// more, so a slow subscriber slows only itself. Store the last position
/// processed as a checkpoint, and subscribe from it to resume.
using subscriber_actor = caf::typed_actor<
  caf::replies_to<log_events_atom, std::vector<event_record>>::with<std::uint64_t>>;


/// Spawns a subscription of `store`'s global log for `subscriber`, from the
/// position after `after`, of the events `filter` passes. It waits at `hub`
/// when it has read everything. It ends when `subscriber` ends or fails a
/// batch (exit reason: that error), when reading the log fails (the
/// store's error), or on an exit message. Reads run on a scheduler thread.
caf::actor spawn_subscription(caf::actor_system& system, std::shared_ptr<event_store> store,
                              log_hub_actor hub, subscriber_actor subscriber,
                              std::uint64_t after, log_filter filter,
                              subscription_options options = {});

} // namespace cafes
