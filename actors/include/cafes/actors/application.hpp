#pragma once
// The application: owns the actor system, the storage actors and one registry
// per aggregate; offers a synchronous API (repository<A>) for programs and
// tests and the typed actor handles for message-driven code. Destroying it
// shuts everything down; acknowledged events are already in the store.

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "cafes/actors/delay_actor.hpp"
#include "cafes/actors/entity_ref.hpp"
#include "cafes/actors/errors.hpp"
#include "cafes/actors/projection.hpp"
#include "cafes/actors/registry.hpp"
#include "cafes/actors/storage_actor.hpp"
#include "cafes/actors/subscription.hpp"
#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/storage/event_store.hpp"
#include "cafes/storage/view_reader.hpp"

namespace cafes {

/// Most scheduler threads, and most storage shards (a thread each), an
/// application accepts: 256.
inline constexpr std::size_t max_application_threads = 256;

struct application_config {
  /// CAF scheduler threads: 0 = one per core; at most max_application_threads.
  std::size_t scheduler_threads = 0;
  /// Registries per aggregate, sharded by entity id: 0 = one per core.
  std::size_t registry_shards = 0;
  /// Storage actors (each with its own thread and group commit) over the one
  /// store, sharded by entity id: 0 = one per core. One storage actor caps
  /// throughput at one core's worth of commits: on 2 cores, 2 shards gave
  /// +47% events/s over 1 (cafes-stress, 512 clients, medians of 3).
  std::size_t storage_shards = 0;
  /// Most appends per group commit: 4096.
  std::size_t max_batch = 4096;
  /// When the store's appends do not wait for a device (RocksDB with sync
  /// off or in memory, the memory store), an entity actor whose storage
  /// shard is idle runs its append on its own scheduler thread instead of
  /// sending it to the storage actor (see direct_appends): two thread
  /// hand-offs fewer per command at low load. Under load appends still go
  /// to the storage actor's group commit. true.
  bool allow_direct_appends = true;
  /// How long a synchronous call waits for its answer: 30 s.
  std::chrono::milliseconds request_timeout{30'000};
  /// How long a synchronous call looks for its answer (yielding the CPU
  /// between looks) before it sleeps until woken: waking a sleeping thread
  /// took ~10-20 us here, about as long as a whole get takes otherwise.
  /// 0 = sleep at once. 30 us.
  std::chrono::microseconds reply_spin{30};
  /// How long an entity actor waits for the storage actor: 0 = no limit
  /// (see entity_options::storage_timeout).
  std::chrono::milliseconds storage_timeout{0};
  /// Polling attempts of an idle CAF worker before it sleeps on its
  /// condition variable (CAF's work-stealing aggressive attempts; the
  /// moderate phase, which sleeps without being woken, is off): 1000. A
  /// worker that still polls when the next message comes saves a wake-up:
  /// the synchronous get + execute loop went 92 -> 15 us per pair with
  /// reply_spin (bench, medians of 3); 512 clients and idle CPU did not
  /// move beyond noise.
  std::size_t poll_attempts = 1000;
  /// Entity actors idle this long stop (and respawn from the store on the
  /// next command): 0 = never.
  std::chrono::milliseconds idle_timeout{0};
  /// While a subscription, projection or process manager waits at the end
  /// of the global log, how often the store is looked at for commits that
  /// this application's writers did not announce (another application or
  /// process over the same store): those are seen within it. Commits of
  /// this application are announced at once. 0 = never look. 50 ms.
  std::chrono::milliseconds log_poll_interval{50};
  /// Retries of commands sent without an expected version when another
  /// application's writer appended first (see retry_policy).
  retry_policy unversioned_retry;
  /// Most events a conflict answer carries, those the caller's copy missed
  /// (see failure::missed_events): further behind, the versions only. 64.
  std::uint32_t missed_events_cap = 64;
};

template <class A>
class repository;

/// Registers what cafes sends between actors (its message types and its
/// error category) in `config`. Call it on the configuration of an actor
/// system that an application is to run in (see the embedding constructor),
/// before that system is made.
void configure(caf::actor_system_config& config);

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
    (registries(erase<As>()), ...);
  }

  /// Returns the synchronous repository of aggregate `A` (serving it first
  /// if needed). Throws as `serve`.
  template <aggregate A>
  repository<A> entities() {
    return repository<A>{*this, registries(erase<A>())};
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

  /// Returns a typed handle to entity `id` of aggregate `A`, for
  /// message-driven code (see entity_ref.hpp): it routes to the registry
  /// shard that serves `id`. Throws as `serve`.
  template <aggregate A>
  entity_ref<A> ref(const entity_id& id) {
    const auto& shards = registries(erase<A>());
    return entity_ref<A>{id, shards[shard_of(id, shards.size())]};
  }

  /// Returns the registry shards of aggregate `A` (an entity's is
  /// `shards[shard_of(id, shards.size())]`; `ref` does that for you).
  template <aggregate A>
  const std::vector<registry_actor>& registries() {
    return registries(erase<A>());
  }

  /// Returns the storage actors (sharded like the registries).
  const std::vector<storage_actor>& storage() const noexcept { return storage_; }

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
  caf::actor subscribe(subscriber_actor subscriber, std::uint64_t after = 0,
                       log_filter filter = {}, subscription_options options = {});

  /// Starts the runner of projection `P` (see projection.hpp): it brings
  /// `P`'s view up to date with the global log (rebuilding it from
  /// position 0 when it is new or `P::version` changed) and keeps it so.
  /// Returns its actor. Throws cafes_error with ec::invalid_argument when a
  /// projection of that name already runs here.
  template <projection P>
  projection_actor run_projection(projection_options options = {}) {
    return run_projection(erase_projection<P>(), options);
  }

  /// Starts the runner of `projection`; see the template above.
  projection_actor run_projection(std::shared_ptr<const erased_projection> projection,
                                  projection_options options = {});

  /// Returns the runner of the projection named `name` started here, or a
  /// null handle.
  projection_actor projection_runner(std::string_view name);

  /// Returns typed reads of projection `P`'s stored view (whether or not
  /// its runner runs here).
  template <projection P>
  view_reader<P> view() const {
    return view_reader<P>{store_};
  }

  /// Returns the runners named in `names`, for a command's
  /// read-your-writes. Throws cafes_error with ec::invalid_argument for a
  /// name no projection started here has.
  std::vector<awaited_projection> awaited(const std::vector<std::string>& names);

  /// Returns the log hub: it answers `(wait_atom, after)` once the global
  /// log is past position `after`.
  const log_hub_actor& hub() const noexcept { return hub_; }

  /// Returns how many waits the log hub holds now (subscriptions,
  /// projections and process managers waiting at the end of the log).
  std::uint32_t log_waiters() const noexcept { return notifier_->waiting.load(); }

  /// Returns the store every storage actor writes to.
  const std::shared_ptr<event_store>& store() const noexcept { return store_; }

  caf::actor_system& system() noexcept { return *system_; }
  const application_config& config() const noexcept { return config_; }

  /// Sends `request` to `registry` and waits for the snapshot.
  /// Errors: as the entity actor replies, or ec::timeout.
  result<entity_snapshot> call(const registry_actor& registry, const entity_id& id,
                               std::optional<command_envelope> command);

  /// Sums the counters of every registry.
  registry_stats stats();

private:
  /// Spawns the actors every application has (storage, hub, delays).
  void start();

  const std::vector<registry_actor>&
  registries(const std::shared_ptr<const erased_aggregate>& aggregate);

  /// Most idle scoped actors kept for synchronous calls.
  static constexpr std::size_t max_parked_callers = 64;

  /// Returns a scoped actor for one synchronous call: a parked one, or a
  /// new one. Reused because destroying a scoped actor sends a message to
  /// CAF's clock thread and wakes it (~6 us per call here, `perf`).
  std::unique_ptr<caf::scoped_actor> take_caller();
  /// Parks `caller` for the next call (or destroys it, past the limit).
  void return_caller(std::unique_ptr<caf::scoped_actor> caller);

  application_config config_;
  std::shared_ptr<event_store> store_;
  std::unique_ptr<caf::actor_system_config> system_config_;
  /// Set when the application made its own system (else the embedder's).
  std::unique_ptr<caf::actor_system> owned_system_;
  caf::actor_system* system_ = nullptr;
  std::vector<storage_actor> storage_;
  /// The storage actors as the registries see them.
  std::vector<storage_shard> shards_;
  delay_actor delays_;
  std::shared_ptr<log_notifier> notifier_;
  log_hub_actor hub_;
  /// Projection runners started here, by name.
  std::map<std::string, projection_actor, std::less<>> projections_;
  /// Subscriptions started here (ended ones are weak pointers to nothing).
  std::vector<caf::weak_actor_ptr> subscriptions_;
  /// One served aggregate: the type it was registered with, its registry
  /// shards and its counters.
  struct served_aggregate {
    std::shared_ptr<const erased_aggregate> aggregate;
    std::vector<registry_actor> shards;
    std::shared_ptr<command_counters> counters;
  };
  std::mutex mutex_;
  std::map<std::string, served_aggregate, std::less<>> registries_;
  std::mutex callers_mutex_;
  std::vector<std::unique_ptr<caf::scoped_actor>> callers_;
};

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

/// Synchronous access to the entities of aggregate `A`.
template <class A>
class repository {
public:
  repository(application& app, const std::vector<registry_actor>& shards)
    : app_(&app), shards_(&shards) {}

  /// Creates a new entity with a random id by running `command` on it.
  /// Returns its copy. Throws cafes_error (rejected, storage failures).
  copy<A> create(typename A::command command) {
    return create(uuid::random(), std::move(command));
  }

  /// Creates entity `id` (which must not exist) by running `command`.
  /// Throws concurrency_error when `id` exists, cafes_error otherwise.
  copy<A> create(const entity_id& id, typename A::command command) {
    return unwrap(app_->call(shard(id), id, command_envelope{encode_command(command), 0}));
  }

  /// Returns a copy of entity `id`. Throws cafes_error with ec::not_found for
  /// an entity with no events, ec::decode_failure for an unreadable history.
  copy<A> get(const entity_id& id) {
    return unwrap(app_->call(shard(id), id, std::nullopt));
  }

  /// Runs `command` against the version `target` has; on success updates
  /// `target` to the new state and version. Throws concurrency_error when
  /// `target` is stale (nothing is written, `target` is unchanged), and
  /// cafes_error for rejections and failures. With a command id that the
  /// entity applied before, nothing is applied and `target` becomes the
  /// current state, stale or not (its command_version says what it got).
  void execute(copy<A>& target, typename A::command command, const command_ids& ids = {}) {
    target = unwrap(app_->call(shard(target.id), target.id,
                               envelope(std::move(command), target.version, ids)));
  }

  /// Runs `command` on entity `id` at whatever version it has.
  copy<A> execute(const entity_id& id, typename A::command command,
                  const command_ids& ids = {}) {
    return unwrap(app_->call(shard(id), id, envelope(std::move(command), any_version, ids)));
  }

  /// As `execute(target, command, ids)`, answered only once the projections
  /// `wait` names have processed the command's events. Throws cafes_error
  /// with ec::invalid_argument (nothing sent) for a projection not started
  /// by this application, and ec::timeout when one has not caught up in
  /// time: the command was applied then (the message says at which
  /// version), and `target` is unchanged.
  void execute(copy<A>& target, typename A::command command, const command_ids& ids,
               const read_your_writes& wait) {
    auto message = envelope(std::move(command), target.version, ids);
    message.await_projections = app_->awaited(wait.projections);
    message.await_timeout = wait.timeout;
    target = unwrap(app_->call(shard(target.id), target.id, std::move(message)));
  }

  /// As `execute(id, command, ids)`, with read-your-writes (see above).
  copy<A> execute(const entity_id& id, typename A::command command, const command_ids& ids,
                  const read_your_writes& wait) {
    auto message = envelope(std::move(command), any_version, ids);
    message.await_projections = app_->awaited(wait.projections);
    message.await_timeout = wait.timeout;
    return unwrap(app_->call(shard(id), id, std::move(message)));
  }

  // -- without exceptions --------------------------------------------------
  // The same calls, each returning its outcome: a conflict or a rejection
  // is an ordinary value here. Errors: as the entity actor answers (see
  // entity_actor.hpp: ec::conflict with the missed events, ec::rejected,
  // ec::not_found, ec::decode_failure, ec::storage_failure,
  // ec::storage_unavailable, ec::unknown_outcome, ec::timeout,
  // ec::closing, ec::actor_error), each naming the entity
  // (failure::entity).

  /// As `create(id, command)`: ec::conflict (expected 0) when `id` exists.
  result<copy<A>> try_create(const entity_id& id, typename A::command command) {
    return typed(app_->call(shard(id), id, command_envelope{encode_command(command), 0}));
  }

  /// As `get(id)`.
  result<copy<A>> try_get(const entity_id& id) {
    return typed(app_->call(shard(id), id, std::nullopt));
  }

  /// As `execute(target, command, ids)`: on success `target` is the new
  /// state; on any failure it is unchanged (after a conflict, `catch_up`
  /// brings it to the entity's version from the failure alone).
  result<done> try_execute(copy<A>& target, typename A::command command,
                           const command_ids& ids = {}) {
    auto outcome = typed(app_->call(shard(target.id), target.id,
                                    envelope(std::move(command), target.version, ids)));
    if (!outcome)
      return std::move(outcome).error();
    target = std::move(*outcome);
    return done{};
  }

  /// As `execute(id, command, ids)`.
  result<copy<A>> try_execute(const entity_id& id, typename A::command command,
                              const command_ids& ids = {}) {
    return typed(app_->call(shard(id), id, envelope(std::move(command), any_version, ids)));
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

  /// Returns the typed handle of entity `id`, for message-driven code.
  entity_ref<A> ref(const entity_id& id) const { return entity_ref<A>{id, shard(id)}; }

  /// Returns the registry shard that serves `id`.
  const registry_actor& shard(const entity_id& id) const {
    return (*shards_)[shard_of(id, shards_->size())];
  }

private:
  static result<copy<A>> typed(result<entity_snapshot> snapshot) {
    if (!snapshot)
      return std::move(snapshot).error();
    return entity_ref<A>::copy_of(*snapshot);
  }

  static copy<A> unwrap(result<entity_snapshot> snapshot) {
    auto out = typed(std::move(snapshot));
    if (!out)
      throw_failure(std::move(out).error());
    return std::move(*out);
  }

  static command_envelope envelope(typename A::command command, std::uint64_t expected,
                                   const command_ids& ids) {
    return command_envelope{encode_command(command), expected, ids.command, ids.correlation,
                            ids.causation};
  }

  application* app_;
  const std::vector<registry_actor>* shards_;
};

} // namespace cafes
