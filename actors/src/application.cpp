#include "cafes/actors/application.hpp"

#include <map>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

namespace cafes {

namespace {

/// Returns `configured`, or one per core when it is 0.
std::size_t shard_count(std::size_t configured) {
  if (configured > 0)
    return configured;
  return std::max<std::size_t>(std::thread::hardware_concurrency(), 1);
}

/// Sets CAF option `name` to `value`; throws ec::invalid_argument if CAF
/// refuses it (CAF itself only prints a line and goes on without it).
void set_option(caf::actor_system_config& cfg, const char* name, std::size_t value) {
  cfg.set(name, value);
  if (caf::get_or(caf::content(cfg), name, value + 1) != value)
    throw cafes_error{failure::make(ec::invalid_argument,
                                    std::string{"CAF refused "} + name + " = "
                                      + std::to_string(value))};
}

/// Throws ec::invalid_argument if `value` is above max_application_threads.
void check_threads(const char* name, std::size_t value) {
  if (value > max_application_threads)
    throw cafes_error{failure::make(ec::invalid_argument,
                                    std::string{name} + " = " + std::to_string(value)
                                      + " is more than "
                                      + std::to_string(max_application_threads))};
}

/// The store of a remote application, which has none: every call fails
/// with ec::storage_unavailable saying so, instead of a null pointer.
class no_store final : public event_store {
public:
  result<std::uint64_t> append(const append_request&) override { return absent(); }
  std::vector<result<std::uint64_t>> append_batch(std::span<const append_request> requests) override {
    return std::vector<result<std::uint64_t>>(requests.size(), absent());
  }
  result<std::vector<event_record>> read(const entity_id&, std::uint64_t, std::uint64_t) override {
    return absent();
  }
  result<std::uint64_t> head(const entity_id&) override { return absent(); }
  result<std::vector<entity_id>> list_entities(std::optional<entity_id>, std::size_t) override {
    return absent();
  }
  result<log_page> read_all(std::uint64_t, std::size_t, const log_filter&) override {
    return absent();
  }
  result<std::optional<std::uint64_t>> find_command(const entity_id&, const uuid&) override {
    return absent();
  }
  result<std::uint64_t> last_position() override { return absent(); }
  result<std::optional<view_checkpoint>> read_view_checkpoint(std::string_view) override {
    return absent();
  }
  result<view_checkpoint> reset_view(std::string_view, std::uint32_t,
                                     const std::optional<view_checkpoint>&) override {
    return absent();
  }
  result<view_checkpoint> commit_view(std::string_view, const view_checkpoint&, std::uint64_t,
                                      std::span<const view_change>) override {
    return absent();
  }
  result<std::optional<std::vector<std::uint8_t>>> read_view(std::string_view,
                                                             std::string_view) override {
    return absent();
  }
  result<std::vector<view_row>> scan_view(std::string_view, std::string_view, std::string_view,
                                          std::size_t) override {
    return absent();
  }

private:
  static failure absent() {
    return failure::make(ec::storage_unavailable,
                         "a remote application has no store of its own: read and write "
                         "through its entities, or on the node that serves them");
  }
};

/// Throws ec::invalid_argument naming `what` when `app` is remote.
void require_local(const std::shared_ptr<registry_source>& source, const char* what) {
  if (source)
    throw cafes_error{failure::make(ec::invalid_argument,
                                    std::string{what}
                                      + " needs the store, which a remote application does not "
                                        "have: run it on the node that serves the aggregates")};
}

} // namespace

/// One served aggregate: the type it was registered with, its registry
/// shards and its counters.
struct application::served {
  std::shared_ptr<const erased_aggregate> aggregate;
  std::vector<registry_actor> shards;
  std::shared_ptr<command_counters> counters;
};

struct application::impl {
  /// Most idle scoped actors kept for synchronous calls.
  static constexpr std::size_t max_parked_callers = 64;

  /// Spawns the actors every application has (storage, hub, delays).
  void start();

  /// Returns a scoped actor for one synchronous call: a parked one, or a
  /// new one. Reused because destroying a scoped actor sends a message to
  /// CAF's clock thread and wakes it (~6 us per call here, `perf`).
  std::unique_ptr<caf::scoped_actor> take_caller();
  /// Parks `caller` for the next call (or destroys it, past the limit).
  void return_caller(std::unique_ptr<caf::scoped_actor> caller);

  /// Returns the runners named in `names`, for a command's
  /// read-your-writes. Throws cafes_error with ec::invalid_argument for a
  /// name no projection started here has.
  std::vector<awaited_projection> awaited(const std::vector<std::string>& names);

  application_config config_;
  std::shared_ptr<event_store> store_;
  /// Set for a remote application: where its registries come from (it has
  /// no storage actors and no hub then).
  std::shared_ptr<registry_source> source_;
  std::unique_ptr<caf::actor_system_config> system_config_;
  /// Set when the application made its own system (else the embedder's).
  std::unique_ptr<caf::actor_system> owned_system_;
  caf::actor_system* system_ = nullptr;
  std::vector<storage_actor> storage_;
  /// The storage actors as the registries see them.
  std::vector<storage_shard> shards_;
  delay_actor delays_;
  std::shared_ptr<log_notifier> notifier_;
  /// The store's watch of other writers' commits (etcd), if it has one:
  /// wakes the hub at once instead of at its next poll.
  std::unique_ptr<append_watch> watch_;
  std::shared_ptr<commit_counters> commits_ = std::make_shared<commit_counters>();
  log_hub_actor hub_;
  /// Projection runners started here, by name.
  std::map<std::string, projection_actor, std::less<>> projections_;
  /// Subscriptions started here (ended ones are weak pointers to nothing).
  std::vector<caf::weak_actor_ptr> subscriptions_;
  std::mutex mutex_;
  /// Served aggregates by name (never erased before the destructor: a
  /// repository points to its entry).
  std::map<std::string, served, std::less<>> registries_;
  std::mutex callers_mutex_;
  std::vector<std::unique_ptr<caf::scoped_actor>> callers_;
};

void configure(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::cafes>();
  add_error_category(cfg);
}

void configure_scheduler(caf::actor_system_config& cfg, const application_config& config) {
  check_threads("scheduler_threads", config.scheduler_threads);
  // CAF's idle workers poll aggressively, then moderately (a 50 us sleep,
  // ~140 us here, between polls that a new message cannot cut short), then
  // wait on a condition variable that a new job signals. The moderate phase
  // is skipped: every message from a thread outside the scheduler (the
  // storage actors, the synchronous API) waited for it (cafes-stress at 1
  // client, p50 105 -> 58 us). The aggressive phase is the caller's choice
  // (see application_config::poll_attempts).
  set_option(cfg, "work-stealing.aggressive-poll-attempts", config.poll_attempts);
  set_option(cfg, "work-stealing.moderate-poll-attempts", std::size_t{0});
  if (config.scheduler_threads > 0)
    set_option(cfg, "scheduler.max-threads", config.scheduler_threads);
}

application::application(std::shared_ptr<event_store> store,
                         application_config config)
  : impl_(std::make_unique<impl>()) {
  impl_->config_ = config;
  impl_->store_ = std::move(store);
  impl_->system_config_ = std::make_unique<caf::actor_system_config>();
  check_threads("storage_shards", impl_->config_.storage_shards);
  auto& cfg = *impl_->system_config_;
  configure(cfg);
  configure_scheduler(cfg, impl_->config_);
  impl_->owned_system_ = std::make_unique<caf::actor_system>(cfg);
  impl_->system_ = impl_->owned_system_.get();
  impl_->start();
}

application::application(caf::actor_system& system, std::shared_ptr<event_store> store,
                         application_config config)
  : impl_(std::make_unique<impl>()) {
  impl_->config_ = config;
  impl_->store_ = std::move(store);
  impl_->system_ = &system;
  check_threads("storage_shards", impl_->config_.storage_shards);
  impl_->start();
}

application::application(caf::actor_system& system, std::shared_ptr<registry_source> source,
                         application_config config)
  : impl_(std::make_unique<impl>()) {
  impl_->config_ = config;
  impl_->store_ = std::make_shared<no_store>();
  impl_->source_ = std::move(source);
  impl_->system_ = &system;
  impl_->start();
}

void application::impl::start() {
  delays_ = spawn_delay_actor(*system_);
  notifier_ = std::make_shared<log_notifier>();
  if (source_)
    return; // remote: the serving node has the storage actors and the hub
  auto shards = shard_count(config_.storage_shards);
  hub_ = spawn_log_hub(*system_, store_, notifier_, config_.log_poll_interval);
  watch_ = store_->watch_appends([notifier = notifier_] { notifier->appended(); });
  bool direct = config_.allow_direct_appends && !store_->appends_wait_for_device();
  for (std::size_t i = 0; i < shards; ++i) {
    storage_actor_options options;
    options.max_batch = config_.max_batch;
    options.notifier = notifier_;
    options.commits = commits_;
    if (direct)
      options.direct = std::make_shared<direct_appends>(store_);
    storage_.push_back(spawn_storage_actor(*system_, store_, options));
    shards_.emplace_back(storage_.back(), options.direct, notifier_, commits_);
  }
}

application::~application() {
  {
    // Registries first, and wait for them: their entity actors finish what
    // they have queued, which may still need the storage actors.
    std::lock_guard guard{impl_->mutex_};
    caf::scoped_actor self{*impl_->system_};
    for (auto& [name, served] : impl_->registries_) {
      for (auto& registry : served.shards)
        self->send_exit(registry, caf::exit_reason::user_shutdown);
      self->wait_for(served.shards);
    }
    impl_->registries_.clear();
  }
  {
    std::lock_guard guard{impl_->mutex_};
    caf::scoped_actor self{*impl_->system_};
    for (auto& [name, runner] : impl_->projections_)
      self->send_exit(runner, caf::exit_reason::user_shutdown);
    for (auto& [name, runner] : impl_->projections_)
      self->wait_for(runner);
    impl_->projections_.clear();
    // Waited for too: in an embedder's system nothing else would.
    std::vector<caf::actor> live;
    for (auto& weak : impl_->subscriptions_)
      if (auto subscription = weak.lock())
        live.push_back(caf::actor_cast<caf::actor>(subscription));
    for (auto& subscription : live)
      self->send_exit(subscription, caf::exit_reason::user_shutdown);
    self->wait_for(live);
    impl_->subscriptions_.clear();
  }
  impl_->watch_.reset(); // its thread notifies the hub: gone before the hub
  if (impl_->hub_) {
    // The hub goes before the storage actors (which notify it); waited
    // for, since in a system that outlives us nothing else would.
    caf::scoped_actor self{*impl_->system_};
    self->send_exit(impl_->hub_, caf::exit_reason::user_shutdown);
    self->wait_for(impl_->hub_);
  }
  impl_->hub_ = nullptr;
  {
    // Wait for the storage actors: they may still notify the hub through
    // impl_->notifier_, whose handle is released below, before the system goes.
    caf::scoped_actor self{*impl_->system_};
    for (auto& storage : impl_->storage_)
      self->send_exit(storage, caf::exit_reason::user_shutdown);
    self->wait_for(impl_->storage_);
  }
  impl_->notifier_->hub = nullptr;
  impl_->storage_.clear();
  impl_->shards_.clear();
  {
    std::lock_guard guard{impl_->callers_mutex_};
    impl_->callers_.clear();
  }
  {
    caf::scoped_actor self{*impl_->system_};
    self->send_exit(impl_->delays_, caf::exit_reason::user_shutdown);
    self->wait_for(impl_->delays_);
  }
  impl_->delays_ = nullptr;
  impl_->owned_system_.reset(); // an own system: waits for every actor (subscriptions)
}

const application::served&
application::serve(const std::shared_ptr<const erased_aggregate>& aggregate) {
  std::lock_guard guard{impl_->mutex_};
  auto found = impl_->registries_.find(aggregate->name());
  if (found != impl_->registries_.end()) {
    // erase<A>() is one object per type: another object is another type.
    if (found->second.aggregate != aggregate)
      throw cafes_error{failure::make(
        ec::invalid_argument,
        "two aggregate types are named '" + std::string{aggregate->name()}
          + "': they would share entity actors and histories; give each its own name")};
    return found->second;
  }
  entity_options options;
  options.idle_timeout = impl_->config_.idle_timeout;
  options.storage_timeout = impl_->config_.storage_timeout;
  options.retry = impl_->config_.unversioned_retry;
  options.delays = impl_->delays_;
  options.missed_events_cap = impl_->config_.missed_events_cap;
  options.counters = std::make_shared<command_counters>();
  std::vector<registry_actor> shards;
  if (impl_->source_) {
    shards = impl_->source_->shards(*impl_->system_, aggregate);
    if (shards.empty())
      throw cafes_error{failure::make(ec::invalid_argument,
                                      "the remote source gave no registry for '"
                                        + std::string{aggregate->name()} + "'")};
  } else {
    for (std::size_t i = 0, n = shard_count(impl_->config_.registry_shards); i < n; ++i)
      shards.push_back(spawn_registry(*impl_->system_, aggregate, impl_->shards_, options));
  }
  return impl_->registries_
    .emplace(std::string{aggregate->name()},
             served{aggregate, std::move(shards), options.counters})
    .first->second;
}

commit_stats application::commits() const noexcept {
  return impl_->commits_->read();
}

command_stats application::counters(std::string_view name) {
  std::lock_guard guard{impl_->mutex_};
  auto found = impl_->registries_.find(name);
  return found == impl_->registries_.end() ? command_stats{} : found->second.counters->read();
}

std::unique_ptr<caf::scoped_actor> application::impl::take_caller() {
  {
    std::lock_guard guard{callers_mutex_};
    if (!callers_.empty()) {
      auto caller = std::move(callers_.back());
      callers_.pop_back();
      return caller;
    }
  }
  // Hidden: a parked caller must not keep the actor system waiting for it.
  return std::make_unique<caf::scoped_actor>(*system_, true);
}

void application::impl::return_caller(std::unique_ptr<caf::scoped_actor> caller) {
  std::lock_guard guard{callers_mutex_};
  if (callers_.size() < max_parked_callers)
    callers_.push_back(std::move(caller));
}

result<entity_snapshot> application::call(const served& aggregate, const entity_id& id,
                                          std::optional<encoded_command> command_bytes,
                                          std::uint64_t expected, const command_ids& ids,
                                          const read_your_writes* wait,
                                          bool answer_with_events) {
  std::optional<command_envelope> command;
  if (command_bytes) {
    command.emplace(command_envelope{std::move(*command_bytes), expected, ids.command,
                                     ids.correlation, ids.causation});
    command->answer_with_events = answer_with_events;
    if (wait) {
      command->await_projections = impl_->awaited(wait->projections);
      command->await_timeout = wait->timeout;
    }
  }
  const auto& registry = aggregate.shards[shard_of(id, aggregate.shards.size())];
  auto caller = impl_->take_caller();
  auto& self = *caller;
  std::optional<result<entity_snapshot>> out;
  bool timed_out = false;
  auto on_snapshot = [&](entity_snapshot& snapshot) { out.emplace(std::move(snapshot)); };
  auto on_error = [&](caf::error& err) { out.emplace(to_failure(err)); };
  auto on_timeout = [&] {
    timed_out = true;
    out.emplace(failure::make(ec::timeout, "no answer within "
                                             + std::to_string(impl_->config_.request_timeout.count())
                                             + " ms"));
  };
  // No timeout on the request itself: CAF would put it into its clock
  // thread's schedule and take it out again, a wake-up of that thread per
  // call. The receive below waits on the caller's own mailbox instead.
  auto handle = command ? self->request(registry, caf::infinite, execute_atom::value, id,
                                        std::move(*command))
                              .id()
                        : self->request(registry, caf::infinite, caf::get_atom::value, id)
                              .id();
  // A blocked caller is woken by the reply (a futex wake, ~5-20 us here);
  // the answer usually comes sooner than that, so look first.
  if (impl_->config_.reply_spin.count() > 0) {
    auto until = std::chrono::steady_clock::now() + impl_->config_.reply_spin;
    while (!self->has_next_message() && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
  }
  caf::blocking_actor::accept_one_cond one;
  self->varargs_receive(one, handle, on_snapshot, on_error,
                        caf::after(impl_->config_.request_timeout) >> on_timeout);
  // A caller whose request timed out would find the late answer in its
  // mailbox later: it is dropped, not reused.
  if (!timed_out)
    impl_->return_caller(std::move(caller));
  // Every failure names the entity, also those that no entity actor gave
  // (this call's timeout, a registry that is closing or gone).
  if (!out->ok() && out->error().entity.is_nil()) {
    auto named = std::move(*out).error();
    named.entity = id;
    return named;
  }
  return std::move(*out);
}

caf::actor application_access::subscribe(application& app, subscriber_actor subscriber,
                                         std::uint64_t after, log_filter filter,
                                         subscription_options options) {
  auto& impl_ = app.impl_;
  require_local(impl_->source_, "a subscription");
  auto last = impl_->store_->last_position();
  if (!last)
    throw_failure(std::move(last).error());
  if (after > *last)
    throw cafes_error{failure::make(
      ec::invalid_argument,
      "cannot subscribe after position " + std::to_string(after)
        + ": the global log ends at " + std::to_string(*last)
        + " (a checkpoint of another store, or of this one before it was replaced?)")};
  auto subscription = spawn_subscription(*impl_->system_, impl_->store_, impl_->hub_, std::move(subscriber), after,
                                         std::move(filter), options);
  std::lock_guard guard{impl_->mutex_};
  std::erase_if(impl_->subscriptions_, [](const caf::weak_actor_ptr& weak) { return !weak.lock(); });
  impl_->subscriptions_.emplace_back(subscription->ctrl());
  return subscription;
}

projection_actor
application_access::run_projection(application& app,
                                   std::shared_ptr<const erased_projection> projection,
                                   projection_options options) {
  auto& impl_ = app.impl_;
  require_local(impl_->source_, "a projection runner");
  if (auto bad = check_view_name(projection->name()))
    throw cafes_error{*bad};
  std::lock_guard guard{impl_->mutex_};
  auto name = std::string{projection->name()};
  if (impl_->projections_.contains(name))
    throw cafes_error{failure::make(ec::invalid_argument,
                                    "projection '" + name + "' already runs here")};
  auto runner = spawn_projection(*impl_->system_, impl_->store_, impl_->hub_, std::move(projection), options);
  impl_->projections_.emplace(std::move(name), runner);
  return runner;
}

projection_actor application_access::projection_runner(application& app,
                                                       std::string_view name) {
  auto& impl_ = app.impl_;
  std::lock_guard guard{impl_->mutex_};
  auto found = impl_->projections_.find(name);
  return found == impl_->projections_.end() ? projection_actor{} : found->second;
}

std::vector<awaited_projection>
application::impl::awaited(const std::vector<std::string>& names) {
  std::vector<awaited_projection> out;
  std::lock_guard guard{mutex_};
  for (const auto& name : names) {
    auto found = projections_.find(name);
    if (found == projections_.end())
      throw cafes_error{failure::make(ec::invalid_argument,
                                      "read-your-writes names projection '" + name
                                        + "', which does not run in this application")};
    out.push_back(awaited_projection{name, caf::actor_cast<caf::actor>(found->second)});
  }
  return out;
}

registry_stats application::stats() {
  registry_stats total;
  caf::scoped_actor self{*impl_->system_};
  std::lock_guard guard{impl_->mutex_};
  for (auto& [name, served] : impl_->registries_)
    for (auto& registry : served.shards)
      self->request(registry, impl_->config_.request_timeout, stats_atom::value)
        .receive(
          [&](const registry_stats& stats) {
            total.resident += stats.resident;
            total.peak_resident += stats.peak_resident;
            total.spawned += stats.spawned;
            total.passivated += stats.passivated;
          },
          [](caf::error&) {});
  return total;
}

const std::vector<registry_actor>&
application_access::shards(const application::served& aggregate) {
  return aggregate.shards;
}

const std::vector<storage_actor>& application_access::storage(const application& app) {
  return app.impl_->storage_;
}

const log_hub_actor& application_access::hub(const application& app) {
  return app.impl_->hub_;
}

std::uint32_t application::log_waiters() const noexcept {
  return impl_->notifier_->waiting.load();
}

const std::shared_ptr<event_store>& application::store() const noexcept {
  return impl_->store_;
}

caf::actor_system& application::system() noexcept {
  return *impl_->system_;
}

const application_config& application::config() const noexcept {
  return impl_->config_;
}

} // namespace cafes
