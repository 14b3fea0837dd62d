#pragma once
// Counters of what commands of one aggregate met: conflicts and retries.
// No CAF here: the synchronous API and exporters read them.

#include <atomic>
#include <cstdint>

namespace cafes {

/// What commands of one aggregate met, since the application started.
struct command_stats {
  /// Conflicts answered to callers: stale expected versions, and commands
  /// without one whose retries ran out.
  std::uint64_t conflicts = 0;
  /// Attempts again of commands without an expected version, after another
  /// writer's append got there first.
  std::uint64_t retries = 0;
  /// Commands without an expected version answered with a conflict because
  /// every attempt met another writer (also counted in `conflicts`).
  std::uint64_t retries_exhausted = 0;
  /// Events carried to callers inside conflict answers (see
  /// failure::missed_events).
  std::uint64_t missed_events_delivered = 0;

  friend bool operator==(const command_stats&, const command_stats&) = default;
};

/// The live counters behind command_stats, shared by every entity actor of
/// one aggregate. Only conflicts and retries touch them: the path of a
/// command that succeeds at once never does.
class command_counters {
public:
  void conflict(std::uint64_t missed_events) noexcept {
    conflicts_.fetch_add(1, std::memory_order_relaxed);
    missed_events_.fetch_add(missed_events, std::memory_order_relaxed);
  }
  void retry() noexcept { retries_.fetch_add(1, std::memory_order_relaxed); }
  void retries_exhausted() noexcept { exhausted_.fetch_add(1, std::memory_order_relaxed); }

  /// Returns the counts now (each read on its own: not one instant).
  command_stats read() const noexcept {
    return {conflicts_.load(std::memory_order_relaxed),
            retries_.load(std::memory_order_relaxed),
            exhausted_.load(std::memory_order_relaxed),
            missed_events_.load(std::memory_order_relaxed)};
  }

private:
  std::atomic<std::uint64_t> conflicts_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> exhausted_{0};
  std::atomic<std::uint64_t> missed_events_{0};
};

} // namespace cafes
