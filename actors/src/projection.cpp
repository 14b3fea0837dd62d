#include "cafes/actors/projection.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include <caf/all.hpp>

#include "cafes/actors/errors.hpp"
#include "cafes/actors/log.hpp"

#include <spdlog/spdlog.h>

namespace cafes {

namespace {

struct waiter {
  std::uint64_t position;
  caf::typed_response_promise<std::uint64_t> promise;
};

struct projection_state {
  static inline const char* name = "cafes.projection";
  std::shared_ptr<event_store> store;
  log_hub_actor hub;
  std::shared_ptr<const erased_projection> projection;
  projection_options options;
  log_filter filter;
  /// The checkpoint as stored (what the next commit expects); nothing
  /// until the runner has read or reset it.
  std::optional<view_checkpoint> stored;
  /// Most events per batch: options.batch, then halved each time the store
  /// refuses a commit as too large (etcd: rows per transaction).
  std::size_t batch_limit = std::numeric_limits<std::size_t>::max();
  /// How far the view is projected: at or past `stored.position` (events
  /// the filter passes over move it without a write).
  std::uint64_t position = 0;
  /// Why the runner stopped projecting.
  std::optional<failure> failed;
  std::vector<waiter> waiting;
};

using projection_pointer = projection_actor::stateful_pointer<projection_state>;

/// Most pages read in one go before yielding to other messages.
constexpr int pages_per_step = 16;

std::string name_of(const projection_state& st) {
  return std::string{st.projection->name()};
}

/// Answers the waits the view has reached (all of them, after a failure).
void wake(projection_pointer self) {
  auto& st = self->state;
  std::vector<waiter> still;
  for (auto& w : st.waiting) {
    if (st.failed)
      w.promise.deliver(to_caf_error(*st.failed));
    else if (st.position >= w.position)
      w.promise.deliver(st.position);
    else
      still.push_back(std::move(w));
  }
  st.waiting = std::move(still);
}

void retry_later(projection_pointer self, const failure& why) {
  auto& st = self->state;
  logger()->warn("projection '{}': {}; trying again in {} ms", name_of(st), to_string(why),
                 st.options.retry_delay.count());
  self->delayed_send(self, st.options.retry_delay, next_atom::value);
}

/// Reads the stored checkpoint, and resets the view when it is missing or
/// of another version. Returns false when it has to be tried again.
bool load_checkpoint(projection_pointer self) {
  auto& st = self->state;
  auto current = st.store->read_view_checkpoint(st.projection->name());
  if (!current) {
    retry_later(self, current.error());
    return false;
  }
  if (*current && (*current)->version == st.projection->version()) {
    st.stored = **current;
    st.position = st.stored->position;
    return true;
  }
  if (*current && (*current)->version > st.projection->version()) {
    // Newer code built the view (a rolling deploy): resetting it back
    // would make the two runners wipe each other's view in turns.
    st.failed = failure::make(ec::invalid_argument,
                              "projection '" + name_of(st) + "' version "
                                + std::to_string(st.projection->version())
                                + " does not run: the stored view was built by version "
                                + std::to_string((*current)->version));
    logger()->error("{}", st.failed->message);
    wake(self);
    return false;
  }
  auto reset = st.store->reset_view(st.projection->name(), st.projection->version(), *current);
  if (!reset) {
    if (reset.error().code == ec::conflict) {
      self->send(self, next_atom::value); // another runner got there first
      return false;
    }
    retry_later(self, reset.error());
    return false;
  }
  logger()->info("projection '{}' version {}: rebuilding from position 0", name_of(st),
                 st.projection->version());
  st.stored = *reset;
  st.position = 0;
  return true;
}

/// Writes `changes` and moves the checkpoint to `position`. Returns false
/// when the runner must start over from the stored checkpoint.
bool commit(projection_pointer self, std::uint64_t position, std::size_t events,
            const std::vector<std::pair<std::string, std::optional<std::vector<std::uint8_t>>>>&
              changes) {
  auto& st = self->state;
  std::vector<view_change> out;
  out.reserve(changes.size());
  for (const auto& [key, value] : changes)
    out.push_back(view_change{key, value});
  auto committed = st.store->commit_view(st.projection->name(), *st.stored, position, out);
  if (committed) {
    st.stored = *committed;
    st.position = position;
    return true;
  }
  // Another runner moved the checkpoint, or a failed sync left it unknown:
  // start over from what is stored. Too many rows for one commit: fewer
  // events per batch (at one event, the error stops the runner). Anything
  // else: try again later.
  st.stored.reset();
  if (committed.error().code == ec::invalid_argument) {
    if (events > 1) {
      st.batch_limit = std::max<std::size_t>(1, events / 2);
      self->send(self, next_atom::value);
    } else {
      st.failed = failure::make(ec::invalid_argument,
                                "projection '" + name_of(st) + "' stopped at position "
                                  + std::to_string(st.position) + ": "
                                  + committed.error().message);
      logger()->error("{}", st.failed->message);
      wake(self);
    }
    return false;
  }
  if (committed.error().code == ec::conflict || committed.error().code == ec::unknown_outcome)
    self->send(self, next_atom::value);
  else
    retry_later(self, committed.error());
  return false;
}

void step(projection_pointer self) {
  auto& st = self->state;
  if (st.failed)
    return;
  if (!st.stored) {
    if (!load_checkpoint(self))
      return;
    wake(self); // another runner may have moved the checkpoint far ahead
  }
  const auto name = st.projection->name();
  row_reader read = [&](std::string_view key) {
    auto row = st.store->read_view(name, key);
    if (!row)
      throw row_read_error{std::move(row).error()};
    return std::move(*row);
  };
  for (int pages = 0; pages < pages_per_step; ++pages) {
    // A store with bounded transactions (etcd) takes so many row changes
    // per commit: with one change per event, a batch that size fits.
    auto batch = std::min({st.options.batch, st.store->max_view_changes(), st.batch_limit});
    auto page = st.store->read_all(st.position, batch, st.filter);
    if (!page) {
      retry_later(self, page.error());
      return;
    }
    if (page->events.empty()) {
      if (page->next_after == st.position) {
        // Everything is read. Events the filter passed over moved the view
        // without a write: store that before waiting, so the checkpoint
        // says how far the view is.
        if (st.position > st.stored->position && !commit(self, st.position, 0, {}))
          return;
        // Wait for the next commit.
        self->request(st.hub, caf::infinite, wait_atom::value, st.position)
          .then([=](std::uint64_t) { step(self); },
                [=](caf::error& err) { retry_later(self, to_failure(err)); });
        return;
      }
      st.position = page->next_after; // a stretch the filter passed over
      wake(self);
      continue;
    }
    auto projected = st.projection->project(read, page->events);
    auto reached = projected.failed ? page->events[projected.applied].position - 1
                                    : page->next_after;
    if (projected.failed
        && (projected.failed->code == ec::storage_failure
            || projected.failed->code == ec::storage_unavailable
            || projected.failed->code == ec::timeout)) {
      // Reading a row failed: nothing of this batch is written.
      retry_later(self, *projected.failed);
      return;
    }
    if (projected.failed) {
      // Rows read while another runner of this projection committed are
      // ahead of our checkpoint: that failure is ours, not the event's.
      auto now = st.store->read_view_checkpoint(name);
      if (!now || !*now || **now != *st.stored) {
        st.stored.reset();
        self->send(self, next_atom::value);
        return;
      }
    }
    if (reached > st.stored->position && !commit(self, reached, page->events.size(), projected.changes))
      return;
    st.position = std::max(st.position, reached);
    if (projected.failed) {
      st.failed = failure::make(projected.failed->code,
                                "projection '" + std::string{name} + "' stopped at position "
                                  + std::to_string(reached) + ": "
                                  + projected.failed->message);
      logger()->error("{}", st.failed->message);
      wake(self);
      return;
    }
    wake(self);
  }
  self->send(self, next_atom::value); // let others run, then go on
}

projection_actor::behavior_type
projection_behavior(projection_pointer self, std::shared_ptr<event_store> store,
                    log_hub_actor hub, std::shared_ptr<const erased_projection> projection,
                    projection_options options) {
  auto& st = self->state;
  st.store = std::move(store);
  st.hub = std::move(hub);
  st.projection = std::move(projection);
  st.options = options;
  if (st.options.batch == 0)
    st.options.batch = 1;
  st.filter.event_types = st.projection->event_types();
  self->send(self, next_atom::value);
  return {
    [=](wait_atom, std::uint64_t position) -> caf::result<std::uint64_t> {
      auto& st = self->state;
      if (st.failed)
        return to_caf_error(*st.failed);
      if (position == 0) {
        auto last = st.store->last_position();
        if (!last)
          return to_caf_error(last.error());
        position = *last;
      }
      if (st.position >= position)
        return st.position;
      auto promise = self->make_response_promise<std::uint64_t>();
      st.waiting.push_back({position, promise});
      return promise;
    },
    [=](next_atom) { step(self); },
  };
}

} // namespace

projection_actor spawn_projection(caf::actor_system& system, std::shared_ptr<event_store> store,
                                  log_hub_actor hub,
                                  std::shared_ptr<const erased_projection> projection,
                                  projection_options options) {
  // A store whose writes wait for a device (a synced commit per batch,
  // and a rebuild's row deletions) gets the runner its own thread, like
  // the storage actors: the scheduler's threads serve the entity actors.
  if (store->appends_wait_for_device())
    return system.spawn<caf::detached>(projection_behavior, std::move(store), std::move(hub),
                                       std::move(projection), options);
  return system.spawn(projection_behavior, std::move(store), std::move(hub),
                      std::move(projection), options);
}

} // namespace cafes
