#pragma once
// Counters of what commands of one aggregate met (conflicts and retries),
// and of the store's commits (how long, how many appends each).
// No CAF here: the synchronous API and exporters read them.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
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

/// The application's commits to its store since it started: each group
/// commit of a storage actor and each direct append (see direct_appends)
/// is one. Histograms count each commit in its first bucket whose bound
/// it does not exceed; the last bucket has no bound.
struct commit_stats {
  /// Upper bounds of the latency buckets, in microseconds.
  static constexpr std::array<std::uint64_t, 14> latency_bounds_us{
    10, 25, 50, 100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 100'000, 250'000, 1'000'000};
  /// Upper bounds of the size buckets, in appends per commit.
  static constexpr std::array<std::uint64_t, 12> size_bounds{1, 2, 4, 8, 16, 32, 64, 128,
                                                             256, 512, 1'024, 4'096};
  std::array<std::uint64_t, latency_bounds_us.size() + 1> latency{};
  std::array<std::uint64_t, size_bounds.size() + 1> size{};
  std::uint64_t commits = 0;
  std::uint64_t appends = 0;
  std::uint64_t latency_sum_us = 0;
};

/// The live counters behind commit_stats, shared by the storage actors and
/// entity actors of one application: a few relaxed atomic adds per commit
/// (a commit takes microseconds at least).
class commit_counters {
public:
  /// Counts one commit of `appends` appends that took `took`.
  void record(std::size_t appends, std::chrono::nanoseconds took) noexcept {
    auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0) / 1'000);
    latency_[bucket(commit_stats::latency_bounds_us, us)].fetch_add(1, std::memory_order_relaxed);
    size_[bucket(commit_stats::size_bounds, appends)].fetch_add(1, std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    appends_.fetch_add(appends, std::memory_order_relaxed);
    latency_sum_us_.fetch_add(us, std::memory_order_relaxed);
  }

  /// Returns the counts now (each read on its own: not one instant).
  commit_stats read() const noexcept {
    commit_stats out;
    for (std::size_t i = 0; i < out.latency.size(); ++i)
      out.latency[i] = latency_[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < out.size.size(); ++i)
      out.size[i] = size_[i].load(std::memory_order_relaxed);
    out.commits = commits_.load(std::memory_order_relaxed);
    out.appends = appends_.load(std::memory_order_relaxed);
    out.latency_sum_us = latency_sum_us_.load(std::memory_order_relaxed);
    return out;
  }

private:
  template <std::size_t N>
  static std::size_t bucket(const std::array<std::uint64_t, N>& bounds, std::uint64_t value) {
    std::size_t i = 0;
    while (i < N && value > bounds[i])
      ++i;
    return i;
  }

  std::array<std::atomic<std::uint64_t>, commit_stats::latency_bounds_us.size() + 1> latency_{};
  std::array<std::atomic<std::uint64_t>, commit_stats::size_bounds.size() + 1> size_{};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> appends_{0};
  std::atomic<std::uint64_t> latency_sum_us_{0};
};

} // namespace cafes
