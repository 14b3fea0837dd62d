#include "cafes/actors/registry.hpp"

#include <unordered_map>

#include <caf/all.hpp>

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

  std::shared_ptr<const erased_aggregate> aggregate;
  std::vector<storage_actor> storage;
  entity_options options;
  std::unordered_map<entity_id, entry> entities;
  std::unordered_map<caf::actor_addr, entity_id> stopping;
  registry_stats stats;
};

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

entry& spawn_into(registry_pointer self, entry& slot, const entity_id& id) {
  auto& st = self->state;
  slot.actor = spawn_entity_actor(*self, id, st.aggregate,
                                  st.storage[shard_of(id, st.storage.size())],
                                  self->ctrl(), st.options);
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
                                                std::vector<storage_actor> storage,
                                                entity_options options) {
  auto& st = self->state;
  st.aggregate = std::move(aggregate);
  st.storage = std::move(storage);
  st.options = options;
  self->set_down_handler([=](caf::down_msg& msg) { on_entity_down(self, msg); });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& [id, slot] : self->state.entities)
      self->send_exit(slot.actor, msg.reason);
    self->quit(msg.reason);
  });
  return {
    [=](execute_atom, const entity_id& id,
        command_envelope& command) -> caf::result<entity_snapshot> {
      auto& slot = lookup(self, id);
      if (slot.stopping) {
        auto promise = self->make_response_promise<entity_snapshot>();
        slot.deferred.push_back({promise, std::move(command)});
        return promise;
      }
      return self->delegate(slot.actor, execute_atom::value, std::move(command));
    },
    [=](caf::get_atom, const entity_id& id) -> caf::result<entity_snapshot> {
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
      if (it == st.entities.end() || it->second.stopping || !sender
          || it->second.actor.address() != sender->address())
        return;
      // Everything routed to the actor so far is ahead of this stop in its
      // mailbox; what arrives from now on waits for the actor's end.
      it->second.stopping = true;
      st.stopping.emplace(it->second.actor.address(), id);
      ++st.stats.passivated;
      self->send(it->second.actor, stop_atom::value);
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
                              std::vector<storage_actor> storage,
                              entity_options options) {
  return system.spawn(registry_behavior, std::move(aggregate), std::move(storage),
                      options);
}

} // namespace cafes
