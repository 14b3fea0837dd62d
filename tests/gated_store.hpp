#pragma once
// A store decorator for tests: records batch sizes and single appends, can
// hold every call at a gate until the test opens it (a store that stops
// answering), can fail every append as a full disk would, every read of
// an entity's history with a code of the test's choice, can spoil one
// page of the global log that a reader gets, and says whether its appends
// wait for a device as the test wants.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <iterator>
#include <limits>
#include <mutex>
#include <vector>

#include "cafes/storage/event_store.hpp"

namespace cafes::testing {

class gated_store final : public event_store {
public:
  /// `waits_for_device` is what appends_wait_for_device() answers: true
  /// sends every append of an application to its storage actors, false lets
  /// entity actors append directly while their shard is idle.
  explicit gated_store(std::shared_ptr<event_store> inner, bool waits_for_device = true)
    : inner_(std::move(inner)), waits_for_device_(waits_for_device) {}

  /// From now on, calls wait until `open_gate`.
  void close_gate() {
    std::lock_guard guard{mutex_};
    open_ = false;
  }

  void open_gate() {
    {
      std::lock_guard guard{mutex_};
      open_ = true;
    }
    changed_.notify_all();
  }

  /// Waits until `count` calls are held at the closed gate. Returns false
  /// when that has not happened within 20 s (the test then fails
  /// instead of hanging).
  [[nodiscard]] bool wait_for_waiting(int count) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, hold_limit, [&] { return waiting_ >= count; });
  }

  /// While on, every append fails with ec::storage_failure and writes nothing.
  void fail_appends(bool on) {
    std::lock_guard guard{mutex_};
    failing_ = on;
  }

  /// While not ec::none, every `read` (an entity's history) fails with
  /// `code` ("read refused (injected)") and reads nothing.
  void fail_reads(ec code) {
    std::lock_guard guard{mutex_};
    read_fault_ = code;
  }

  /// How doctor_log_page spoils a page of the global log.
  enum class log_fault {
    drop,   ///< the event at the position is left out
    repeat, ///< it comes twice in a row
    swap,   ///< it changes places with its neighbour in the page
    alter,  ///< another event id stands at the position
    fail,   ///< the read fails with ec::storage_failure instead
  };

  /// The next read_all whose page holds `position` (and, for a swap, a
  /// neighbour of it) comes back with `fault`; once, later reads are true.
  void doctor_log_page(std::uint64_t position, log_fault fault) {
    std::lock_guard guard{mutex_};
    doctored_position_ = position;
    fault_ = fault;
  }

  /// Whether the page that doctor_log_page asked for was spoiled.
  bool log_page_doctored() {
    std::lock_guard guard{mutex_};
    return doctored_position_ == 0;
  }

  /// Sizes of every append batch so far.
  std::vector<std::size_t> batch_sizes() {
    std::lock_guard guard{mutex_};
    return batch_sizes_;
  }

  /// Calls of `append` so far (an entity actor's direct appends, and the
  /// test's own).
  int single_appends() {
    std::lock_guard guard{mutex_};
    return single_appends_;
  }

  bool appends_wait_for_device() const noexcept override { return waits_for_device_; }

  result<std::uint64_t> append(const append_request& request) override {
    {
      std::lock_guard guard{mutex_};
      ++single_appends_;
    }
    pass();
    if (failing())
      return injected_failure();
    return inner_->append(request);
  }

  std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) override {
    {
      std::lock_guard guard{mutex_};
      batch_sizes_.push_back(requests.size());
    }
    pass();
    if (failing()) {
      return std::vector<result<std::uint64_t>>(requests.size(), injected_failure());
    }
    return inner_->append_batch(requests);
  }

  result<std::vector<event_record>> read(const entity_id& entity, std::uint64_t from,
                                         std::uint64_t to) override {
    pass();
    if (auto code = read_fault(); code != ec::none)
      return failure::make(code, "read refused (injected)");
    return inner_->read(entity, from, to);
  }

  result<std::uint64_t> head(const entity_id& entity) override {
    pass();
    return inner_->head(entity);
  }

  result<std::vector<entity_id>> list_entities(std::optional<entity_id> after,
                                               std::size_t limit) override {
    pass();
    return inner_->list_entities(after, limit);
  }

  result<log_page> read_all(std::uint64_t after, std::size_t limit,
                            const log_filter& filter) override {
    pass();
    auto page = inner_->read_all(after, limit, filter);
    if (page && doctor(*page))
      return injected_failure();
    return page;
  }

  result<std::optional<std::uint64_t>> find_command(const entity_id& entity,
                                                    const uuid& command) override {
    pass();
    return inner_->find_command(entity, command);
  }

  result<std::uint64_t> last_position() override {
    pass();
    return inner_->last_position();
  }

  result<std::optional<view_checkpoint>> read_view_checkpoint(std::string_view view) override {
    pass();
    return inner_->read_view_checkpoint(view);
  }

  result<view_checkpoint> reset_view(std::string_view view, std::uint32_t version,
                                     const std::optional<view_checkpoint>& expected) override {
    pass();
    return inner_->reset_view(view, version, expected);
  }

  /// From now on, takes at most `rows` distinct row keys per commit_view
  /// (and says so in max_view_changes), as a store with bounded
  /// transactions (etcd) does; more get invalid_argument, writing nothing.
  void limit_view_rows(std::size_t rows) { max_rows_ = rows; }

  std::size_t max_view_changes() const noexcept override { return max_rows_; }

  /// Fails (writing nothing) while fail_appends is on, like appends.
  result<view_checkpoint> commit_view(std::string_view view, const view_checkpoint& expected,
                                      std::uint64_t position,
                                      std::span<const view_change> changes) override {
    pass();
    if (failing())
      return injected_failure();
    std::vector<std::string_view> keys;
    for (const auto& change : changes)
      keys.push_back(change.key);
    std::sort(keys.begin(), keys.end());
    if (static_cast<std::size_t>(std::unique(keys.begin(), keys.end()) - keys.begin()) > max_rows_)
      return failure::make(ec::invalid_argument, "more rows than one commit takes (injected)");
    return inner_->commit_view(view, expected, position, changes);
  }

  result<std::optional<std::vector<std::uint8_t>>> read_view(std::string_view view,
                                                             std::string_view key) override {
    pass();
    return inner_->read_view(view, key);
  }

  result<std::vector<view_row>> scan_view(std::string_view view, std::string_view prefix,
                                          std::string_view after,
                                          std::size_t limit) override {
    pass();
    return inner_->scan_view(view, prefix, after, limit);
  }

private:
  std::size_t max_rows_ = std::numeric_limits<std::size_t>::max();

  static failure injected_failure() {
    return failure::make(ec::storage_failure, "disk full (injected)");
  }

  /// Spoils `page` as doctor_log_page asked, if it holds the position.
  /// Returns true when the read is to fail instead.
  bool doctor(log_page& page) {
    std::lock_guard guard{mutex_};
    auto& events = page.events;
    auto at = std::find_if(events.begin(), events.end(), [&](const event_record& e) {
      return e.position == doctored_position_;
    });
    if (doctored_position_ == 0 || at == events.end())
      return false;
    switch (fault_) {
      case log_fault::drop:
        events.erase(at);
        break;
      case log_fault::repeat:
        events.insert(at, *at);
        break;
      case log_fault::swap:
        if (events.size() < 2)
          return false; // no neighbour in this page: wait for another
        std::iter_swap(at, std::next(at) != events.end() ? std::next(at) : std::prev(at));
        break;
      case log_fault::alter:
        at->id = uuid::random();
        break;
      case log_fault::fail:
        break;
    }
    doctored_position_ = 0;
    return fault_ == log_fault::fail;
  }

  bool failing() {
    std::lock_guard guard{mutex_};
    return failing_;
  }

  ec read_fault() {
    std::lock_guard guard{mutex_};
    return read_fault_;
  }

  /// Holds the caller while the gate is closed, for at most 20 s: a
  /// test that fails with the gate closed must not hang its application's
  /// shutdown.
  void pass() {
    std::unique_lock lock{mutex_};
    ++waiting_;
    changed_.notify_all();
    changed_.wait_for(lock, hold_limit, [&] { return open_; });
    --waiting_;
  }

  static constexpr std::chrono::seconds hold_limit{20};

  std::shared_ptr<event_store> inner_;
  const bool waits_for_device_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  bool failing_ = false;
  ec read_fault_ = ec::none;
  int waiting_ = 0;
  int single_appends_ = 0;
  std::uint64_t doctored_position_ = 0; // 0: none asked for, or done
  log_fault fault_ = log_fault::drop;
  std::vector<std::size_t> batch_sizes_;
};

} // namespace cafes::testing
