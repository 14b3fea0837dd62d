#include "cafes/actors/registry.hpp"

#include <unordered_map>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"

namespace cafes {

namespace {

using snapshot_promise = caf::typed_response_promise<entity_snapshot>;

/// A request that arrived while the entity's previous actor was stopping.
struct deferred_request {
  snapshot_promise promise;
  std::optional<command_envelope> command; // none: a get
};

struct entry {
  entity_actor actor;
  /// Stop was sent; requests wait for the actor's end, then go to a new one.
  bool stopping = false;
  std::vector<deferred_request> deferred;
};

struct registry_state {
  static inline const char* name = "cafes.registry";

  /// One per storage shard, shared by the entity actors of that shard.
  std::vector<std::shared_ptr<const entity_context>> contexts;
  std::unordered_map<entity_id, entry> entities;
  std::unordered_map<caf::actor_addr, entity_id> stopping;
  registry_stats stats;
  /// Set by an exit message: new requests are refused, every entity actor is
  /// stopped (finishing what it has queued), then the registry quits.
  std::optional<caf::error> closing;
  /// Entity actors still to be sent a stop while closing.
  std::vector<entity_id> to_stop;
};

/// Most entity actors stopped at once while closing. A stop per entity all
/// at once puts a million jobs in one worker's queue, and CAF 0.17's work
/// stealing walks that queue on every steal: closing 1M actors took 193 s.
constexpr std::size_t stop_window = 256;

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

entry& spawn_into(registry_pointer self, entry& slot, const entity_id& id) {
  auto& st = self->state;
  slot.actor = spawn_entity_actor(*self, id, st.contexts[shard_of(id, st.contexts.size())]);
  slot.stopping = false;
  self->monitor(slot.actor);
  ++st.stats.spawned;
  ++st.stats.resident;
  st.stats.peak_resident = std::max(st.stats.peak_resident, st.stats.resident);
  return slot;
}

entry& lookup(registry_pointer self, const entity_id& id) {
  auto [it, inserted] = self->state.entities.try_emplace(id);
  if (inserted)
    spawn_into(self, it->second, id);
  return it->second;
}

void forward(const entity_actor& actor, deferred_request& request) {
  if (request.command)
    request.promise.delegate(actor, execute_atom::value, std::move(*request.command));
  else
    request.promise.delegate(actor, caf::get_atom::value);
}

/// Asks the entity's actor to stop once it has handled what it has queued.
void request_stop(registry_pointer self, entry& slot, const entity_id& id) {
  slot.stopping = true;
  self->state.stopping.emplace(slot.actor.address(), id);
  self->send(slot.actor, stop_atom::value);
}

/// The answer to a request for entity `id` while closing: names it.
failure closing_failure(const entity_id& id) {
  auto f = failure::make(ec::closing, "the application is closing");
  f.entity = id;
  return f;
}

/// While closing: keeps up to `stop_window` stops in flight; quits when no
/// entity actor is left.
void continue_closing(registry_pointer self) {
  auto& st = self->state;
  while (st.stopping.size() < stop_window && !st.to_stop.empty()) {
    auto id = st.to_stop.back();
    st.to_stop.pop_back();
    if (auto it = st.entities.find(id); it != st.entities.end() && !it->second.stopping)
      request_stop(self, it->second, id);
  }
  if (st.entities.empty())
    self->quit(*st.closing);
}

void on_entity_down(registry_pointer self, const caf::down_msg& msg) {
  auto& st = self->state;
  --st.stats.resident;
  entity_id id;
  if (auto found = st.stopping.find(msg.source); found != st.stopping.end()) {
    id = found->second;
    st.stopping.erase(found);
  } else {
    // An entity actor died without being asked (it should not): forget it
    // so the next request respawns it from the store.
    auto it = std::find_if(st.entities.begin(), st.entities.end(), [&](auto& kv) {
      return kv.second.actor.address() == msg.source;
    });
    if (it == st.entities.end())
      return;
    id = it->first;
  }
  auto it = st.entities.find(id);
  if (it == st.entities.end())
    return;
  auto& slot = it->second;
  if (st.closing) {
    for (auto& request : slot.deferred)
      request.promise.deliver(to_caf_error(closing_failure(id)));
    st.entities.erase(it);
    continue_closing(self);
    return;
  }
  if (slot.deferred.empty()) {
    st.entities.erase(it);
    return;
  }
  // Requests arrived while the old actor stopped: a fresh actor replays the
  // store (which holds everything the old one acknowledged) and takes them
  // in arrival order.
  auto waiting = std::move(slot.deferred);
  slot.deferred.clear();
  spawn_into(self, slot, id);
  for (auto& request : waiting)
    forward(slot.actor, request);
}

registry_actor::behavior_type registry_behavior(registry_pointer self,
                                                std::shared_ptr<const erased_aggregate> aggregate,
                                                std::vector<storage_shard> storage,
                                                entity_options options) {
  auto& st = self->state;
  for (auto& shard : storage)
    // Weak: the registry owns its entity actors, not the other way round.
    st.contexts.push_back(std::make_shared<const entity_context>(
      entity_context{aggregate, std::move(shard), caf::weak_actor_ptr{self->ctrl()}, options}));
  self->set_down_handler([=](caf::down_msg& msg) { on_entity_down(self, msg); });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    if (st.closing)
      return;
    st.closing = msg.reason;
    st.to_stop.reserve(st.entities.size());
    for (const auto& [id, slot] : st.entities)
      st.to_stop.push_back(id);
    continue_closing(self);
  });
  return {
    [=](execute_atom, const entity_id& id,
        command_envelope& command) -> caf::result<entity_snapshot> {
      if (self->state.closing)
        return to_caf_error(closing_failure(id));
      auto& slot = lookup(self, id);
      if (slot.stopping) {
        auto promise = self->make_response_promise<entity_snapshot>();
        slot.deferred.push_back({promise, std::move(command)});
        return promise;
      }
      return self->delegate(slot.actor, execute_atom::value, std::move(command));
    },
    [=](caf::get_atom, const entity_id& id) -> caf::result<entity_snapshot> {
      if (self->state.closing)
        return to_caf_error(closing_failure(id));
      auto& slot = lookup(self, id);
      if (slot.stopping) {
        auto promise = self->make_response_promise<entity_snapshot>();
        slot.deferred.push_back({promise, std::nullopt});
        return promise;
      }
      return self->delegate(slot.actor, caf::get_atom::value);
    },
    [=](passivate_atom, const entity_id& id) {
      auto& st = self->state;
      auto it = st.entities.find(id);
      const auto& sender = self->current_sender();
      if (st.closing || it == st.entities.end() || it->second.stopping || !sender
          || it->second.actor.address() != sender->address())
        return;
      // Everything routed to the actor so far is ahead of this stop in its
      // mailbox; what arrives from now on waits for the actor's end.
      ++st.stats.passivated;
      request_stop(self, it->second, id);
    },
    [=](stats_atom) { return self->state.stats; },
  };
}

} // namespace

std::size_t shard_of(const entity_id& id, std::size_t count) {
  return static_cast<std::size_t>(std::hash<entity_id>{}(id) % count);
}

registry_actor spawn_registry(caf::actor_system& system,
                              std::shared_ptr<const erased_aggregate> aggregate,
                              std::vector<storage_shard> storage,
                              entity_options options) {
  return system.spawn(registry_behavior, std::move(aggregate), std::move(storage),
                      options);
}

} // namespace cafes
