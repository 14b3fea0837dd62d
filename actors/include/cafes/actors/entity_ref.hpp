#pragma once
// A typed handle to one entity, for message-driven code: it knows the
// entity's aggregate and which registry shard serves it, so a caller sends
// commands of that aggregate only and never computes a shard.

#include <cstdint>
#include <utility>

#include <caf/duration.hpp>

#include "cafes/actors/registry.hpp"
#include "cafes/actors/repository.hpp"
#include "cafes/domain/aggregate.hpp"

namespace cafes {

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
  /// its error one of those entity_actor.hpp lists (to_failure reads it),
  /// naming the entity. Two errors come from CAF on the caller's side and
  /// do not name it (it is `id()`): ec::timeout when `timeout` passes (the
  /// command was sent and may still be applied), and ec::closing when the
  /// registry is gone (the application has closed).
  template <class Self>
  auto execute(Self* self, typename A::command command, std::uint64_t expected = any_version,
               caf::duration timeout = caf::duration{caf::infinite}) const {
    return execute(self, command_envelope{encode_command(command), expected}, timeout);
  }

  /// As above with every field of the envelope (ids, read-your-writes);
  /// `envelope.command` must be an encoded `A::command` (encode_command).
  template <class Self>
  auto execute(Self* self, command_envelope envelope,
               caf::duration timeout = caf::duration{caf::infinite}) const {
    return self->request(registry_, timeout, execute_atom::value, id_, std::move(envelope));
  }

  /// Asks for the entity's snapshot (ec::not_found when it has no events;
  /// the other errors as entity_actor.hpp's get lists, and CAF's two as
  /// `execute`).
  template <class Self>
  auto get(Self* self, caf::duration timeout = caf::duration{caf::infinite}) const {
    return self->request(registry_, timeout, caf::get_atom::value, id_);
  }

  /// Returns the typed copy in `snapshot`, an answer of this aggregate's
  /// entity actor; `base` is the sender's copy at the expected version, for
  /// an answer to a command sent with `answer_with_events`. Errors: as
  /// `copy_from` (repository.hpp).
  static result<copy<A>> copy_of(const entity_snapshot& snapshot,
                                 const copy<A>* base = nullptr) {
    return copy_from<A>(snapshot, base);
  }

private:
  entity_id id_;
  registry_actor registry_;
};

} // namespace cafes
