#include "cafes/actors/delay_actor.hpp"

#include <chrono>
#include <unordered_map>

#include <caf/all.hpp>

namespace cafes {

namespace {

struct delay_state {
  static inline const char* name = "cafes.delay";

  std::uint64_t next_ticket = 0;
  std::unordered_map<std::uint64_t, caf::response_promise> waiting;
};

caf::behavior delay_behavior(caf::stateful_actor<delay_state>* self) {
  return {
    [=](delay_atom, std::uint64_t microseconds) {
      auto ticket = self->state.next_ticket++;
      auto promise = self->make_response_promise();
      self->state.waiting.emplace(ticket, promise);
      self->delayed_send(self, std::chrono::microseconds{microseconds}, fire_atom::value,
                         ticket);
      return promise;
    },
    [=](fire_atom, std::uint64_t ticket) {
      auto found = self->state.waiting.find(ticket);
      if (found == self->state.waiting.end())
        return;
      found->second.deliver(delay_atom::value);
      self->state.waiting.erase(found);
    },
  };
}

} // namespace

delay_actor spawn_delay_actor(caf::actor_system& system) {
  return caf::actor_cast<delay_actor>(system.spawn(delay_behavior));
}

} // namespace cafes
