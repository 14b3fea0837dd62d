#pragma once
// How an application is set up: its threads, shards, timeouts and retries.
// No CAF here (see repository.hpp).

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace cafes {

/// How a command without an expected version is retried when another
/// writer (another application over the same store) appended first: after
/// a random wait up to `initial_backoff` * 2^(n-1), capped at `max_backoff`
/// ("full jitter", so competing writers spread out), on the reloaded state.
struct retry_policy {
  /// Attempts in all, the first included: 32; 1 = never retry.
  int attempts = 32;
  /// Longest wait before the second attempt: 500 us.
  std::chrono::microseconds initial_backoff{500};
  /// Longest wait before any attempt: 100 ms.
  std::chrono::microseconds max_backoff{100'000};
};

/// Most scheduler threads, and most storage shards (a thread each), an
/// application accepts: 256.
inline constexpr std::size_t max_application_threads = 256;

struct application_config {
  /// CAF scheduler threads: 0 = one per core; at most max_application_threads.
  std::size_t scheduler_threads = 0;
  /// Registries per aggregate, sharded by entity id: 0 = one per core.
  std::size_t registry_shards = 0;
  /// Storage actors (each with its own thread and group commit) over the one
  /// store, sharded by entity id: 0 = one per core. One storage actor caps
  /// throughput at one core's worth of commits: on 2 cores, 2 shards gave
  /// +47% events/s over 1 (cafes-stress, 512 clients, medians of 3).
  std::size_t storage_shards = 0;
  /// Most appends per group commit: 4096.
  std::size_t max_batch = 4096;
  /// When the store's appends do not wait for a device (RocksDB with sync
  /// off or in memory, the memory store), an entity actor whose storage
  /// shard is idle runs its append on its own scheduler thread instead of
  /// sending it to the storage actor (see direct_appends): two thread
  /// hand-offs fewer per command at low load. Under load appends still go
  /// to the storage actor's group commit. true.
  bool allow_direct_appends = true;
  /// How long a synchronous call waits for its answer: 30 s.
  std::chrono::milliseconds request_timeout{30'000};
  /// How long a synchronous call looks for its answer (yielding the CPU
  /// between looks) before it sleeps until woken: waking a sleeping thread
  /// took ~10-20 us here, about as long as a whole get takes otherwise.
  /// 0 = sleep at once. 30 us.
  std::chrono::microseconds reply_spin{30};
  /// How long an entity actor waits for the storage actor: 0 = no limit
  /// (see entity_options::storage_timeout).
  std::chrono::milliseconds storage_timeout{0};
  /// Polling attempts of an idle CAF worker before it sleeps on its
  /// condition variable (CAF's work-stealing aggressive attempts; the
  /// moderate phase, which sleeps without being woken, is off): 1000. A
  /// worker that still polls when the next message comes saves a wake-up:
  /// the synchronous get + execute loop went 92 -> 15 us per pair with
  /// reply_spin (bench, medians of 3); 512 clients and idle CPU did not
  /// move beyond noise.
  std::size_t poll_attempts = 1000;
  /// Entity actors idle this long stop (and respawn from the store on the
  /// next command): 0 = never.
  std::chrono::milliseconds idle_timeout{0};
  /// While a subscription, projection or process manager waits at the end
  /// of the global log, how often the store is looked at for commits that
  /// this application's writers did not announce (another application or
  /// process over the same store): those are seen within it. Commits of
  /// this application are announced at once. 0 = never look. 50 ms.
  std::chrono::milliseconds log_poll_interval{50};
  /// Retries of commands sent without an expected version when another
  /// application's writer appended first (see retry_policy).
  retry_policy unversioned_retry;
  /// Most events a conflict answer carries, those the caller's copy missed
  /// (see failure::missed_events): further behind, the versions only. 64.
  std::uint32_t missed_events_cap = 64;
};

/// How a subscription delivers (see subscription.hpp).
struct subscription_options {
  /// Most events per batch: 256. A subscription holds at most one batch,
  /// so this bounds its memory, whatever the writers do.
  std::size_t batch = 256;
};

struct projection_options {
  /// Most events read and projected per atomic write: 256.
  std::size_t batch = 256;
  /// How long to wait before trying again after the store failed a read or
  /// a write: 1 s. The view stays at its last checkpoint meanwhile.
  std::chrono::milliseconds retry_delay{1'000};
};

} // namespace cafes
