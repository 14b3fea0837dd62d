#include "cafes/actors/entity_actor.hpp"

#include <random>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"
#include "cafes/actors/log.hpp"

#include <spdlog/spdlog.h>

namespace cafes {

namespace {

using snapshot_promise = caf::typed_response_promise<entity_snapshot>;

/// The part of the registry's protocol an entity actor talks to.
using passivation_listener = caf::typed_actor<caf::reacts_to<passivate_atom, entity_id>>;

struct entity_state {
  static inline const char* name = "cafes.entity";

  entity_id id;
  std::shared_ptr<const erased_aggregate> aggregate;
  storage_actor storage;
  caf::weak_actor_ptr registry;
  entity_options options;
  std::any state;
  std::uint64_t version = 0;
  bool loaded = false;
  bool passivation_requested = false;

  entity_snapshot snapshot() const { return {id, version, state}; }
};

using entity_pointer = entity_actor::stateful_pointer<entity_state>;

caf::duration storage_timeout(const entity_options& options) {
  // Each timed request costs an entry in CAF's clock (measured ~12% of
  // throughput), and the storage actor answers every request anyway.
  if (options.storage_timeout.count() == 0)
    return caf::duration{caf::infinite};
  return caf::duration{options.storage_timeout};
}

/// Replays `events` onto the empty state. Errors: ec::decode_failure.
std::optional<failure> replay(entity_state& st, const std::vector<event_record>& events) {
  auto state = st.aggregate->initial_state();
  std::uint64_t version = 0;
  for (const auto& record : events) {
    auto event = st.aggregate->decode(record);
    if (!event)
      return std::move(event).error();
    st.aggregate->evolve(state, *event);
    version = record.version;
  }
  st.state = std::move(state);
  st.version = version;
  st.loaded = true;
  return std::nullopt;
}

/// Loads the history when not loaded yet, then runs `next`; on failure
/// delivers the error to `promise`. Other messages wait meanwhile (await).
template <class Next>
void with_loaded(entity_pointer self, snapshot_promise promise, Next next) {
  if (self->state.loaded) {
    next();
    return;
  }
  auto& st = self->state;
  self->request(st.storage, storage_timeout(st.options), read_atom::value, st.id,
                std::uint64_t{1}, last_version)
    .await(
      [=](std::vector<event_record>& events) mutable {
        if (auto error = replay(self->state, events)) {
          logger()->error("cannot load {}: {}", self->state.aggregate->name(),
                          to_string(*error));
          promise.deliver(to_caf_error(*error));
        }
        else
          next();
      },
      [=](caf::error& err) mutable { promise.deliver(err); });
}

failure with_entity(const entity_state& st, failure f) {
  if (f.code == ec::not_found)
    return failure::not_found(st.id);
  f.message = std::string{st.aggregate->name()} + " " + to_string(st.id) + ": "
              + f.message;
  return f;
}

/// Returns the wait before attempt `attempt` (2 or more): uniform in
/// [0, min(max, initial * 2^(attempt-2))].
std::chrono::microseconds backoff(const retry_policy& policy, int attempt) {
  thread_local std::minstd_rand random{std::random_device{}()};
  auto ceiling = policy.initial_backoff;
  for (int i = 2; i < attempt && ceiling < policy.max_backoff; ++i)
    ceiling *= 2;
  ceiling = std::min(ceiling, policy.max_backoff);
  if (ceiling.count() <= 0)
    return std::chrono::microseconds{0};
  std::uniform_int_distribution<std::int64_t> pick{0, ceiling.count()};
  return std::chrono::microseconds{pick(random)};
}

/// Runs `next` after the backoff of `attempt`; other messages wait
/// meanwhile, so commands keep their order.
template <class Next>
void after_backoff(entity_pointer self, int attempt, snapshot_promise promise,
                   Next next) {
  auto& st = self->state;
  auto wait = backoff(st.options.retry, attempt);
  if (!st.options.delays || wait.count() == 0) {
    next();
    return;
  }
  self->request(st.options.delays, caf::infinite, delay_atom::value,
                static_cast<std::uint64_t>(wait.count()))
    .await([=](delay_atom) mutable { next(); },
           [=](caf::error& err) mutable { promise.deliver(err); });
}

void run_command(entity_pointer self, command_envelope envelope,
                 snapshot_promise promise, int attempt = 1) {
  auto& st = self->state;
  if (envelope.expected_version != any_version
      && envelope.expected_version != st.version) {
    promise.deliver(
      to_caf_error(failure::conflict(st.id, envelope.expected_version, st.version)));
    return;
  }
  auto decided = st.aggregate->decide(st.state, envelope.command);
  if (!decided) {
    promise.deliver(to_caf_error(with_entity(st, decided.error())));
    return;
  }
  auto events = std::move(*decided);
  if (events.empty()) {
    promise.deliver(st.snapshot());
    return;
  }
  append_request request{st.id, st.version, {}};
  auto timestamp = now_ns();
  for (const auto& event : events) {
    auto encoded = st.aggregate->encode(event);
    request.events.push_back(event_record{st.id, 0, uuid::random(),
                                          std::move(encoded.type),
                                          std::move(encoded.payload), timestamp});
  }
  auto expected = st.version;
  self->request(st.storage, storage_timeout(st.options), append_atom::value,
                std::move(request))
    .await(
      [=](std::uint64_t new_version) mutable {
        auto& st = self->state;
        for (const auto& event : events)
          st.aggregate->evolve(st.state, event);
        st.version = new_version;
        promise.deliver(st.snapshot());
      },
      [=](caf::error& err) mutable {
        // Whatever happened, the store is the truth: reload before the next
        // command (a timed-out append may still have been committed).
        self->state.loaded = false;
        auto problem = to_failure(err);
        if (problem.code != ec::conflict) {
          promise.deliver(err);
          return;
        }
        // Another writer got there first. A command bound to a version
        // gets the conflict once the actor has caught up; one without runs
        // again on the current state after a jittered backoff, within its
        // budget, so that competing writers spread out.
        if (envelope.expected_version != any_version) {
          with_loaded(self, promise, [=]() mutable {
            promise.deliver(to_caf_error(
              failure::conflict(self->state.id, expected, self->state.version)));
          });
          return;
        }
        const auto& policy = self->state.options.retry;
        if (attempt >= policy.attempts) {
          with_loaded(self, promise, [=]() mutable {
            auto& st = self->state;
            auto gave_up = failure::conflict(st.id, expected, st.version);
            gave_up.message = std::string{st.aggregate->name()} + " " + to_string(st.id)
                              + ": retries exhausted: a command without an expected "
                                "version met another writer's append on each of its "
                              + std::to_string(attempt)
                              + " attempts (entity now at version "
                              + std::to_string(st.version) + ")";
            promise.deliver(to_caf_error(gave_up));
          });
          return;
        }
        after_backoff(self, attempt + 1, promise, [=]() mutable {
          with_loaded(self, promise, [=]() mutable {
            run_command(self, envelope, promise, attempt + 1);
          });
        });
      });
}

entity_actor::behavior_type entity_behavior(entity_pointer self, entity_id id,
                                            std::shared_ptr<const erased_aggregate> aggregate,
                                            storage_actor storage,
                                            caf::strong_actor_ptr registry,
                                            entity_options options) {
  auto& st = self->state;
  st.id = id;
  st.aggregate = std::move(aggregate);
  st.storage = std::move(storage);
  // Weak: the registry owns us, not the other way round.
  st.registry = caf::weak_actor_ptr{registry.get()};
  st.options = options;
  st.state = st.aggregate->initial_state();
  auto idle = options.idle_timeout.count() > 0 ? caf::duration{options.idle_timeout}
                                               : caf::duration{caf::infinite};
  return {
    [=](execute_atom, command_envelope& envelope) -> caf::result<entity_snapshot> {
      auto promise = self->make_response_promise<entity_snapshot>();
      with_loaded(self, promise, [=]() mutable {
        run_command(self, envelope, promise);
      });
      return promise;
    },
    [=](caf::get_atom) -> caf::result<entity_snapshot> {
      auto promise = self->make_response_promise<entity_snapshot>();
      with_loaded(self, promise, [=]() mutable {
        if (self->state.version == 0)
          promise.deliver(to_caf_error(failure::not_found(self->state.id)));
        else
          promise.deliver(self->state.snapshot());
      });
      return promise;
    },
    [=](stop_atom) { self->quit(); },
    caf::after(idle) >> [=] {
      auto& st = self->state;
      if (st.passivation_requested)
        return;
      if (auto registry = st.registry.lock()) {
        st.passivation_requested = true;
        self->send(caf::actor_cast<passivation_listener>(registry),
                   passivate_atom::value, st.id);
      } else {
        self->quit(); // no registry: nobody can route to us any more
      }
    },
  };
}

} // namespace

entity_actor spawn_entity_actor(caf::local_actor& parent, entity_id id,
                                std::shared_ptr<const erased_aggregate> aggregate,
                                storage_actor storage,
                                caf::strong_actor_ptr registry,
                                entity_options options) {
  return parent.spawn(entity_behavior, id, std::move(aggregate), std::move(storage),
                      std::move(registry), options);
}

} // namespace cafes
