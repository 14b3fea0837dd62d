#include "cafes/actors/subscription.hpp"

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"
#include "cafes/actors/log.hpp"

#include <spdlog/spdlog.h>

namespace cafes {

namespace {

struct subscription_state {
  static inline const char* name = "cafes.subscription";
  std::shared_ptr<event_store> store;
  log_hub_actor hub;
  subscriber_actor subscriber;
  std::uint64_t after = 0;
  log_filter filter;
  subscription_options options;
};

using subscription_pointer = caf::stateful_actor<subscription_state>*;

/// Most pages of filtered-out events read in one go before yielding.
constexpr int pages_per_step = 16;

void step(subscription_pointer self) {
  auto& st = self->state;
  for (int page_count = 0; page_count < pages_per_step; ++page_count) {
    auto page = st.store->read_all(st.after, st.options.batch, st.filter);
    if (!page) {
      logger()->error("subscription stops: reading the global log failed: {}",
                      to_string(page.error()));
      self->quit(to_caf_error(page.error()));
      return;
    }
    if (!page->events.empty()) {
      auto next = page->next_after;
      self->request(st.subscriber, caf::infinite, log_events_atom::value,
                    std::move(page->events))
        .then(
          [=](std::uint64_t) {
            self->state.after = next;
            step(self);
          },
          [=](caf::error& err) { self->quit(std::move(err)); });
      return;
    }
    if (page->next_after == st.after) {
      // Everything is read: wait for the next commit.
      self->request(st.hub, caf::infinite, wait_atom::value, st.after)
        .then([=](std::uint64_t) { step(self); },
              [=](caf::error& err) { self->quit(std::move(err)); });
      return;
    }
    st.after = page->next_after; // a stretch the filter passed over
  }
  self->send(self, next_atom::value); // let others run, then go on
}

caf::behavior subscription_behavior(subscription_pointer self,
                                    std::shared_ptr<event_store> store, log_hub_actor hub,
                                    subscriber_actor subscriber, std::uint64_t after,
                                    log_filter filter, subscription_options options) {
  auto& st = self->state;
  st.store = std::move(store);
  st.hub = std::move(hub);
  st.subscriber = std::move(subscriber);
  st.after = after;
  st.filter = std::move(filter);
  st.options = options;
  if (st.options.batch == 0)
    st.options.batch = 1;
  self->monitor(st.subscriber);
  self->set_down_handler([=](caf::down_msg& msg) { self->quit(msg.reason); });
  self->send(self, next_atom::value);
  return {
    [=](next_atom) { step(self); },
  };
}

} // namespace

caf::actor spawn_subscription(caf::actor_system& system, std::shared_ptr<event_store> store,
                              log_hub_actor hub, subscriber_actor subscriber,
                              std::uint64_t after, log_filter filter,
                              subscription_options options) {
  return system.spawn(subscription_behavior, std::move(store), std::move(hub),
                      std::move(subscriber), after, std::move(filter), options);
}

} // namespace cafes
