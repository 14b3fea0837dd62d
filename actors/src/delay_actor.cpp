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

// `first_ticket` is there because CAF 0.17 spawns an actor function without
// arguments through a null reference (UBSan; see tests/ubsan.supp).
caf::behavior delay_behavior(caf::stateful_actor<delay_state>* self,
                             std::uint64_t first_ticket) {
  self->state.next_ticket = first_ticket;
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
  return caf::actor_cast<delay_actor>(system.spawn(delay_behavior, std::uint64_t{0}));
}

} // namespace cafes
