#pragma once
// The application's typed actor handles, for message-driven code: registry
// shards, entity_ref<A>, the storage actors, the log hub, subscriptions and
// projection runners. The synchronous API (application, repository<A>) is in
// repository.hpp, which needs no CAF header; this one includes CAF's typed
// actor headers.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/fwd.hpp>

#include "cafes/actors/delay_actor.hpp"
#include "cafes/actors/entity_ref.hpp"
#include "cafes/actors/errors.hpp"
#include "cafes/actors/projection.hpp"
#include "cafes/actors/registry.hpp"
#include "cafes/actors/repository.hpp"
#include "cafes/actors/storage_actor.hpp"
#include "cafes/actors/subscription.hpp"

namespace cafes {

/// Registers what cafes sends between actors (its message types and its
/// error category) in `config`. Call it on the configuration of an actor
/// system that an application is to run in (see the embedding constructor),
/// before that system is made.
void configure(caf::actor_system_config& config);

/// Applies `app_config`'s scheduler settings (scheduler_threads,
/// poll_attempts) to `config`, as the application does to the actor system
/// it makes itself; for a program that makes the system (see the embedding
/// constructor). Throws cafes_error with ec::invalid_argument when
/// scheduler_threads is above max_application_threads or CAF refuses a
/// setting.
void configure_scheduler(caf::actor_system_config& config, const application_config& app_config);

/// Where a remote application's registries come from (see the application
/// constructor that takes one; cafes::net implements it).
class registry_source {
public:
  virtual ~registry_source() = default;

  /// Returns the registry shards (at least one) that serve `aggregate` for
  /// an application running in `system`; called once per aggregate, on
  /// its first use. The application stops them when it closes (an exit
  /// message, then waits for them). Throws cafes_error when `aggregate`
  /// cannot be served; the application passes that on from `serve`.
  virtual std::vector<registry_actor>
  shards(caf::actor_system& system, const std::shared_ptr<const erased_aggregate>& aggregate) = 0;
};

/// What the typed handles below read of an application (application.cpp).
struct application_access {
  static const std::vector<registry_actor>& shards(const application::served& aggregate);
  static const std::vector<storage_actor>& storage(const application& app);
  static const log_hub_actor& hub(const application& app);
  static caf::actor subscribe(application& app, subscriber_actor subscriber,
                              std::uint64_t after, log_filter filter,
                              subscription_options options);
  static projection_actor run_projection(application& app,
                                         std::shared_ptr<const erased_projection> projection,
                                         projection_options options);
  static projection_actor projection_runner(application& app, std::string_view name);
};

template <aggregate A>
const auto& application::registries() {
  return application_access::shards(serve(erase<A>()));
}

template <aggregate A>
auto application::ref(const entity_id& id) {
  const auto& shards = registries<A>();
  return entity_ref<A>{id, shards[shard_of(id, shards.size())]};
}

inline const auto& application::storage() const noexcept {
  return application_access::storage(*this);
}

inline const auto& application::hub() const noexcept {
  return application_access::hub(*this);
}

template <class Subscriber>
caf::actor application::subscribe(Subscriber subscriber, std::uint64_t after,
                                  log_filter filter, subscription_options options) {
  return application_access::subscribe(*this, subscriber_actor{std::move(subscriber)}, after,
                                       std::move(filter), options);
}

template <projection P>
auto application::run_projection(projection_options options) {
  return application_access::run_projection(*this, erase_projection<P>(), options);
}

inline auto application::run_projection(std::shared_ptr<const erased_projection> projection,
                                        projection_options options) {
  return application_access::run_projection(*this, std::move(projection), options);
}

inline auto application::projection_runner(std::string_view name) {
  return application_access::projection_runner(*this, name);
}

template <class A>
auto repository<A>::ref(const entity_id& id) const {
  return entity_ref<A>{id, shard(id)};
}

template <class A>
const auto& repository<A>::shard(const entity_id& id) const {
  const auto& shards = application_access::shards(*served_);
  return shards[shard_of(id, shards.size())];
}

} // namespace cafes
