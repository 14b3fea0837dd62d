#include "cafes/actors/log_hub.hpp"

#include <vector>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"

namespace cafes {

void log_notifier::appended() const {
  if (waiting.load(std::memory_order_acquire) > 0 && hub)
    caf::anon_send(hub, appended_atom::value);
}

namespace {

struct waiter {
  std::uint64_t after;
  caf::typed_response_promise<std::uint64_t> promise;
};

struct hub_state {
  static inline const char* name = "cafes.log_hub";
  std::shared_ptr<event_store> store;
  std::shared_ptr<log_notifier> notifier;
  std::vector<waiter> waiting;
  std::chrono::milliseconds poll_interval{0};
  bool poll_pending = false;
};

using hub_pointer = log_hub_actor::stateful_pointer<hub_state>;

/// Answers the waiters the log has moved past; keeps the others.
void wake(hub_pointer self) {
  auto& st = self->state;
  if (st.waiting.empty())
    return;
  auto last = st.store->last_position();
  std::vector<waiter> still;
  for (auto& w : st.waiting) {
    if (!last)
      w.promise.deliver(to_caf_error(last.error()));
    else if (*last > w.after)
      w.promise.deliver(*last);
    else
      still.push_back(std::move(w));
  }
  st.waiting = std::move(still);
  st.notifier->waiting.store(static_cast<std::uint32_t>(st.waiting.size()),
                             std::memory_order_release);
}

/// Looks again after the poll interval, while anything waits.
void schedule_poll(hub_pointer self) {
  auto& st = self->state;
  if (st.poll_pending || st.waiting.empty() || st.poll_interval.count() <= 0)
    return;
  st.poll_pending = true;
  self->delayed_send(self, st.poll_interval, next_atom::value);
}

log_hub_actor::behavior_type hub_behavior(hub_pointer self, std::shared_ptr<event_store> store,
                                          std::shared_ptr<log_notifier> notifier,
                                          std::chrono::milliseconds poll_interval) {
  self->state.store = std::move(store);
  self->state.notifier = std::move(notifier);
  self->state.poll_interval = poll_interval;
  return {
    [=](wait_atom, std::uint64_t after) -> caf::result<std::uint64_t> {
      auto& st = self->state;
      // Counted before the check: a commit after it notifies us, and one
      // before it is seen by it. No wake-up is lost either way.
      st.notifier->waiting.fetch_add(1, std::memory_order_acq_rel);
      auto last = st.store->last_position();
      if (!last || *last > after) {
        st.notifier->waiting.store(static_cast<std::uint32_t>(st.waiting.size()),
                                   std::memory_order_release);
        if (!last)
          return to_caf_error(last.error());
        return *last;
      }
      auto promise = self->make_response_promise<std::uint64_t>();
      st.waiting.push_back({after, promise});
      st.notifier->waiting.store(static_cast<std::uint32_t>(st.waiting.size()),
                                 std::memory_order_release);
      schedule_poll(self);
      return promise;
    },
    [=](appended_atom) { wake(self); },
    [=](next_atom) {
      self->state.poll_pending = false;
      wake(self);
      schedule_poll(self);
    },
  };
}

} // namespace

log_hub_actor spawn_log_hub(caf::actor_system& system, std::shared_ptr<event_store> store,
                            const std::shared_ptr<log_notifier>& notifier,
                            std::chrono::milliseconds poll_interval) {
  auto hub = system.spawn(hub_behavior, std::move(store), notifier, poll_interval);
  notifier->hub = hub;
  return hub;
}

} // namespace cafes
