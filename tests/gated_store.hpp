#pragma once
// A store decorator for tests: records batch sizes, can hold every call at a
// gate until the test opens it (a store that stops answering), and can fail
// every append as a full disk would.

#include <condition_variable>
#include <mutex>

#include "cafes/storage/event_store.hpp"

namespace cafes::testing {

class gated_store final : public event_store {
public:
  explicit gated_store(std::shared_ptr<event_store> inner) : inner_(std::move(inner)) {}

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

  /// Waits until `count` calls are held at the closed gate.
  void wait_for_waiting(int count) {
    std::unique_lock lock{mutex_};
    changed_.wait(lock, [&] { return waiting_ >= count; });
  }

  /// While on, every append fails with ec::storage_failure and writes nothing.
  void fail_appends(bool on) {
    std::lock_guard guard{mutex_};
    failing_ = on;
  }

  /// Sizes of every append batch so far.
  std::vector<std::size_t> batch_sizes() {
    std::lock_guard guard{mutex_};
    return batch_sizes_;
  }

  result<std::uint64_t> append(const append_request& request) override {
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

private:
  static failure injected_failure() {
    return failure::make(ec::storage_failure, "disk full (injected)");
  }

  bool failing() {
    std::lock_guard guard{mutex_};
    return failing_;
  }

  void pass() {
    std::unique_lock lock{mutex_};
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    --waiting_;
  }

  std::shared_ptr<event_store> inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  bool failing_ = false;
  int waiting_ = 0;
  std::vector<std::size_t> batch_sizes_;
};

} // namespace cafes::testing
