#pragma once
// A typed handle to one entity, for message-driven code: it knows the
// entity's aggregate and which registry shard serves it, so a caller sends
// commands of that aggregate only and never computes a shard.

#include <cstdint>
#include <utility>

#include <caf/duration.hpp>

#include "cafes/actors/registry.hpp"
#include "cafes/domain/aggregate.hpp"

namespace cafes {

/// A copy of an entity's state at a version.
template <class A>
struct copy {
  entity_id id;
  std::uint64_t version = 0;
  typename A::state state;
  /// After a command: the version its last event got (for a command with
  /// an id applied before: the version it got then); 0 when it produced no
  /// events, or after a get.
  std::uint64_t command_version = 0;
};

/// Entity `id` of aggregate `A` (see application::ref). Cheap to copy.
template <aggregate A>
class entity_ref {
public:
  entity_ref(entity_id id, registry_actor registry)
    : id_(id), registry_(std::move(registry)) {}

  const entity_id& id() const noexcept { return id_; }

  /// The registry shard that serves this entity.
  const registry_actor& registry() const noexcept { return registry_; }

  /// Sends `command` from `self` (an event-based or scoped actor), to run
  /// at version `expected` (any_version: whatever the entity has, retried
  /// on another writer's append; 0: create). Returns CAF's response handle:
  /// its value is an entity_snapshot (turn it into a copy with `copy_of`),
  /// its error one of those entity_actor.hpp lists (to_failure reads it).
  template <class Self>
  auto execute(Self* self, typename A::command command, std::uint64_t expected = any_version,
               caf::duration timeout = caf::duration{caf::infinite}) const {
    return execute(self, command_envelope{std::move(command), expected}, timeout);
  }

  /// As above with every field of the envelope (ids, read-your-writes);
  /// `envelope.command` must hold an `A::command`.
  template <class Self>
  auto execute(Self* self, command_envelope envelope,
               caf::duration timeout = caf::duration{caf::infinite}) const {
    return self->request(registry_, timeout, execute_atom::value, id_, std::move(envelope));
  }

  /// Asks for the entity's snapshot (ec::not_found when it has no events).
  template <class Self>
  auto get(Self* self, caf::duration timeout = caf::duration{caf::infinite}) const {
    return self->request(registry_, timeout, caf::get_atom::value, id_);
  }

  /// Returns the typed copy in `snapshot`, an answer of this aggregate's
  /// entity actor.
  static copy<A> copy_of(entity_snapshot snapshot) {
    return copy<A>{snapshot.id, snapshot.version,
                   std::any_cast<typename A::state>(std::move(snapshot.state)),
                   snapshot.command_version};
  }

private:
  entity_id id_;
  registry_actor registry_;
};

} // namespace cafes
