#include "cafes/actors/storage_actor.hpp"

#include <algorithm>
#include <chrono>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"
#include "cafes/actors/log.hpp"

#include <spdlog/spdlog.h>

namespace cafes {

namespace {

/// Requests taken from the mailbox since the last batch, with their promises.
struct batch {
  std::vector<append_request> appends;
  std::vector<caf::response_promise> append_promises;
  struct read {
    entity_id entity;
    std::uint64_t from = 1;
    std::uint64_t to = last_version;
    bool head_only = false;
    caf::response_promise promise;
  };
  std::vector<read> reads;

  bool empty() const { return appends.empty() && reads.empty(); }
};

template <class T>
void deliver(caf::response_promise& promise, result<T>&& outcome) {
  if (outcome)
    promise.deliver(std::move(*outcome));
  else
    promise.deliver(to_caf_error(outcome.error()));
}

/// Runs the batch on the store and answers every request in it. Appends go
/// first, so a read sees every append taken before it.
void execute(event_store& store, batch& work, const storage_actor_options& options) {
  auto* direct = options.direct.get();
  auto* notifier = options.notifier.get();
  if (!work.appends.empty()) {
    auto started = std::chrono::steady_clock::now();
    auto outcomes = store.append_batch(work.appends);
    if (options.commits)
      options.commits->record(work.appends.size(), std::chrono::steady_clock::now() - started);
    if (notifier && std::any_of(outcomes.begin(), outcomes.end(),
                                [](const auto& outcome) { return outcome.ok(); }))
      notifier->appended();
    // Conflicts are answers; a store that fails to write is news, once per
    // batch (a full disk fails every append of every batch).
    std::size_t failed = 0;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      auto& outcome = outcomes[i];
      if (!outcome && outcome.error().code != ec::conflict
          && outcome.error().code != ec::invalid_argument && failed++ == 0)
        logger()->warn("append failed: {}", to_string(outcome.error()));
      deliver(work.append_promises[i], std::move(outcome));
    }
    if (failed > 1)
      logger()->warn("{} appends of this group commit failed", failed);
    if (direct)
      direct->answered(work.appends.size());
  }
  // Histories in one read_batch (one round trip on etcd), heads alone.
  std::vector<read_request> histories;
  for (const auto& read : work.reads)
    if (!read.head_only)
      histories.push_back({read.entity, read.from, read.to});
  auto read_back = histories.empty() ? std::vector<result<std::vector<event_record>>>{}
                                     : store.read_batch(histories);
  std::size_t next = 0;
  for (auto& read : work.reads) {
    if (read.head_only)
      deliver(read.promise, store.head(read.entity));
    else
      deliver(read.promise, std::move(read_back[next++]));
  }
  work.appends.clear();
  work.append_promises.clear();
  work.reads.clear();
}

void storage_loop(caf::blocking_actor* self, std::shared_ptr<event_store> store,
                  storage_actor_options options) {
  batch work;
  bool running = true;
  auto on_append = [&](append_atom, append_request& request) {
    work.appends.push_back(std::move(request));
    work.append_promises.push_back(self->make_response_promise());
    return work.append_promises.back();
  };
  auto on_read = [&](read_atom, const entity_id& entity, std::uint64_t from,
                     std::uint64_t to) {
    work.reads.push_back({entity, from, to, false, self->make_response_promise()});
    return work.reads.back().promise;
  };
  auto on_head = [&](head_atom, const entity_id& entity) {
    work.reads.push_back({entity, 1, last_version, true, self->make_response_promise()});
    return work.reads.back().promise;
  };
  auto on_exit = [&](caf::exit_msg& msg) {
    running = false;
    self->fail_state(msg.reason);
  };
  while (running) {
    self->receive(on_append, on_read, on_head, on_exit); // waits for work
    // Take what else is queued, without waiting: that is the group commit.
    // The mailbox is checked first because a receive with a zero timeout
    // on an empty mailbox is a timed futex wait that returned only after
    // ~100-200 us here (timer slack), on every command at low load.
    bool drained = false;
    while (running && !drained && work.appends.size() < options.max_batch
           && self->has_next_message())
      self->receive(on_append, on_read, on_head, on_exit,
                    caf::after(std::chrono::seconds{0}) >> [&] { drained = true; });
    execute(*store, work, options);
  }
}

} // namespace

storage_actor spawn_storage_actor(caf::actor_system& system,
                                  std::shared_ptr<event_store> store,
                                  storage_actor_options options) {
  // Dynamically typed inside (a blocking actor), storage_actor outside: it
  // handles exactly the messages of that protocol.
  return caf::actor_cast<storage_actor>(
    system.spawn<caf::detached>(storage_loop, std::move(store), options));
}

} // namespace cafes
