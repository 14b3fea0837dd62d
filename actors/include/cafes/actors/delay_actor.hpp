#pragma once
// The delay actor: answers a request after a given time. An entity actor
// awaits it to back off before retrying a command, so that its other
// commands wait in order meanwhile, and no thread sleeps.

#include <cstdint>

#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "cafes/actors/type_ids.hpp"

namespace cafes {

using delay_actor = caf::typed_actor<
  // Replies `delay_atom` once `microseconds` have passed.
  caf::replies_to<delay_atom, std::uint64_t>::with<delay_atom>>;

/// Spawns a delay actor. It ends with the actor system; requests still
/// waiting then are answered with an error.
delay_actor spawn_delay_actor(caf::actor_system& system);

} // namespace cafes
