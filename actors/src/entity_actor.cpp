#include "cafes/actors/entity_actor.hpp"

#include <optional>
#include <unordered_map>
#include <random>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"
#include "cafes/actors/log.hpp"

#include <spdlog/spdlog.h>

namespace cafes {

namespace {

using snapshot_promise = caf::typed_response_promise<entity_snapshot>;

/// The part of a projection runner's protocol a command awaiting it uses
/// (see projection.hpp).
using projection_waiter
  = caf::typed_actor<caf::replies_to<wait_atom, std::uint64_t>::with<std::uint64_t>>;

/// The part of the registry's protocol an entity actor talks to.
using passivation_listener = caf::typed_actor<caf::reacts_to<passivate_atom, entity_id>>;

/// A request waiting in the entity actor: a command, or a read (get).
struct queued {
  std::optional<command_envelope> command; // none: a get
  snapshot_promise promise;
  /// The command, decoded (holds the aggregate's `A::command`).
  std::any decoded;
  /// For a command without an expected version: which attempt this is.
  int attempt = 1;
  /// Its retries ran out: answered with the conflict once reloaded.
  bool gave_up = false;
  /// The version it was last decided at (for the gave-up message).
  std::uint64_t tried_at = 0;
};

/// A request decided in the current batch; answered once the batch's
/// append is settled, so no answer rests on events the store then refused.
struct decided {
  queued request;
  std::optional<failure> refusal; // conflict, rejection, not found
  entity_snapshot snapshot;       // the answer otherwise
  bool writes = false;            // it put events into the batch
  bool exhausted = false;         // its refusal: retries ran out
};

/// The batch whose append is in flight, and the state it leads to. On the
/// heap, made per batch: a resident actor that waits for nothing pays one
/// pointer for it (a million of them are resident at once in the bench).
struct in_flight {
  std::vector<decided> batch;
  std::any pending_state;
};

struct entity_state {
  static inline const char* name = "cafes.entity";

  entity_id id;
  /// Shared with the other actors of this registry and storage shard.
  std::shared_ptr<const entity_context> context;
  const erased_aggregate* aggregate = nullptr; // context->aggregate, for brevity
  /// What the store holds: the state and version after the last
  /// acknowledged append.
  std::any state;
  std::uint64_t version = 0;
  /// The ids of the commands with ids this entity applied, with the version
  /// each got; made on first use (most entities never see one).
  std::unique_ptr<std::unordered_map<uuid, std::uint64_t>> applied;
  bool loaded = false;
  bool passivation_requested = false;
  /// Requests in arrival order, not yet decided. A vector, not a deque:
  /// an empty std::deque allocates ~600 bytes, and most of a million
  /// resident actors wait for nothing.
  std::vector<queued> waiting;
  /// Requests decided together, their one append in flight: commands that
  /// arrive meanwhile are decided on top of it once it is acknowledged and
  /// go to the store together, behind one group commit.
  std::unique_ptr<in_flight> flight;
  /// A reload or a backoff is awaited: nothing else is decided meanwhile.
  bool busy = false;
  /// The registry asked us to stop: quit once everything queued is answered.
  bool stop_requested = false;
  /// A decide message to ourselves is queued (see enqueue).
  bool decide_sent = false;
  /// Answers held for something else's answer (read-your-writes
  /// projections, a conflict's missed events): the actor does not stop or
  /// passivate before they are given.
  std::uint32_t held_answers = 0;
};

using entity_pointer = entity_actor::stateful_pointer<entity_state>;

caf::duration storage_timeout(const entity_options& options) {
  // Each timed request costs an entry in CAF's clock (measured ~12% of
  // throughput), and the storage actor answers every request anyway.
  if (options.storage_timeout.count() == 0)
    return caf::duration{caf::infinite};
  return caf::duration{options.storage_timeout};
}

/// Records that command `id` got version `version` (its last event's).
void remember_command(entity_state& st, const uuid& id, std::uint64_t version) {
  if (!st.applied)
    st.applied = std::make_unique<std::unordered_map<uuid, std::uint64_t>>();
  (*st.applied)[id] = version;
}

/// Returns the version command `id` got, if this entity applied it.
std::optional<std::uint64_t> applied_version(const entity_state& st, const uuid& id) {
  if (id.is_nil() || !st.applied)
    return std::nullopt;
  auto found = st.applied->find(id);
  if (found == st.applied->end())
    return std::nullopt;
  return found->second;
}

/// Applies `events` (the versions after `version`, in order) to `state`.
/// Errors: ec::decode_failure.
std::optional<failure> apply_events(entity_state& st, std::any& state, std::uint64_t& version,
                                    const std::vector<event_record>& events) {
  for (const auto& record : events) {
    auto event = st.aggregate->decode(record);
    if (!event)
      return std::move(event).error();
    st.aggregate->evolve(state, *event);
    version = record.version;
    if (!record.command_id.is_nil())
      remember_command(st, record.command_id, version);
  }
  return std::nullopt;
}

/// Replays `events` onto the empty state. Errors: ec::decode_failure.
std::optional<failure> replay(entity_state& st, const std::vector<event_record>& events) {
  auto state = st.aggregate->initial_state();
  std::uint64_t version = 0;
  st.applied.reset();
  if (auto error = apply_events(st, state, version, events))
    return error;
  st.state = std::move(state);
  st.version = version;
  st.loaded = true;
  return std::nullopt;
}

/// Brings the loaded state forward by the events a store conflict carried
/// (another writer's, right after our version), instead of reading the
/// whole history again. Returns false when they do not fit (then reload).
bool catch_up(entity_state& st, const failure& conflict) {
  if (!st.loaded || !conflict.missed_all() || conflict.expected_version != st.version
      || conflict.missed_events.front().version != st.version + 1)
    return false;
  auto state = st.state;
  auto version = st.version;
  if (apply_events(st, state, version, conflict.missed_events))
    return false;
  st.state = std::move(state);
  st.version = version;
  return true;
}

/// Returns `f` (from decide) naming this entity, as a field and in its text.
failure with_entity(const entity_state& st, failure f) {
  if (f.code == ec::not_found)
    return failure::not_found(st.id);
  f.message = std::string{st.aggregate->name()} + " " + to_string(st.id) + ": "
              + f.message;
  f.entity = st.id;
  return f;
}

/// Returns `err` as an error naming this entity (failure::entity), for a
/// failure of a layer below that did not know it.
caf::error naming_entity(const entity_state& st, const caf::error& err) {
  auto f = to_failure(err);
  if (!f.entity.is_nil())
    return err;
  f.entity = st.id;
  return to_caf_error(f);
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

/// Most requests decided into one batch.
constexpr std::size_t max_batch_requests = 1024;

void process(entity_pointer self);

/// Answers every waiting request with `err` (the history cannot be read).
void fail_waiting(entity_pointer self, const caf::error& err) {
  auto waiting = std::move(self->state.waiting);
  self->state.waiting.clear();
  auto named = naming_entity(self->state, err);
  for (auto& request : waiting)
    request.promise.deliver(named);
}

/// Reads the whole history and replays it; other messages wait meanwhile
/// (await). Nothing is in flight when it runs.
void reload(entity_pointer self) {
  auto& st = self->state;
  st.busy = true;
  self->request(st.context->storage.actor, storage_timeout(st.context->options), read_atom::value, st.id,
                std::uint64_t{1}, last_version)
    .await(
      [=](std::vector<event_record>& events) {
        self->state.busy = false;
        if (auto error = replay(self->state, events)) {
          logger()->error("cannot load {}: {}", self->state.aggregate->name(),
                          to_string(*error));
          fail_waiting(self, to_caf_error(*error));
        }
        process(self);
      },
      [=](caf::error& err) {
        self->state.busy = false;
        fail_waiting(self, err);
        process(self);
      });
}

/// Waits the backoff of `attempt` before going on; other messages wait
/// meanwhile, so requests keep their order, and no thread sleeps. Returns
/// false when there is nothing to wait for (go on now).
bool back_off(entity_pointer self, int attempt) {
  auto& st = self->state;
  const auto& options = st.context->options;
  auto wait = backoff(options.retry, attempt);
  if (!options.delays || wait.count() == 0)
    return false;
  st.busy = true;
  self->request(options.delays, caf::infinite, delay_atom::value,
                static_cast<std::uint64_t>(wait.count()))
    .await(
      [=](delay_atom) {
        self->state.busy = false;
        process(self);
      },
      [=](caf::error& err) {
        self->state.busy = false;
        fail_waiting(self, err);
        process(self);
      });
  return true;
}

/// Answers `d` once every projection it awaits has caught up with the
/// log (read-your-writes); the actor goes on with other commands meanwhile.
void answer_after_projections(entity_pointer self, decided& d) {
  struct awaiting {
    snapshot_promise promise;
    entity_snapshot snapshot;
    std::size_t left = 0;
    bool answered = false;
  };
  const auto& envelope = *d.request.command;
  auto shared = std::make_shared<awaiting>(
    awaiting{std::move(d.request.promise), std::move(d.snapshot),
             envelope.await_projections.size()});
  const auto timeout = envelope.await_timeout;
  ++self->state.held_answers;
  auto settle = [self] {
    if (--self->state.held_answers == 0 && self->state.stop_requested)
      process(self); // it may stop now
  };
  for (const auto& awaited : envelope.await_projections) {
    auto name = awaited.name;
    // Position 0: whatever is committed when the projection reads this,
    // which includes this command's events.
    self->request(caf::actor_cast<projection_waiter>(awaited.runner), timeout, wait_atom::value,
                  std::uint64_t{0})
      .then(
        [shared, settle](std::uint64_t) {
          if (!shared->answered && --shared->left == 0) {
            shared->answered = true;
            shared->promise.deliver(std::move(shared->snapshot));
            settle();
          }
        },
        [shared, name, timeout, settle](caf::error& err) {
          if (shared->answered)
            return;
          shared->answered = true;
          auto why = to_failure(err);
          auto text = "the command was applied (entity " + to_string(shared->snapshot.id)
                      + " at version " + std::to_string(shared->snapshot.version)
                      + "), but projection '" + name + "' ";
          text += why.code == ec::timeout
                    ? "had not processed it within " + std::to_string(timeout.count()) + " ms"
                    : "cannot show it: " + why.message;
          auto lagging = failure::make(why.code, std::move(text));
          lagging.entity = shared->snapshot.id;
          shared->promise.deliver(to_caf_error(lagging));
          settle();
        });
  }
}

/// Answers a conflict, counted; with the events its caller missed when
/// there are at most missed_events_cap of them. They are stored (the
/// answer comes after the batch's append was acknowledged) and never
/// change, so reading them now gives what the caller missed.
void answer_conflict(entity_pointer self, snapshot_promise promise, failure refused,
                     bool exhausted) {
  auto& st = self->state;
  std::shared_ptr<command_counters> counters = st.context->options.counters;
  auto answer = [counters, exhausted](snapshot_promise& promise, failure& f) {
    if (counters) {
      counters->conflict(f.missed_events.size());
      if (exhausted)
        counters->retries_exhausted();
    }
    promise.deliver(to_caf_error(f));
  };
  const auto from = refused.expected_version + 1;
  const auto to = refused.actual_version;
  if (exhausted || refused.missed_all() || to < from
      || to - refused.expected_version > st.context->options.missed_events_cap) {
    answer(promise, refused);
    return;
  }
  const auto& storage = st.context->storage;
  if (auto* direct = storage.direct.get()) {
    // Appends here do not wait for a device, and neither do reads: read
    // on this thread rather than queue behind the storage actor's commits.
    auto events = direct->store().read(st.id, from, to);
    if (events && events->size() == to - refused.expected_version)
      refused.missed_events = std::move(*events);
    answer(promise, refused);
    return;
  }
  ++st.held_answers;
  auto settle = [self] {
    if (--self->state.held_answers == 0 && self->state.stop_requested)
      process(self); // it may stop now
  };
  self->request(storage.actor, storage_timeout(st.context->options), read_atom::value, st.id,
                from, to)
    .then(
      [=](std::vector<event_record>& events) mutable {
        if (events.size() == to - refused.expected_version)
          refused.missed_events = std::move(events);
        answer(promise, refused);
        settle();
      },
      [=](caf::error&) mutable {
        answer(promise, refused); // the versions only: still a conflict
        settle();
      });
}

/// Answers every request of a settled batch.
void answer_batch(entity_pointer self, std::vector<decided>& batch) {
  for (auto& d : batch) {
    if (d.refusal && d.refusal->code == ec::conflict)
      answer_conflict(self, std::move(d.request.promise), std::move(*d.refusal), d.exhausted);
    else if (d.refusal)
      d.request.promise.deliver(to_caf_error(*d.refusal));
    else if (d.request.command && !d.request.command->await_projections.empty())
      answer_after_projections(self, d);
    else
      d.request.promise.deliver(std::move(d.snapshot));
  }
}

/// The batch's append failed. Whatever happened, the store is the truth:
/// reload before deciding anything else (a timed-out append may still
/// have been committed). A conflict means another writer got there first:
/// commands bound to a version then get the conflict, those without one
/// are decided again on the reloaded state after a jittered backoff,
/// within their budget. Other errors go to the commands that wrote; the
/// rest of the batch, decided on events that were not stored, is decided
/// again. Returns the attempt whose backoff to wait before deciding again
/// (1: none).
int settle_failure(entity_pointer self, const caf::error& err) {
  auto& st = self->state;
  auto flight = std::move(st.flight);
  auto problem = to_failure(err);
  // A conflict that carries the other writer's events brings the state
  // forward without reading the whole history again.
  if (problem.code != ec::conflict || !catch_up(st, problem))
    st.loaded = false;
  const auto& policy = st.context->options.retry;
  const auto& counters = st.context->options.counters;
  std::vector<queued> again;
  int highest_attempt = 1;
  caf::error named;
  for (auto& d : flight->batch) {
    if (d.writes && problem.code != ec::conflict) {
      if (!named)
        named = naming_entity(st, err);
      d.request.promise.deliver(named);
      continue;
    }
    auto request = std::move(d.request);
    if (d.writes && request.command->expected_version == any_version) {
      if (request.attempt >= policy.attempts) {
        request.gave_up = true;
      } else {
        highest_attempt = std::max(highest_attempt, ++request.attempt);
        if (counters)
          counters->retry();
      }
    }
    again.push_back(std::move(request));
  }
  st.waiting.insert(st.waiting.begin(), std::make_move_iterator(again.begin()),
                    std::make_move_iterator(again.end()));
  return highest_attempt;
}

/// The batch's append was acknowledged at `new_version`: its state becomes
/// the entity's, and every request of it gets its answer.
void settle_success(entity_pointer self, std::uint64_t new_version) {
  auto& st = self->state;
  auto settled = std::move(st.flight);
  st.state = std::move(settled->pending_state);
  st.version = new_version;
  for (const auto& d : settled->batch)
    if (d.writes && !d.request.command->command_id.is_nil())
      remember_command(st, d.request.command->command_id, d.snapshot.command_version);
  answer_batch(self, settled->batch);
}

/// Logs a failed append that is news (conflicts and refusals are answers).
void log_failure(const failure& problem) {
  if (problem.code != ec::conflict && problem.code != ec::invalid_argument)
    logger()->warn("append failed: {}", to_string(problem));
}

/// Stores the batch in flight. A lone request, while the storage shard is
/// idle and its store's appends do not wait for a device, is appended right
/// here and settled on return. Otherwise the append goes to the storage
/// actor and is settled when the answer comes (then the queue moves on):
/// a batch of several requests means a hot entity, which keeps taking
/// commands while its append is in flight, so its next batch grows (one
/// hot entity, 64 clients: 127k events/s appending here, 173k there).
void store_batch(entity_pointer self, append_request request) {
  auto& st = self->state;
  const auto& storage = st.context->storage;
  if (auto* direct = storage.direct.get();
      direct && st.flight->batch.size() == 1 && direct->try_begin()) {
    auto started = std::chrono::steady_clock::now();
    auto outcome = direct->store().append(request);
    direct->end();
    if (storage.commits)
      storage.commits->record(1, std::chrono::steady_clock::now() - started);
    if (outcome) {
      if (storage.notifier)
        storage.notifier->appended();
      settle_success(self, *outcome);
      return;
    }
    log_failure(outcome.error());
    auto attempt = settle_failure(self, to_caf_error(outcome.error()));
    if (attempt > 1)
      back_off(self, attempt);
    return;
  }
  if (storage.direct)
    storage.direct->queued();
  self->request(storage.actor, storage_timeout(st.context->options), append_atom::value,
                std::move(request))
    .then(
      [=](std::uint64_t new_version) {
        settle_success(self, new_version);
        process(self);
      },
      [=](caf::error& err) {
        auto attempt = settle_failure(self, err);
        if (attempt <= 1 || !back_off(self, attempt))
          process(self);
      });
}

/// Decides the waiting requests in order on the current state, each
/// command on the state its predecessors in the batch lead to, and sends
/// their events as one append at the entity's version: all of them are
/// stored, or none.
void start_batch(entity_pointer self) {
  auto& st = self->state;
  auto running_state = st.state;
  auto running = st.version;
  append_request request{st.id, st.version, {}, std::string{st.aggregate->name()},
                         st.context->options.missed_events_cap};
  auto timestamp = now_ns();
  auto flight = std::make_unique<in_flight>();
  auto& batch = flight->batch;
  std::vector<queued> taking;
  taking.swap(st.waiting);
  std::unordered_map<uuid, std::uint64_t> batch_commands; // with ids, decided here
  std::size_t taken = 0;
  for (; taken < taking.size() && batch.size() < max_batch_requests; ++taken) {
    decided d{std::move(taking[taken]), std::nullopt, {}, false};
    auto& item = d.request;
    if (!item.command) {
      if (running == 0)
        d.refusal = failure::not_found(st.id);
      else
        d.snapshot = {st.id, running, st.aggregate->encode_state(running_state), 0, {}};
    } else if (auto earlier = applied_version(st, item.command->command_id);
               earlier || batch_commands.contains(item.command->command_id)) {
      // Applied before (or earlier in this batch): not again, whatever
      // version the caller expected; the answer says what it got.
      d.snapshot = {st.id, running, st.aggregate->encode_state(running_state),
                    earlier ? *earlier : batch_commands.at(item.command->command_id), {}};
    } else if (item.gave_up) {
      auto gave_up = failure::conflict(st.id, item.tried_at, running);
      gave_up.message = std::string{st.aggregate->name()} + " " + to_string(st.id)
                        + ": retries exhausted: a command without an expected "
                          "version met another writer's append on each of its "
                        + std::to_string(item.attempt) + " attempts (entity now at version "
                        + std::to_string(running) + ")";
      d.refusal = std::move(gave_up);
      d.exhausted = true;
    } else if (item.command->expected_version != any_version
               && item.command->expected_version != running) {
      d.refusal = failure::conflict(st.id, item.command->expected_version, running);
    } else {
      item.tried_at = running;
      auto decision = st.aggregate->decide(running_state, item.decoded);
      if (!decision) {
        d.refusal = with_entity(st, decision.error());
      } else {
        const auto& envelope = *item.command;
        auto first_event = request.events.size();
        for (const auto& event : *decision) {
          auto encoded = st.aggregate->encode(event);
          event_record record{st.id, 0, uuid::random(), std::move(encoded.type),
                              std::move(encoded.payload), timestamp};
          record.schema_version = encoded.schema_version;
          record.command_id = envelope.command_id;
          record.correlation_id = envelope.correlation_id.is_nil() ? envelope.command_id
                                                                   : envelope.correlation_id;
          record.causation_id = envelope.causation_id.is_nil() ? envelope.command_id
                                                               : envelope.causation_id;
          request.events.push_back(std::move(record));
          st.aggregate->evolve(running_state, event);
        }
        running += decision->size();
        d.writes = !decision->empty();
        if (envelope.answer_with_events && envelope.expected_version != any_version) {
          // The sender's copy is at the expected version: its events take
          // it to `running` (the state is not encoded at all).
          d.snapshot = {st.id, running, {}, d.writes ? running : 0, {}};
          d.snapshot.events.reserve(request.events.size() - first_event);
          for (auto i = first_event; i < request.events.size(); ++i) {
            const auto& record = request.events[i];
            d.snapshot.events.push_back({record.type, record.payload, record.schema_version});
          }
        } else {
          d.snapshot = {st.id, running, st.aggregate->encode_state(running_state),
                        d.writes ? running : 0, {}};
        }
        if (d.writes && !envelope.command_id.is_nil())
          batch_commands.emplace(envelope.command_id, running);
      }
    }
    batch.push_back(std::move(d));
  }
  // What did not fit waits for the next batch (nothing arrived meanwhile:
  // this runs within one message).
  st.waiting.assign(std::make_move_iterator(taking.begin() + static_cast<std::ptrdiff_t>(taken)),
                    std::make_move_iterator(taking.end()));
  if (request.events.empty()) {
    answer_batch(self, batch); // nothing to store: every answer stands
    return;
  }
  flight->pending_state = std::move(running_state);
  st.flight = std::move(flight);
  store_batch(self, std::move(request));
}

/// Asks the registry to stop this actor (it routes nothing more here
/// meanwhile): once, and not while answers are held. Without a registry
/// nobody can route to us any more, so the actor just quits.
void request_passivation(entity_pointer self) {
  auto& st = self->state;
  if (st.passivation_requested || st.held_answers > 0)
    return;
  if (auto registry = st.context->registry.lock()) {
    st.passivation_requested = true;
    self->send(caf::actor_cast<passivation_listener>(registry), passivate_atom::value, st.id);
  } else {
    self->quit();
  }
}

/// Moves the queue on: loads when needed, starts a batch when none is in
/// flight (a direct append settles it before start_batch returns, and the
/// loop goes on), and quits when asked to once everything is answered.
void process(entity_pointer self) {
  auto& st = self->state;
  while (!st.flight && !st.busy) {
    if (st.waiting.empty()) {
      if (st.stop_requested && st.held_answers == 0)
        self->quit();
      else if (!st.loaded || st.version == 0)
        // No history (an unknown id, a refused create) or a failed load:
        // nothing worth keeping resident, and a client asking for a million
        // random ids would otherwise leave a million actors behind.
        request_passivation(self);
      return;
    }
    if (!st.loaded) {
      reload(self);
      return;
    }
    start_batch(self);
  }
}

void enqueue(entity_pointer self, std::optional<command_envelope> command,
             snapshot_promise promise) {
  auto& st = self->state;
  std::any decoded;
  if (command) {
    // A command of another aggregate, or bytes that do not decode, is
    // answered at once: no state could make it valid.
    auto typed = st.aggregate->decode_command(command->command);
    if (!typed) {
      promise.deliver(to_caf_error(with_entity(st, std::move(typed).error())));
      return;
    }
    decoded = std::move(*typed);
    command->command = {}; // decoded: the bytes are not needed any more
  }
  st.waiting.push_back(queued{std::move(command), std::move(promise), std::move(decoded)});
  // More messages wait in the mailbox: decide them with this one, in one
  // batch, once they are in. A decide message of our own queues up behind
  // them. Without it, a hot entity whose appends run on its own thread
  // (direct appends) would append each request alone: the others queue
  // while it appends (the bench: 33% -> 53% of the store's rate).
  if (!st.flight && !st.busy && !self->mailbox().empty()) {
    if (!st.decide_sent) {
      st.decide_sent = true;
      self->send(caf::actor_cast<entity_actor>(self), decide_atom::value);
    }
    return;
  }
  process(self);
}

entity_actor::behavior_type entity_behavior(entity_pointer self, entity_id id,
                                            std::shared_ptr<const entity_context> context) {
  auto& st = self->state;
  st.id = id;
  st.context = std::move(context);
  st.aggregate = st.context->aggregate.get();
  st.state = st.aggregate->initial_state();
  const auto& options = st.context->options;
  auto idle = options.idle_timeout.count() > 0 ? caf::duration{options.idle_timeout}
                                               : caf::duration{caf::infinite};
  return {
    [=](execute_atom, command_envelope& envelope) -> caf::result<entity_snapshot> {
      auto promise = self->make_response_promise<entity_snapshot>();
      enqueue(self, std::move(envelope), promise);
      return promise;
    },
    [=](caf::get_atom) -> caf::result<entity_snapshot> {
      auto promise = self->make_response_promise<entity_snapshot>();
      enqueue(self, std::nullopt, promise);
      return promise;
    },
    [=](stop_atom) {
      self->state.stop_requested = true;
      process(self);
    },
    [=](decide_atom) {
      self->state.decide_sent = false;
      process(self);
    },
    caf::after(idle) >> [=] { request_passivation(self); },
  };
}

} // namespace

entity_actor spawn_entity_actor(caf::local_actor& parent, entity_id id,
                                std::shared_ptr<const entity_context> context) {
  return parent.spawn(entity_behavior, id, std::move(context));
}

} // namespace cafes
