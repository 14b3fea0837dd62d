#pragma once
// The synchronous API: an application over a store, and a repository<A> per
// aggregate, for programs and tests that send a command and wait for its
// answer. It includes no CAF header, so a file that uses only this compiles
// without CAF's typed actor templates (CTest's `sync_api.no_caf_headers`
// checks it); the typed actor handles (registries, entity_ref, the log hub,
// subscriptions, projection runners) are declared here but defined in
// application.hpp, which includes CAF: include that to use them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cafes/actors/config.hpp"
#include "cafes/actors/counters.hpp"
#include "cafes/actors/entity_snapshot.hpp"
#include "cafes/actors/exceptions.hpp"
#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/domain/projection.hpp"
#include "cafes/storage/event_store.hpp"
#include "cafes/storage/view_reader.hpp"

namespace caf {
class actor;
class actor_system;
class actor_system_config;
} // namespace caf

namespace cafes {

class registry_source;

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

namespace detail {

/// Decodes the events `snapshot` carries, at the versions they got.
template <class A>
result<std::vector<typename A::event>> answered_events(const entity_snapshot& snapshot) {
  std::vector<typename A::event> out;
  out.reserve(snapshot.events.size());
  auto version = snapshot.version - snapshot.events.size();
  for (const auto& encoded : snapshot.events) {
    event_record record{snapshot.id, ++version, {}, encoded.type, encoded.payload, 0};
    record.schema_version = encoded.schema_version;
    auto event = decode<typename A::event>(record);
    if (!event)
      return std::move(event).error();
    out.push_back(std::move(*event));
  }
  return out;
}

} // namespace detail

/// Returns the typed copy an answer of aggregate `A`'s entity actor
/// describes. An answer that carries a command's events instead of the
/// state (command_envelope::answer_with_events) needs `base`, the sender's
/// copy at the version the command expected: the events evolve a copy of
/// it. Errors: ec::decode_failure when the state or an event does not
/// decode as `A`'s (another aggregate's entity answered, or other code);
/// ec::invalid_argument when the answer carries events and `base` is null
/// or of another entity or version.
template <class A>
result<copy<A>> copy_from(const entity_snapshot& snapshot, const copy<A>* base = nullptr) {
  if (snapshot.carries_state()) {
    auto state = decode_state<typename A::state>(snapshot.state, A::name);
    if (!state)
      return std::move(state).error();
    return copy<A>{snapshot.id, snapshot.version, std::move(*state), snapshot.command_version};
  }
  auto from = snapshot.version - snapshot.events.size();
  if (base == nullptr || base->id != snapshot.id || base->version != from
      || snapshot.events.size() > snapshot.version)
    return failure::make(ec::invalid_argument,
                         "the answer of " + std::string{A::name} + " " + to_string(snapshot.id)
                           + " carries the events from version " + std::to_string(from)
                           + ", not a state: it needs the copy at that version");
  copy<A> out{snapshot.id, snapshot.version, base->state, snapshot.command_version};
  auto events = detail::answered_events<A>(snapshot);
  if (!events)
    return std::move(events).error();
  for (const auto& event : *events)
    out.state = A::evolve(std::move(out.state), event);
  return out;
}

namespace detail {

/// Brings `target`, the sender's copy, to what `snapshot` (the answer to
/// its command) describes, evolving it in place (no copy of its state).
/// Errors: as copy_from; `target` is unchanged then.
template <class A>
result<done> apply_answer(copy<A>& target, const entity_snapshot& snapshot) {
  if (snapshot.carries_state() || snapshot.id != target.id
      || snapshot.events.size() > snapshot.version
      || snapshot.version - snapshot.events.size() != target.version) {
    auto out = copy_from<A>(snapshot, &target);
    if (!out)
      return std::move(out).error();
    target = std::move(*out);
    return done{};
  }
  auto events = answered_events<A>(snapshot);
  if (!events)
    return std::move(events).error();
  for (const auto& event : *events)
    target.state = A::evolve(std::move(target.state), event);
  target.version = snapshot.version;
  target.command_version = snapshot.command_version;
  return done{};
}

} // namespace detail

template <class A>
class repository;

/// The ids a command may carry (see command_envelope). A non-nil `command`
/// makes it idempotent: sent again with the same id, it is not applied
/// again, and the answer is the current state with the version it got.
struct command_ids {
  uuid command{};
  uuid correlation{};
  uuid causation{};
};

/// Read-your-writes for one command: answer it only once the named
/// projections (runners started by the same application) have processed
/// its events, so that a query after it sees them.
struct read_your_writes {
  std::vector<std::string> projections;
  /// Past it the command's answer is ec::timeout, saying that the command
  /// was applied (at which version) and which projection lags: 5 s.
  std::chrono::milliseconds timeout{5'000};
};

class application {
public:
  /// Starts an application over `store` (shared: several applications may use
  /// one store, each with its own entity actors). Throws cafes_error with
  /// ec::invalid_argument when `config` asks for more than
  /// max_application_threads scheduler threads or storage shards, or CAF
  /// refuses one of its settings.
  explicit application(std::shared_ptr<event_store> store,
                       application_config config = {});

  /// Starts an application inside `system`, an actor system the program
  /// already has (embedding cafes in a CAF program): its actors run on that
  /// system's scheduler, next to the program's own, which can talk to them
  /// (registries(), hub(), subscribe). Make the system from a configuration
  /// that `configure` was called on. `config.scheduler_threads` and
  /// `config.poll_attempts` do not apply (the system is configured
  /// already). The system must outlive the application; destroying the
  /// application stops and waits for the actors it started, and leaves the
  /// system and the program's actors running. Throws cafes_error with
  /// ec::invalid_argument when `config` asks for more than
  /// max_application_threads storage shards.
  application(caf::actor_system& system, std::shared_ptr<event_store> store,
              application_config config = {});

  /// Starts a remote application inside `system`: no store and no storage
  /// actors of its own; each aggregate it serves is served by the
  /// registries `source` gives (cafes::net::node::connect makes one whose
  /// registries forward to another process). The synchronous API, `ref`
  /// and `registries` work as in a local application; what needs a local
  /// store does not: `subscribe` and `run_projection` throw cafes_error
  /// with ec::invalid_argument, `store()` is a store whose every call
  /// fails with ec::storage_unavailable (so does `view<P>()`), `storage()`
  /// is empty, `hub()` a null handle, and `counters` and `stats` are
  /// zero (the serving node counts). The system must outlive the
  /// application.
  application(caf::actor_system& system, std::shared_ptr<registry_source> source,
              application_config config = {});

  /// Closes: registries refuse new requests, every entity actor finishes the
  /// commands it already holds and stops, then the storage actors stop; waits
  /// for all of them. Destroy the application on the thread that made it:
  /// CAF 0.17.6 hangs when an actor system is destroyed on another thread.
  ~application();

  application(const application&) = delete;
  application& operator=(const application&) = delete;

  /// Starts serving aggregates `As...` now (their registries), so that a
  /// name clash shows at start-up rather than at first use. Throws
  /// cafes_error with ec::invalid_argument when two different aggregate
  /// types have one name (they would share entity actors and histories).
  template <aggregate... As>
  void serve() {
    (serve(erase<As>()), ...);
  }

  /// One served aggregate (its registry shards and counters); opaque here.
  struct served;

  /// Serves `aggregate` (see `serve`) and returns it. Throws as `serve`.
  const served& serve(const std::shared_ptr<const erased_aggregate>& aggregate);

  /// Returns the synchronous repository of aggregate `A` (serving it first
  /// if needed). Throws as `serve`.
  template <aggregate A>
  repository<A> entities() {
    return repository<A>{*this, serve(erase<A>())};
  }

  /// Returns the conflict and retry counters of aggregate `A` (all zero
  /// before it is served).
  template <aggregate A>
  command_stats counters() {
    return counters(A::name);
  }

  /// Returns the counters of the aggregate named `name` (all zero when none
  /// of that name is served).
  command_stats counters(std::string_view name);

  /// Returns the commits to the store so far: how many, how many appends
  /// each held and how long each took (histograms).
  commit_stats commits() const noexcept;

  // -- typed actor handles --------------------------------------------------
  // Declared here, defined in application.hpp, which includes CAF's typed
  // actor headers: include that to call them.

  /// Returns a typed handle to entity `id` of aggregate `A` (an
  /// entity_ref<A>), for message-driven code (see entity_ref.hpp): it
  /// routes to the registry shard that serves `id`. Throws as `serve`.
  template <aggregate A>
  auto ref(const entity_id& id);

  /// Returns the registry shards of aggregate `A`, a
  /// `std::vector<registry_actor>` (an entity's is
  /// `shards[shard_of(id, shards.size())]`; `ref` does that for you).
  template <aggregate A>
  const auto& registries();

  /// Returns the storage actors, a `std::vector<storage_actor>` (sharded
  /// like the registries).
  const auto& storage() const noexcept;

  /// Starts a subscription of the store's global log for `subscriber`: the
  /// events after position `after` that pass `filter`, in position order,
  /// each once, stored ones first, then new ones as they commit (see
  /// subscription.hpp). Returns the subscription's actor: it ends when the
  /// subscriber ends, or when the application closes (send it an exit to
  /// end it sooner). A filter naming an aggregate or event type that
  /// nothing writes is not an error (a later writer may): it passes
  /// nothing until then. Throws cafes_error with ec::invalid_argument
  /// when `after` is past the end of the log (a checkpoint of another
  /// store), and the store's error when its last position cannot be read.
  /// (`Subscriber` is a subscriber_actor.)
  template <class Subscriber>
  caf::actor subscribe(Subscriber subscriber, std::uint64_t after = 0, log_filter filter = {},
                       subscription_options options = {});

  /// Starts the runner of projection `P` (see projection.hpp): it brings
  /// `P`'s view up to date with the global log (rebuilding it from
  /// position 0 when it is new or `P::version` changed) and keeps it so.
  /// Returns its actor (a projection_actor). Throws cafes_error with
  /// ec::invalid_argument when a projection of that name already runs here.
  template <projection P>
  auto run_projection(projection_options options = {});

  /// Starts the runner of `projection`; see the template above.
  auto run_projection(std::shared_ptr<const erased_projection> projection,
                      projection_options options = {});

  /// Returns the runner of the projection named `name` started here (a
  /// projection_actor), or a null handle.
  auto projection_runner(std::string_view name);

  /// Returns typed reads of projection `P`'s stored view (whether or not
  /// its runner runs here).
  template <projection P>
  view_reader<P> view() const {
    return view_reader<P>{store()};
  }

  /// Returns the log hub (a log_hub_actor): it answers `(wait_atom,
  /// after)` once the global log is past position `after`.
  const auto& hub() const noexcept;

  // -- the rest needs no CAF ---------------------------------------------------

  /// Returns how many waits the log hub holds now (subscriptions,
  /// projections and process managers waiting at the end of the log).
  std::uint32_t log_waiters() const noexcept;

  /// Returns the store every storage actor writes to.
  const std::shared_ptr<event_store>& store() const noexcept;

  caf::actor_system& system() noexcept;
  const application_config& config() const noexcept;

  /// Runs `command` (nothing: a get) on entity `id` of the served
  /// aggregate `aggregate` and waits for the snapshot: at version
  /// `expected`, with `ids`, and, with `wait`, read-your-writes. Throws
  /// cafes_error with ec::invalid_argument (nothing sent) when `wait` names
  /// a projection not started here. Errors: as the entity actor replies;
  /// ec::timeout when `request_timeout` passes (the request was sent: a
  /// command in it may still be applied); ec::closing when the registry is
  /// gone. Every failure names entity `id` (failure::entity).
  /// With `answer_with_events`, an applied command's answer carries its
  /// events instead of the state (see command_envelope).
  result<entity_snapshot> call(const served& aggregate, const entity_id& id,
                               std::optional<encoded_command> command,
                               std::uint64_t expected = any_version,
                               const command_ids& ids = {},
                               const read_your_writes* wait = nullptr,
                               bool answer_with_events = false);

  /// Sums the counters of every registry.
  registry_stats stats();

  /// The state behind the application (application.cpp).
  struct impl;

private:
  friend struct application_access;
  std::unique_ptr<impl> impl_;
};

/// Synchronous access to the entities of aggregate `A`.
template <class A>
class repository {
public:
  repository(application& app, const application::served& aggregate)
    : app_(&app), served_(&aggregate) {}

  /// Creates a new entity with a random id by running `command` on it.
  /// Returns its copy. Throws cafes_error (rejected, storage failures).
  copy<A> create(typename A::command command) {
    return create(uuid::random(), std::move(command));
  }

  /// Creates entity `id` (which must not exist) by running `command`.
  /// Throws concurrency_error when `id` exists, cafes_error otherwise.
  copy<A> create(const entity_id& id, typename A::command command) {
    return unwrap(app_->call(*served_, id, encode_command(command), 0));
  }

  /// Returns a copy of entity `id`. Throws cafes_error with ec::not_found for
  /// an entity with no events, ec::decode_failure for an unreadable history.
  copy<A> get(const entity_id& id) {
    return unwrap(app_->call(*served_, id, std::nullopt));
  }

  /// Runs `command` against the version `target` has; on success updates
  /// `target` to the new state and version. Throws concurrency_error when
  /// `target` is stale (nothing is written, `target` is unchanged), and
  /// cafes_error for rejections and failures. With a command id that the
  /// entity applied before, nothing is applied and `target` becomes the
  /// current state, stale or not (its command_version says what it got).
  void execute(copy<A>& target, typename A::command command, const command_ids& ids = {}) {
    apply(target, app_->call(*served_, target.id, encode_command(command), target.version,
                             ids, nullptr, true));
  }

  /// Runs `command` on entity `id` at whatever version it has.
  copy<A> execute(const entity_id& id, typename A::command command,
                  const command_ids& ids = {}) {
    return unwrap(app_->call(*served_, id, encode_command(command), any_version, ids));
  }

  /// As `execute(target, command, ids)`, answered only once the projections
  /// `wait` names have processed the command's events. Throws cafes_error
  /// with ec::invalid_argument (nothing sent) for a projection not started
  /// by this application, and ec::timeout when one has not caught up in
  /// time: the command was applied then (the message says at which
  /// version), and `target` is unchanged.
  void execute(copy<A>& target, typename A::command command, const command_ids& ids,
               const read_your_writes& wait) {
    apply(target, app_->call(*served_, target.id, encode_command(command), target.version,
                             ids, &wait, true));
  }

  /// As `execute(id, command, ids)`, with read-your-writes (see above).
  copy<A> execute(const entity_id& id, typename A::command command, const command_ids& ids,
                  const read_your_writes& wait) {
    return unwrap(app_->call(*served_, id, encode_command(command), any_version, ids, &wait));
  }

  // -- without exceptions --------------------------------------------------
  // The same calls, each returning its outcome: a conflict or a rejection
  // is an ordinary value here. Errors: as the entity actor answers (see
  // entity_actor.hpp: ec::conflict with the missed events, ec::rejected,
  // ec::not_found, ec::decode_failure, ec::storage_failure,
  // ec::storage_unavailable, ec::unknown_outcome, ec::timeout,
  // ec::closing; a get only ec::not_found, ec::decode_failure, the storage
  // codes, ec::timeout and ec::closing), each naming the entity
  // (failure::entity). Also ec::timeout when the application's
  // request_timeout passes: the request was sent, and a command in it may
  // still be applied (read back). Never ec::invalid_argument (the command
  // is an `A::command`) or ec::actor_error (no cafes actor answers it).
  // tests/actor_contract_test.cpp lists a test for each.

  /// As `create(id, command)`: ec::conflict (expected 0) when `id` exists.
  result<copy<A>> try_create(const entity_id& id, typename A::command command) {
    return typed(app_->call(*served_, id, encode_command(command), 0));
  }

  /// As `get(id)`.
  result<copy<A>> try_get(const entity_id& id) {
    return typed(app_->call(*served_, id, std::nullopt));
  }

  /// As `execute(target, command, ids)`: on success `target` is the new
  /// state; on any failure it is unchanged (after a conflict, `catch_up`
  /// brings it to the entity's version from the failure alone).
  result<done> try_execute(copy<A>& target, typename A::command command,
                           const command_ids& ids = {}) {
    auto answer = app_->call(*served_, target.id, encode_command(command), target.version,
                             ids, nullptr, true);
    if (!answer)
      return std::move(answer).error();
    return detail::apply_answer(target, *answer);
  }

  /// As `execute(id, command, ids)`.
  result<copy<A>> try_execute(const entity_id& id, typename A::command command,
                              const command_ids& ids = {}) {
    return typed(app_->call(*served_, id, encode_command(command), any_version, ids));
  }

  /// Brings `target` to the entity's current version (a get). Returns
  /// whether it moved. Errors: as `try_get`; `target` is unchanged then.
  result<bool> refresh(copy<A>& target) {
    auto current = try_get(target.id);
    if (!current)
      return std::move(current).error();
    bool moved = current->version != target.version;
    target = std::move(*current);
    return moved;
  }

  /// Applies the events a conflict about `target` carried (see
  /// failure::missed_events) to `target`, which then has the version the
  /// entity had when the command was refused: no read needed. Returns false,
  /// leaving `target` unchanged, when `conflict` is no conflict about
  /// `target` at its version, carries the versions only (the entity was
  /// further ahead than the cap: call `refresh`), or holds an event that
  /// does not decode.
  bool catch_up(copy<A>& target, const failure& conflict) const {
    if (!conflict.missed_all() || conflict.entity != target.id
        || conflict.expected_version != target.version)
      return false;
    auto state = target.state;
    for (const auto& record : conflict.missed_events) {
      auto event = decode<typename A::event>(record);
      if (!event)
        return false;
      state = A::evolve(std::move(state), *event);
    }
    target.state = std::move(state);
    target.version = conflict.actual_version;
    target.command_version = 0;
    return true;
  }

  /// Returns the typed handle of entity `id` (an entity_ref<A>), for
  /// message-driven code. Defined in application.hpp (CAF).
  auto ref(const entity_id& id) const;

  /// Returns the registry shard (a registry_actor) that serves `id`.
  /// Defined in application.hpp (CAF).
  const auto& shard(const entity_id& id) const;

private:
  static result<copy<A>> typed(result<entity_snapshot> snapshot) {
    if (!snapshot)
      return std::move(snapshot).error();
    return copy_from<A>(*snapshot);
  }

  /// Brings `target` to the answer to its command; throws as `unwrap`.
  static void apply(copy<A>& target, result<entity_snapshot> answer) {
    if (!answer)
      throw_failure(std::move(answer).error());
    auto applied = detail::apply_answer(target, *answer);
    if (!applied)
      throw_failure(std::move(applied).error());
  }

  static copy<A> unwrap(result<entity_snapshot> snapshot) {
    auto out = typed(std::move(snapshot));
    if (!out)
      throw_failure(std::move(out).error());
    return std::move(*out);
  }

  application* app_;
  const application::served* served_;
};

} // namespace cafes
