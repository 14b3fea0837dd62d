#include "cafes/actors/application.hpp"

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

} // namespace

application::application(std::shared_ptr<event_store> store,
                         application_config config)
  : config_(config), store_(std::move(store)),
    system_config_(std::make_unique<caf::actor_system_config>()) {
  check_threads("scheduler_threads", config_.scheduler_threads);
  check_threads("storage_shards", config_.storage_shards);
  auto& cfg = *system_config_;
  cfg.add_message_types<caf::id_block::cafes>();
  add_error_category(cfg);
  // CAF's idle workers poll aggressively by default (100 + 500 attempts);
  // on 2 cores that spinning starves the store threads. 10 aggressive
  // attempts measured ~49k -> ~60k commands/s in cafes-stress (10k
  // entities, 500 clients). The moderate phase is skipped: it sleeps 50 us
  // (~140 us here) between polls and a new message cannot wake it, so every
  // message from a thread outside the scheduler (the storage actors, the
  // synchronous API) waited for it. Without it an idle worker goes straight
  // to its condition variable, which a new job signals: cafes-stress at 1
  // client, p50 105 -> 58 us; at 512 clients no change beyond noise.
  set_option(cfg, "work-stealing.aggressive-poll-attempts", config_.poll_attempts);
  set_option(cfg, "work-stealing.moderate-poll-attempts", std::size_t{0});
  if (config_.scheduler_threads > 0)
    set_option(cfg, "scheduler.max-threads", config_.scheduler_threads);
  system_ = std::make_unique<caf::actor_system>(cfg);
  delays_ = spawn_delay_actor(*system_);
  auto shards = shard_count(config_.storage_shards);
  for (std::size_t i = 0; i < shards; ++i)
    storage_.push_back(spawn_storage_actor(*system_, store_, {config_.max_batch}));
}

application::~application() {
  {
    // Registries first, and wait for them: their entity actors finish what
    // they have queued, which may still need the storage actors.
    std::lock_guard guard{mutex_};
    caf::scoped_actor self{*system_};
    for (auto& [name, shards] : registries_) {
      for (auto& registry : shards)
        self->send_exit(registry, caf::exit_reason::user_shutdown);
      self->wait_for(shards);
    }
    registries_.clear();
  }
  for (auto& storage : storage_)
    caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
  storage_.clear();
  caf::anon_send_exit(delays_, caf::exit_reason::user_shutdown);
  delays_ = nullptr;
  system_.reset(); // waits for every actor
}

const std::vector<registry_actor>&
application::registries(const std::shared_ptr<const erased_aggregate>& aggregate) {
  std::lock_guard guard{mutex_};
  auto found = registries_.find(aggregate->name());
  if (found != registries_.end())
    return found->second;
  entity_options options;
  options.idle_timeout = config_.idle_timeout;
  options.storage_timeout = config_.storage_timeout;
  options.retry = config_.unversioned_retry;
  options.delays = delays_;
  std::vector<registry_actor> shards;
  for (std::size_t i = 0, n = shard_count(config_.registry_shards); i < n; ++i)
    shards.push_back(spawn_registry(*system_, aggregate, storage_, options));
  return registries_.emplace(std::string{aggregate->name()}, std::move(shards))
    .first->second;
}

result<entity_snapshot> application::call(const registry_actor& registry,
                                          const entity_id& id,
                                          std::optional<command_envelope> command) {
  caf::scoped_actor self{*system_};
  std::optional<result<entity_snapshot>> out;
  auto on_snapshot = [&](entity_snapshot& snapshot) { out.emplace(std::move(snapshot)); };
  auto on_error = [&](caf::error& err) { out.emplace(to_failure(err)); };
  if (command)
    self->request(registry, config_.request_timeout, execute_atom::value, id,
                  std::move(*command))
      .receive(on_snapshot, on_error);
  else
    self->request(registry, config_.request_timeout, caf::get_atom::value, id)
      .receive(on_snapshot, on_error);
  return std::move(*out);
}

registry_stats application::stats() {
  registry_stats total;
  caf::scoped_actor self{*system_};
  std::lock_guard guard{mutex_};
  for (auto& [name, shards] : registries_)
    for (auto& registry : shards)
      self->request(registry, config_.request_timeout, stats_atom::value)
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

} // namespace cafes
