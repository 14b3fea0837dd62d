#include "cafes/actors/storage_actor.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"
#include "cafes/domain/overloaded.hpp"

namespace cafes {

namespace {

struct read_request {
  entity_id entity;
  std::uint64_t from = 1;
  std::uint64_t to = last_version;
  bool head_only = false;
};

/// One batch of store work and, once done, its outcomes (same order).
struct work_unit {
  std::vector<append_request> appends;
  std::vector<read_request> reads;
  std::vector<result<std::uint64_t>> append_results;
  std::vector<result<std::vector<event_record>>> read_results;
  std::vector<result<std::uint64_t>> head_results;

  bool empty() const { return appends.empty() && reads.empty(); }
};

/// The thread that makes the blocking store calls, one unit at a time.
class store_thread {
public:
  store_thread(std::shared_ptr<event_store> store, std::function<void()> on_done)
    : store_(std::move(store)), on_done_(std::move(on_done)),
      thread_([this] { run(); }) {}

  ~store_thread() {
    {
      std::lock_guard guard{mutex_};
      stopping_ = true;
    }
    wakeup_.notify_one();
    thread_.join();
  }

  /// Hands over a unit. Precondition: the previous unit was taken back.
  void submit(work_unit unit) {
    {
      std::lock_guard guard{mutex_};
      input_ = std::move(unit);
    }
    wakeup_.notify_one();
  }

  /// Returns the finished unit. Precondition: on_done was called for it.
  work_unit take() {
    std::lock_guard guard{mutex_};
    auto unit = std::move(*output_);
    output_.reset();
    return unit;
  }

private:
  void run() {
    for (;;) {
      work_unit unit;
      {
        std::unique_lock lock{mutex_};
        wakeup_.wait(lock, [this] { return stopping_ || input_; });
        if (!input_)
          return;
        unit = std::move(*input_);
        input_.reset();
      }
      execute(unit);
      {
        std::lock_guard guard{mutex_};
        output_ = std::move(unit);
      }
      on_done_();
    }
  }

  void execute(work_unit& unit) {
    // Appends first: a read in the same unit sees every append before it.
    if (!unit.appends.empty())
      unit.append_results = store_->append_batch(unit.appends);
    for (const auto& read : unit.reads) {
      if (read.head_only) {
        unit.head_results.push_back(store_->head(read.entity));
        unit.read_results.emplace_back(std::vector<event_record>{});
      } else {
        unit.head_results.emplace_back(std::uint64_t{0});
        unit.read_results.push_back(store_->read(read.entity, read.from, read.to));
      }
    }
  }

  std::shared_ptr<event_store> store_;
  std::function<void()> on_done_;
  std::mutex mutex_;
  std::condition_variable wakeup_;
  std::optional<work_unit> input_;
  std::optional<work_unit> output_;
  bool stopping_ = false;
  std::thread thread_; // last: starts after the members it uses
};

using append_promise = caf::typed_response_promise<std::uint64_t>;
using read_promise = caf::typed_response_promise<std::vector<event_record>>;
using head_promise = caf::typed_response_promise<std::uint64_t>;

struct storage_state {
  static inline const char* name = "cafes.storage";

  storage_actor_options options;
  std::unique_ptr<store_thread> worker;
  bool busy = false;
  work_unit waiting;
  std::vector<append_promise> waiting_appends;
  std::vector<std::variant<read_promise, head_promise>> waiting_reads;
  std::vector<append_promise> flying_appends;
  std::vector<std::variant<read_promise, head_promise>> flying_reads;
};

using storage_pointer = storage_actor::stateful_pointer<storage_state>;

/// Starts the next unit when the store thread is idle and work is waiting.
void dispatch(storage_pointer self) {
  auto& st = self->state;
  if (st.busy || st.waiting.empty())
    return;
  work_unit unit;
  if (st.waiting.appends.size() <= st.options.max_batch) {
    std::swap(unit, st.waiting);
    std::swap(st.flying_appends, st.waiting_appends);
  } else {
    auto split = static_cast<std::ptrdiff_t>(st.options.max_batch);
    auto& from = st.waiting.appends;
    unit.appends.assign(std::make_move_iterator(from.begin()),
                        std::make_move_iterator(from.begin() + split));
    from.erase(from.begin(), from.begin() + split);
    st.flying_appends.assign(st.waiting_appends.begin(),
                             st.waiting_appends.begin() + split);
    st.waiting_appends.erase(st.waiting_appends.begin(),
                             st.waiting_appends.begin() + split);
    std::swap(unit.reads, st.waiting.reads);
  }
  std::swap(st.flying_reads, st.waiting_reads);
  st.busy = true;
  st.worker->submit(std::move(unit));
}

void complete(storage_pointer self) {
  auto& st = self->state;
  auto unit = st.worker->take();
  st.busy = false;
  for (std::size_t i = 0; i < unit.append_results.size(); ++i) {
    auto& outcome = unit.append_results[i];
    if (outcome)
      st.flying_appends[i].deliver(*outcome);
    else
      st.flying_appends[i].deliver(to_caf_error(outcome.error()));
  }
  for (std::size_t i = 0; i < unit.reads.size(); ++i) {
    std::visit(
      overloaded{
        [&](read_promise& promise) {
          auto& outcome = unit.read_results[i];
          if (outcome)
            promise.deliver(std::move(*outcome));
          else
            promise.deliver(to_caf_error(outcome.error()));
        },
        [&](head_promise& promise) {
          auto& outcome = unit.head_results[i];
          if (outcome)
            promise.deliver(*outcome);
          else
            promise.deliver(to_caf_error(outcome.error()));
        },
      },
      st.flying_reads[i]);
  }
  st.flying_appends.clear();
  st.flying_reads.clear();
  dispatch(self);
}

storage_actor::behavior_type storage_behavior(storage_pointer self,
                                              std::shared_ptr<event_store> store,
                                              storage_actor_options options) {
  self->state.options = options;
  // The thread reports back through a weak handle: it must not keep the
  // actor alive, and it may finish after the actor is gone.
  caf::weak_actor_ptr weak_self = self->ctrl();
  self->state.worker = std::make_unique<store_thread>(std::move(store), [weak_self] {
    if (auto strong = weak_self.lock())
      caf::anon_send(caf::actor_cast<storage_actor>(strong), done_atom::value);
  });
  return {
    [=](append_atom, append_request& request) -> caf::result<std::uint64_t> {
      auto promise = self->make_response_promise<std::uint64_t>();
      self->state.waiting.appends.push_back(std::move(request));
      self->state.waiting_appends.push_back(promise);
      dispatch(self);
      return promise;
    },
    [=](read_atom, const entity_id& entity, std::uint64_t from,
        std::uint64_t to) -> caf::result<std::vector<event_record>> {
      auto promise = self->make_response_promise<std::vector<event_record>>();
      self->state.waiting.reads.push_back({entity, from, to, false});
      self->state.waiting_reads.emplace_back(promise);
      dispatch(self);
      return promise;
    },
    [=](head_atom, const entity_id& entity) -> caf::result<std::uint64_t> {
      auto promise = self->make_response_promise<std::uint64_t>();
      self->state.waiting.reads.push_back({entity, 1, last_version, true});
      self->state.waiting_reads.emplace_back(head_promise{promise});
      dispatch(self);
      return promise;
    },
    [=](done_atom) { complete(self); },
  };
}

} // namespace

storage_actor spawn_storage_actor(caf::actor_system& system,
                                  std::shared_ptr<event_store> store,
                                  storage_actor_options options) {
  return system.spawn(storage_behavior, std::move(store), options);
}

} // namespace cafes
