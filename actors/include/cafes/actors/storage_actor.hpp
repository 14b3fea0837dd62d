#pragma once
// The storage actor: owns a store and answers appends and reads without ever
// blocking a CAF scheduler thread (it runs on a thread of its own). Appends
// that arrive while a commit is in flight are committed together as one batch
// (group commit), each with its own conditional check and its own reply.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/counters.hpp"
#include "cafes/actors/log_hub.hpp"
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

/// Lets an entity actor run an append on its own thread while its storage
/// shard is idle, instead of sending it to the storage actor's thread and
/// waiting for the answer there (two thread hand-offs, ~5-11 us each on the
/// 2-core bench machine, against a ~4 us append). Only for stores whose
/// appends do not wait for a device: a synced append stays off the
/// scheduler, and under load appends keep going to the storage actor, whose
/// group commit then has them all.
class direct_appends {
public:
  explicit direct_appends(std::shared_ptr<event_store> store) noexcept
    : store_(std::move(store)) {}

  /// Takes the shard for one append on the calling thread. Returns true when
  /// no append was queued at or being run by the storage actor and no other
  /// direct append was running; then call `end` once the append returns.
  bool try_begin() noexcept {
    std::size_t idle = 0;
    return pending_.compare_exchange_strong(idle, 1, std::memory_order_acquire);
  }

  /// Ends the direct append `try_begin` allowed.
  void end() noexcept { pending_.fetch_sub(1, std::memory_order_release); }

  /// Counts an append handed to the storage actor.
  void queued() noexcept { pending_.fetch_add(1, std::memory_order_relaxed); }

  /// The storage actor answered `count` appends.
  void answered(std::size_t count) noexcept {
    pending_.fetch_sub(count, std::memory_order_release);
  }

  event_store& store() noexcept { return *store_; }

  /// Returns the appends queued at or run by the storage actor, plus one
  /// while a direct append runs (for tests and diagnostics).
  std::size_t pending() const noexcept { return pending_.load(std::memory_order_acquire); }

private:
  std::shared_ptr<event_store> store_;
  /// Appends queued at or run by the storage actor, plus a direct one.
  std::atomic<std::size_t> pending_{0};
};

/// One storage shard as the entity actors see it.
struct storage_shard {
  /// Every append goes to `actor`.
  storage_shard(storage_actor actor) : actor(std::move(actor)) {} // NOLINT: implicit on purpose
  storage_shard(storage_actor actor, std::shared_ptr<direct_appends> direct,
                std::shared_ptr<log_notifier> notifier = nullptr,
                std::shared_ptr<commit_counters> commits = nullptr)
    : actor(std::move(actor)),
      direct(std::move(direct)),
      notifier(std::move(notifier)),
      commits(std::move(commits)) {}

  storage_actor actor;
  /// Null: every append goes to the actor.
  std::shared_ptr<direct_appends> direct;
  /// Told after each direct append (may be null).
  std::shared_ptr<log_notifier> notifier;
  /// Counts each direct append (may be null).
  std::shared_ptr<commit_counters> commits;
};

struct storage_actor_options {
  /// Most appends committed as one batch: 4096. Later arrivals wait for the
  /// next batch.
  std::size_t max_batch = 4096;
  /// When set, told how many appends each batch answered (see
  /// direct_appends; the entity actors count them in).
  std::shared_ptr<direct_appends> direct;
  /// When set, told after each batch that stored something (subscriptions
  /// waiting at the end of the log wake up).
  std::shared_ptr<log_notifier> notifier;
  /// When set, counts each batch's appends and how long the store took.
  std::shared_ptr<commit_counters> commits;
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
