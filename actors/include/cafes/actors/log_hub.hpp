#pragma once
// The log hub: tells subscriptions that wait at the end of the global log
// when something new was committed. Writers (storage actors, entity actors
// appending directly) notify it after each successful commit, but only
// while a subscription waits, so that writing costs nothing extra without
// subscribers.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/type_ids.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes {

using log_hub_actor = caf::typed_actor<
  // From a subscription that has read everything up to `after`: replies
  // the last position once it is past `after` (at once if it already is).
  caf::replies_to<wait_atom, std::uint64_t>::with<std::uint64_t>,
  // From a writer: something was committed.
  caf::reacts_to<appended_atom>,
  // To itself, while someone waits: look at the store for commits of
  // writers that do not notify it (another application or process).
  caf::reacts_to<next_atom>>;

/// What writers hold to notify the hub.
class log_notifier {
public:
  /// Tells the hub that a commit happened, if any subscription waits.
  void appended() const;

  /// Subscriptions waiting at the hub now (the hub keeps it).
  std::atomic<std::uint32_t> waiting{0};
  /// Set once the hub is spawned.
  log_hub_actor hub;
};

/// Spawns the hub over `store`. `notifier->hub` is set to it. While
/// anything waits, it also reads the store's last position every
/// `poll_interval`: commits by writers that do not notify it (another
/// application over the same store) are seen within that.
log_hub_actor spawn_log_hub(caf::actor_system& system, std::shared_ptr<event_store> store,
                            const std::shared_ptr<log_notifier>& notifier,
                            std::chrono::milliseconds poll_interval);

} // namespace cafes
