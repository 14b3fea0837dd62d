#include "cafes/tools/stress.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include <caf/all.hpp>

#include "cafes/tools/cli.hpp"
#include "cafes_samples/tally.hpp"

using namespace cafes_samples;

namespace cafes::stress {

namespace {

using tools::with_commas;

using clock = std::chrono::steady_clock;

struct acknowledgement {
  std::uint64_t entity = 0;
  uuid command;
  std::uint64_t version = 0;
  tally::state state;
};

/// One event as a subscriber got it: its position, and a digest of what
/// identifies it (entity, version, event id): 16 bytes per event and
/// subscriber instead of 48, for runs that deliver millions.
struct delivery {
  std::uint64_t position = 0;
  std::uint64_t digest = 0;
};

std::uint64_t digest_of(const event_record& event) {
  std::uint64_t h = 0;
  for (auto word : {event.entity.high, event.entity.low, event.version, event.id.high,
                    event.id.low}) {
    h ^= word + 0x9E3779B97F4A7C15ULL; // splitmix64's finalizer on each word
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
  }
  return h;
}

/// What one subscriber saw. Its actor writes the plain fields; the run
/// reads the atomics while it goes, and the rest once the application has
/// closed (every actor has ended then).
struct subscriber_record {
  std::atomic<std::uint64_t> reached{0}; ///< highest position delivered
  std::atomic<bool> ended{false};        ///< its subscription has ended
  caf::error end_reason;                 ///< why; written before `ended`
  std::uint64_t last = 0;                ///< the position delivered last
  std::vector<delivery> deliveries;      ///< in delivery order
  std::vector<std::uint32_t> lag_us;     ///< of the run's events
  clock::time_point last_delivery{};
};

/// What all clients of one run share. Clients write only atomics here until
/// they finish; then they merge their own records under `mutex`.
struct shared_run {
  const options* opts = nullptr;
  std::vector<registry_actor> registries;
  std::vector<double> zipf_cdf;
  /// True once no client may send a new command.
  bool stopping() const {
    return opts->stop != nullptr && opts->stop->load(std::memory_order_relaxed);
  }
  /// Highest acknowledged version per entity; versions only grow, so one
  /// below it is certainly stale.
  std::unique_ptr<std::atomic<std::uint64_t>[]> acked_version;
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> next_sequential{0};
  std::atomic<std::uint64_t> conflicts{0};

  std::mutex mutex;
  std::condition_variable finished;
  std::uint64_t clients_left = 0;
  std::vector<acknowledgement> acks;
  std::vector<std::unique_ptr<subscriber_record>> subscribers;
  std::vector<uuid> refused;         // conflicts and rejections
  std::vector<uuid> unknown_outcome; // timeouts, storage failures
  std::vector<std::uint32_t> latencies_us;
  std::vector<std::string> violations;
  report counts;
  std::map<ec, clock::time_point> first_error_at;

  std::uint64_t pick(std::mt19937_64& rng) {
    if (opts->keys == key_distribution::sequential)
      return next_sequential.fetch_add(1, std::memory_order_relaxed) % opts->entities;
    if (zipf_cdf.empty())
      return std::uniform_int_distribution<std::uint64_t>{0, opts->entities - 1}(rng);
    auto u = std::uniform_real_distribution<double>{0.0, zipf_cdf.back()}(rng);
    auto it = std::lower_bound(zipf_cdf.begin(), zipf_cdf.end(), u);
    return std::min<std::uint64_t>(static_cast<std::uint64_t>(it - zipf_cdf.begin()),
                                   opts->entities - 1);
  }
};

struct client_state {
  static inline const char* name = "cafes.stress.client";

  shared_run* run = nullptr;
  std::mt19937_64 rng;
  std::uint64_t remaining = 0;
  std::uint64_t outstanding = 0;
  std::vector<acknowledgement> acks;
  std::vector<uuid> refused;
  std::vector<uuid> unknown_outcome;
  std::vector<std::uint32_t> latencies_us;
  std::vector<std::string> violations;
  report counts;
  std::map<ec, clock::time_point> first_error_at; // when counts.errors[code] began
};

using client_pointer = caf::stateful_actor<client_state>*;

void finish(client_pointer self) {
  auto& st = self->state;
  auto& run = *st.run;
  {
    std::lock_guard guard{run.mutex};
    auto append = [](auto& to, auto& from) {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    };
    append(run.acks, st.acks);
    append(run.refused, st.refused);
    append(run.unknown_outcome, st.unknown_outcome);
    append(run.latencies_us, st.latencies_us);
    append(run.violations, st.violations);
    run.counts.commands += st.counts.commands;
    run.counts.acknowledged += st.counts.acknowledged;
    run.counts.conflicts += st.counts.conflicts;
    run.counts.stale_sent += st.counts.stale_sent;
    run.counts.rejections += st.counts.rejections;
    run.counts.other_errors += st.counts.other_errors;
    for (const auto& [code, errors] : st.counts.errors) {
      auto& merged = run.counts.errors[code];
      auto at = st.first_error_at[code];
      auto [first, fresh] = run.first_error_at.try_emplace(code, at);
      if (fresh || at < first->second) {
        first->second = at;
        merged.first_message = errors.first_message;
      }
      merged.count += errors.count;
    }
    run.counts.unsent += st.remaining;
    --run.clients_left;
  }
  run.finished.notify_all();
  self->quit();
}

void send_next(client_pointer self);

void on_answer(client_pointer self, clock::time_point start) {
  auto& st = self->state;
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - start);
  st.latencies_us.push_back(static_cast<std::uint32_t>(
    std::min<std::int64_t>(micros.count(), std::numeric_limits<std::uint32_t>::max())));
  ++st.counts.commands;
  st.run->answered.fetch_add(1, std::memory_order_relaxed);
  --st.outstanding;
  if (st.remaining > 0 && !st.run->stopping())
    send_next(self);
  else if (st.outstanding == 0)
    finish(self);
}

void send_next(client_pointer self) {
  auto& st = self->state;
  auto& run = *st.run;
  --st.remaining;
  ++st.outstanding;
  auto index = run.pick(st.rng);
  auto id = entity_of(run.opts->entity_seed.value_or(run.opts->seed), index);
  auto known = run.acked_version[index].load(std::memory_order_relaxed);
  bool stale = std::uniform_real_distribution<double>{0.0, 1.0}(st.rng)
                 < run.opts->stale_fraction
               && known >= 1;
  auto expected = stale                                ? known - 1
                  : known > 0 && run.opts->versioned ? known
                                                     : any_version;
  st.counts.stale_sent += stale ? 1 : 0;
  uuid command_id{st.rng(), st.rng()};
  auto amount = static_cast<std::int64_t>(1 + st.rng() % 100);
  auto start = clock::now();
  const auto& registry = run.registries[shard_of(id, run.registries.size())];
  auto timeout = run.opts->command_timeout.count() > 0
                   ? caf::duration{run.opts->command_timeout}
                   : caf::duration{caf::infinite};
  self
    ->request(registry, timeout, execute_atom::value, id,
              command_envelope{
                cafes::encode_command(tally::counter::command{tally::add{command_id, amount}}),
                expected})
    .then(
      [=](entity_snapshot& snapshot) {
        auto& st = self->state;
        if (stale)
          st.violations.push_back("stale command " + to_string(command_id)
                                  + " was accepted at version "
                                  + std::to_string(snapshot.version));
        ++st.counts.acknowledged;
        auto state = cafes::decode_state<tally::state>(snapshot.state, tally::counter::name);
        if (!state) {
          st.violations.push_back("the answer to command " + to_string(command_id)
                                  + " does not decode: " + state.error().message);
          return;
        }
        st.acks.push_back({index, command_id, snapshot.version, std::move(*state)});
        auto& slot = st.run->acked_version[index];
        auto seen = slot.load(std::memory_order_relaxed);
        while (seen < snapshot.version
               && !slot.compare_exchange_weak(seen, snapshot.version))
          ;
        on_answer(self, start);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        auto problem = to_failure(err);
        if (problem.code == ec::conflict) {
          ++st.counts.conflicts;
          st.run->conflicts.fetch_add(1, std::memory_order_relaxed);
          st.refused.push_back(command_id);
        } else if (problem.code == ec::rejected) {
          ++st.counts.rejections;
          st.refused.push_back(command_id);
        } else {
          ++st.counts.other_errors;
          auto& errors = st.counts.errors[problem.code];
          if (errors.count++ == 0) {
            errors.first_message = problem.message;
            st.first_error_at[problem.code] = clock::now();
          }
          st.unknown_outcome.push_back(command_id);
        }
        if (stale && problem.code != ec::conflict)
          st.violations.push_back("stale command " + to_string(command_id)
                                  + " got " + to_string(problem) + " instead of a conflict");
        on_answer(self, start);
      });
}

caf::behavior client(client_pointer self, shared_run* run, std::uint64_t seed) {
  auto& st = self->state;
  st.run = run;
  st.rng.seed(seed);
  st.remaining = run->opts->commands_per_client;
  auto window = std::max<std::uint64_t>(run->opts->in_flight, 1);
  for (std::uint64_t i = 0; i < window && st.remaining > 0 && !run->stopping(); ++i)
    send_next(self);
  if (st.outstanding == 0)
    finish(self);
  // Clients receive only answers to their own requests.
  return {[](stop_atom) {}};
}

/// Follows the global log from position 0 into `record`; events after
/// `log_start` are the run's (their lag counts).
subscriber_actor::behavior_type subscriber(subscriber_actor::pointer,
                                           subscriber_record* record,
                                           std::uint64_t log_start) {
  return {
    [=](log_events_atom, const std::vector<event_record>& batch) -> std::uint64_t {
      auto& rec = *record;
      auto now = now_ns();
      for (const auto& event : batch) {
        rec.last = event.position;
        rec.deliveries.push_back({event.position, digest_of(event)});
        if (event.position > log_start) {
          auto lag = std::clamp<std::int64_t>((now - event.timestamp_ns) / 1000, 0,
                                              std::numeric_limits<std::uint32_t>::max());
          rec.lag_us.push_back(static_cast<std::uint32_t>(lag));
        }
      }
      rec.last_delivery = clock::now();
      if (rec.last > rec.reached.load(std::memory_order_relaxed))
        rec.reached.store(rec.last, std::memory_order_release);
      return rec.last;
    },
  };
}

void print_progress(const options& opts, std::uint64_t done, double seconds,
                    std::uint64_t conflicts, std::uint64_t resident) {
  auto total = opts.clients * opts.commands_per_client;
  auto rate = with_commas(seconds > 0 ? static_cast<std::uint64_t>(done / seconds) : 0);
  if (opts.progress == progress_display::lines) {
    std::fprintf(stderr, "progress: %s of %s commands answered, %s/s, conflicts %s, "
                         "resident %s\n",
                 with_commas(done).c_str(), with_commas(total).c_str(), rate.c_str(),
                 with_commas(conflicts).c_str(), with_commas(resident).c_str());
    return;
  }
  auto fraction = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
  constexpr int width = 30;
  auto filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r[%s] %3.0f%% %s/%s cmds  %s/s  conflicts %s  resident %s   ",
               bar.c_str(), fraction * 100, with_commas(done).c_str(),
               with_commas(total).c_str(), rate.c_str(), with_commas(conflicts).c_str(),
               with_commas(resident).c_str());
}

double percentile(std::vector<std::uint32_t>& sorted, double q) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void add_violation(report& out, std::string text) {
  constexpr std::size_t shown = 20; // the rest are counted, not listed
  if (out.violations.size() < shown)
    out.violations.push_back(std::move(text));
  else if (out.violations.size() == shown)
    out.violations.push_back("... more violations not listed");
}

/// The global log holds positions 1..N without a gap, and each of the run's
/// events (`placed`: position, entity, version as the entity's read gave
/// them) at its own position. The store may hold events of earlier runs too.
/// Fills `digests` (when given) with each position's digest_of, at index
/// position - 1.
template <class Placed>
void verify_global_log(event_store& store, std::vector<Placed>& placed,
                       std::vector<std::uint64_t>* digests, report& out) {
  std::sort(placed.begin(), placed.end(),
            [](const auto& a, const auto& b) { return a.position < b.position; });
  auto next = placed.begin();
  std::uint64_t after = 0;
  for (;;) {
    auto page = store.read_all(after, 4096);
    if (!page) {
      add_violation(out, "read of the global log after position " + std::to_string(after)
                           + " failed: " + to_string(page.error()));
      return;
    }
    for (const auto& event : page->events) {
      if (event.position != after + 1)
        add_violation(out, "the global log has position " + std::to_string(event.position)
                             + " after " + std::to_string(after));
      after = event.position;
      if (digests != nullptr && event.position > 0) {
        if (digests->size() < event.position)
          digests->resize(event.position, 0);
        (*digests)[event.position - 1] = digest_of(event);
      }
      for (; next != placed.end() && next->position <= event.position; ++next)
        if (next->position != event.position || next->entity != event.entity
            || next->version != event.version)
          add_violation(out, "entity " + to_string(next->entity) + " version "
                               + std::to_string(next->version) + " says position "
                               + std::to_string(next->position)
                               + ", which the global log does not hold for it");
    }
    if (page->next_after == after && page->events.empty())
      break;
    after = page->next_after;
  }
  for (; next != placed.end(); ++next)
    add_violation(out, "entity " + to_string(next->entity) + " version "
                         + std::to_string(next->version) + " has position "
                         + std::to_string(next->position) + ", past the global log's end "
                         + std::to_string(after));
}

/// Each subscriber got, at each position, the event the global log holds
/// there (`digests`, from verify_global_log). Their order is check_order's
/// part, how far they got wait_for_subscribers'.
void verify_deliveries(event_store& store, const shared_run& run,
                       const std::vector<std::uint64_t>& digests, report& out) {
  for (std::size_t i = 0; i < run.subscribers.size(); ++i) {
    auto name = "subscriber " + std::to_string(i + 1);
    int reported = 0; // per subscriber: a broken one must not hide the others
    for (const auto& got : run.subscribers[i]->deliveries) {
      if (reported == 3)
        break;
      if (got.position == 0 || got.position > digests.size()
          || digests[got.position - 1] == 0) {
        add_violation(out, name + " got position " + std::to_string(got.position)
                             + ", which the global log does not hold");
        ++reported;
      } else if (digests[got.position - 1] != got.digest) {
        std::string held;
        if (auto page = store.read_all(got.position - 1, 1);
            page && !page->events.empty())
          held = " (entity " + to_string(page->events[0].entity) + " version "
                 + std::to_string(page->events[0].version) + " event "
                 + to_string(page->events[0].id) + ")";
        add_violation(out, name + " got another event at position "
                             + std::to_string(got.position) + " than the global log holds"
                             + held);
        ++reported;
      }
    }
  }
}

void verify(event_store& store, shared_run& run, report& out) {
  const auto& opts = *run.opts;
  for (auto& v : run.violations)
    add_violation(out, std::move(v));
  auto by_command = [](const acknowledgement& a, const acknowledgement& b) {
    return a.command < b.command;
  };
  std::sort(run.acks.begin(), run.acks.end(), by_command);
  std::sort(run.refused.begin(), run.refused.end());
  std::sort(run.unknown_outcome.begin(), run.unknown_outcome.end());
  std::vector<std::uint8_t> stored_times(run.acks.size(), 0);
  // The last state each entity's actor reported: the acknowledgement with
  // the highest version.
  std::vector<std::int64_t> last_report(opts.entities, -1);
  for (std::size_t i = 0; i < run.acks.size(); ++i) {
    auto& slot = last_report[run.acks[i].entity];
    if (slot < 0 || run.acks[static_cast<std::size_t>(slot)].version < run.acks[i].version)
      slot = static_cast<std::int64_t>(i);
  }
  std::vector<uuid> event_ids;
  struct placed_event {
    std::uint64_t position;
    entity_id entity;
    std::uint64_t version;
  };
  std::vector<placed_event> placed; // where the run's events sit in the log
  auto check_entity = [&](std::uint64_t index, const entity_id& id,
                          const result<std::vector<event_record>>& events) {
    if (!events) {
      add_violation(out, "read of entity " + to_string(id) + " failed: "
                           + to_string(events.error()));
      return;
    }
    out.events += events->size();
    const acknowledgement* reported = last_report[index] < 0
      ? nullptr : &run.acks[static_cast<std::size_t>(last_report[index])];
    if (reported && reported->version > events->size())
      add_violation(out, "entity " + to_string(id) + " acknowledged version "
                           + std::to_string(reported->version) + " but the store has "
                           + std::to_string(events->size()) + " events");
    tally::state rebuilt;
    for (std::size_t i = 0; i < events->size(); ++i) {
      const auto& record = (*events)[i];
      if (record.version != i + 1)
        add_violation(out, "entity " + to_string(id) + " has version "
                             + std::to_string(record.version) + " at position "
                             + std::to_string(i + 1));
      event_ids.push_back(record.id);
      placed.push_back({record.position, id, record.version});
      auto decoded = decode<tally::counter::event>(record);
      if (!decoded) {
        add_violation(out, to_string(decoded.error()));
        continue;
      }
      const auto& event = std::get<tally::added>(*decoded);
      rebuilt = tally::counter::evolve(rebuilt, *decoded);
      auto ack = std::lower_bound(run.acks.begin(), run.acks.end(),
                                  acknowledgement{0, event.command_id, 0, {}}, by_command);
      if (ack != run.acks.end() && ack->command == event.command_id) {
        ++stored_times[static_cast<std::size_t>(ack - run.acks.begin())];
        if (ack->entity != index || ack->version != record.version)
          add_violation(out, "command " + to_string(event.command_id)
                               + " acknowledged at version " + std::to_string(ack->version)
                               + " is stored at version " + std::to_string(record.version));
      } else if (std::binary_search(run.refused.begin(), run.refused.end(), event.command_id)) {
        add_violation(out, "refused command " + to_string(event.command_id)
                             + " is stored in entity " + to_string(id) + " at version "
                             + std::to_string(record.version));
      } else if (opts.shared) {
        ++out.foreign_events; // another process's command
      } else if (!std::binary_search(run.unknown_outcome.begin(),
                                     run.unknown_outcome.end(), event.command_id)) {
        add_violation(out, "entity " + to_string(id) + " holds an event of command "
                             + to_string(event.command_id) + " that nobody sent");
      }
      if (reported && reported->version == record.version && !(rebuilt == reported->state))
        add_violation(out, "entity " + to_string(id) + " rebuilt at version "
                             + std::to_string(record.version) + " has total "
                             + std::to_string(rebuilt.total) + ", its actor reported "
                             + std::to_string(reported->state.total));
    }
  };
  // One read_batch per chunk of entities: on etcd a round trip per 64
  // histories instead of one per entity.
  constexpr std::uint64_t read_chunk = 256;
  std::vector<read_request> chunk;
  for (std::uint64_t first = 0; first < opts.entities; first += read_chunk) {
    chunk.clear();
    for (auto index = first; index < std::min(opts.entities, first + read_chunk); ++index)
      chunk.push_back({entity_of(opts.entity_seed.value_or(opts.seed), index)});
    auto histories = store.read_batch(chunk);
    for (std::size_t k = 0; k < chunk.size(); ++k)
      check_entity(first + k, chunk[k].entity, histories[k]);
  }
  for (std::size_t i = 0; i < stored_times.size(); ++i)
    if (stored_times[i] != 1)
      add_violation(out, "acknowledged command " + to_string(run.acks[i].command)
                           + " is stored " + std::to_string(stored_times[i]) + " times");
  std::sort(event_ids.begin(), event_ids.end());
  if (auto dup = std::adjacent_find(event_ids.begin(), event_ids.end()); dup != event_ids.end())
    add_violation(out, "event id " + to_string(*dup) + " is stored twice");
  std::vector<std::uint64_t> digests;
  if (opts.global_log)
    verify_global_log(store, placed, run.subscribers.empty() ? nullptr : &digests, out);
  if (!run.subscribers.empty())
    verify_deliveries(store, run, digests, out);
  out.verified = true;
}

/// Starts a subscription from position 0 for each of `run.subscribers`.
void subscribe_all(application& app, shared_run& run, std::uint64_t log_start) {
  for (std::size_t i = 0; i < run.subscribers.size(); ++i) {
    auto* record = run.subscribers[i].get();
    auto follower = app.system().spawn(subscriber, record, log_start);
    auto subscription = app.subscribe(follower, 0);
    subscription->attach_functor([record](const caf::error& reason) {
      record->end_reason = reason;
      record->ended.store(true, std::memory_order_release);
    });
  }
}

/// After the last answer: waits until every subscriber has reached the
/// log's last position, or its subscription has ended, or no subscriber
/// has moved for opts.subscriber_stall. Those that fall short are
/// violations.
void wait_for_subscribers(application& app, shared_run& run, report& out) {
  const auto& opts = *run.opts;
  auto& delivery = out.delivery;
  auto last = app.store()->last_position();
  if (!last) {
    add_violation(out, "reading the global log's last position failed: "
                         + to_string(last.error()));
    return;
  }
  delivery.log_end = *last;
  auto began = clock::now();
  auto moved = began;
  auto shown = began;
  std::uint64_t progress = 0;
  for (;;) {
    std::uint64_t sum = 0;
    std::uint64_t slowest = delivery.log_end;
    bool waiting = false;
    for (const auto& record : run.subscribers) {
      auto reached = record->reached.load(std::memory_order_acquire);
      sum += reached;
      if (reached < delivery.log_end && !record->ended.load(std::memory_order_acquire)) {
        waiting = true;
        slowest = std::min(slowest, reached);
      }
    }
    if (!waiting)
      break;
    auto now = clock::now();
    if (sum != progress) {
      progress = sum;
      moved = now;
    } else if (now - moved >= opts.subscriber_stall) {
      break;
    }
    if (opts.progress != progress_display::none && now - shown >= std::chrono::seconds{1}) {
      shown = now;
      std::fprintf(stderr, "progress: waiting for subscribers: the slowest is at "
                           "position %s of %s\n",
                   with_commas(slowest).c_str(), with_commas(delivery.log_end).c_str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  delivery.catch_up_seconds = std::chrono::duration<double>(clock::now() - began).count();
  for (std::size_t i = 0; i < run.subscribers.size(); ++i) {
    const auto& record = *run.subscribers[i];
    auto reached = record.reached.load(std::memory_order_acquire);
    if (reached >= delivery.log_end)
      continue;
    auto text = "subscriber " + std::to_string(i + 1) + " reached position "
                + std::to_string(reached) + " of the log's " + std::to_string(delivery.log_end)
                + ": ";
    if (record.ended.load(std::memory_order_acquire))
      text += "its subscription ended: " + app.system().render(record.end_reason);
    else
      text += "no subscriber moved for "
              + std::to_string(opts.subscriber_stall.count()) + " ms";
    add_violation(out, std::move(text));
  }
}

/// A subscriber got positions 1, 2, 3, ... up to the highest it got, each
/// once and in order. Leaves `got` sorted by position.
void check_order(std::vector<delivery>& got, const std::string& name, report& out) {
  constexpr int shown = 5; // per subscriber; a broken one must not hide the others
  int reported = 0;
  auto report_one = [&](std::string text) {
    if (reported++ < shown)
      add_violation(out, name + " " + std::move(text));
  };
  for (std::size_t k = 1; k < got.size(); ++k)
    if (got[k].position < got[k - 1].position)
      report_one("got position " + std::to_string(got[k].position) + " after "
                 + std::to_string(got[k - 1].position) + ": out of order");
  std::stable_sort(got.begin(), got.end(),
                   [](const delivery& a, const delivery& b) { return a.position < b.position; });
  std::uint64_t expected = 1;
  for (std::size_t k = 0; k < got.size();) {
    auto position = got[k].position;
    auto end = k;
    while (end < got.size() && got[end].position == position)
      ++end;
    if (position > expected)
      report_one("never got position" + std::string{position - expected > 1 ? "s " : " "}
                 + std::to_string(expected)
                 + (position - expected > 1 ? " to " + std::to_string(position - 1) : ""));
    if (end - k > 1)
      report_one("got position " + std::to_string(position) + " " + std::to_string(end - k)
                 + " times");
    expected = position + 1;
    k = end;
  }
  if (reported > shown)
    add_violation(out, name + ": " + std::to_string(reported - shown)
                         + " more order violations");
}

/// Rates, lag and order of the subscribers' deliveries, once their actors
/// have ended.
void summarize_deliveries(shared_run& run, clock::time_point subscribed, report& out) {
  auto& delivery = out.delivery;
  delivery.subscribers = run.subscribers.size();
  std::vector<std::uint32_t> lags;
  double slowest = -1;
  for (std::size_t i = 0; i < run.subscribers.size(); ++i) {
    auto& record = run.subscribers[i];
    check_order(record->deliveries, "subscriber " + std::to_string(i + 1), out);
    auto count = record->deliveries.size();
    delivery.delivered += count;
    double seconds = 0;
    if (count > 0) {
      seconds = std::chrono::duration<double>(record->last_delivery - subscribed).count();
      delivery.seconds = std::max(delivery.seconds, seconds);
    }
    auto rate = seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
    slowest = slowest < 0 ? rate : std::min(slowest, rate);
    lags.insert(lags.end(), record->lag_us.begin(), record->lag_us.end());
  }
  delivery.events_per_second = delivery.seconds > 0 ? delivery.delivered / delivery.seconds : 0;
  delivery.slowest_events_per_second = std::max(slowest, 0.0);
  std::sort(lags.begin(), lags.end());
  delivery.lag_p50_us = percentile(lags, 0.50);
  delivery.lag_p99_us = percentile(lags, 0.99);
}

std::uint64_t read_status_kib(const char* field) {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  auto prefix = std::string{field} + ":";
  while (std::getline(status, line))
    if (line.rfind(prefix, 0) == 0)
      return std::stoull(line.substr(prefix.size())) * 1024;
  return 0;
}

} // namespace

std::uint64_t peak_rss_bytes() { return read_status_kib("VmHWM"); }

std::uint64_t current_rss_bytes() { return read_status_kib("VmRSS"); }

entity_id entity_of(std::uint64_t seed, std::uint64_t index) {
  // A valid v4 UUID whose low half holds the index (index < 2^62).
  std::uint64_t mixed = (seed + 1) * 0x9E3779B97F4A7C15ULL;
  mixed ^= mixed >> 31;
  return uuid{(mixed & ~0xF000ULL) | 0x4000ULL, (index & 0x3FFFFFFFFFFFFFFFULL) | (1ULL << 63)};
}

result<std::optional<entity_id>> first_used_entity(event_store& store, const options& opts) {
  auto first = entity_of(opts.entity_seed.value_or(opts.seed), 0);
  auto last = entity_of(opts.entity_seed.value_or(opts.seed), opts.entities - 1);
  auto before_first = first;
  before_first.low -= 1; // the ids of one seed differ in `low` only
  auto listed = store.list_entities(before_first, 1);
  if (!listed)
    return std::move(listed).error();
  if (!listed->empty() && listed->front() <= last)
    return std::optional<entity_id>{listed->front()};
  return std::optional<entity_id>{};
}

namespace {

/// Sets `run` up for `opts`.
void prepare(shared_run& run, const options& opts) {
  run.opts = &opts;
  run.acked_version = std::make_unique<std::atomic<std::uint64_t>[]>(opts.entities);
  if (opts.keys == key_distribution::zipf) {
    run.zipf_cdf.resize(opts.entities);
    double sum = 0;
    for (std::uint64_t k = 0; k < opts.entities; ++k) {
      sum += 1.0 / std::pow(static_cast<double>(k + 1), opts.zipf_exponent);
      run.zipf_cdf[k] = sum;
    }
  }
  run.clients_left = opts.clients;
  for (std::uint64_t i = 0; i < opts.subscribers; ++i)
    run.subscribers.push_back(std::make_unique<subscriber_record>());
}

/// Runs the clients against `app` until each has sent its commands (and
/// the subscribers, over `store`, until they caught up); fills the timing
/// and the application's figures in `out`. `subscribed`: when the
/// subscriptions started.
void drive(application& app, event_store* store, shared_run& run, report& out,
           clock::time_point& subscribed) {
  const auto& opts = *run.opts;
  run.registries = app.registries<tally::counter>();
  if (!run.subscribers.empty() && store != nullptr) {
    auto last = store->last_position();
    if (last)
      out.delivery.log_start = *last;
    else
      add_violation(out, "reading the global log's last position failed: "
                           + to_string(last.error()));
    subscribed = clock::now();
    subscribe_all(app, run, out.delivery.log_start);
  }
  std::vector<caf::actor> clients;
  clients.reserve(opts.clients);
  auto start = clock::now();
  for (std::uint64_t i = 0; i < opts.clients; ++i)
    clients.push_back(app.system().spawn(client, &run, opts.seed * 1'000'003 + i));
  std::uint64_t resident = 0;
  auto last_sample = clock::now();
  const auto every = opts.progress == progress_display::lines ? std::chrono::seconds{1}
                                                               : std::chrono::milliseconds{250};
  for (;;) {
    {
      std::unique_lock lock{run.mutex};
      if (run.finished.wait_for(lock, std::chrono::milliseconds{100},
                                [&] { return run.clients_left == 0; }))
        break;
    }
    if (opts.progress != progress_display::none && clock::now() - last_sample >= every) {
      last_sample = clock::now();
      resident = app.stats().resident;
      std::chrono::duration<double> elapsed = clock::now() - start;
      print_progress(opts, run.answered.load(), elapsed.count(), run.conflicts.load(), resident);
    }
  }
  std::chrono::duration<double> elapsed = clock::now() - start;
  out.seconds = elapsed.count();
  auto stats = app.stats();
  out.interrupted = run.stopping();
  if (opts.progress == progress_display::bar) {
    print_progress(opts, run.answered.load(), out.seconds, run.conflicts.load(), stats.resident);
    std::fputc('\n', stderr);
  }
  if (!run.subscribers.empty())
    wait_for_subscribers(app, run, out);
  out.peak_resident = stats.peak_resident;
  out.spawned = stats.spawned;
  out.passivated = stats.passivated;
}

/// Fills `out`'s counts and latencies from `run`.
void tally_up(shared_run& run, report& out) {
  auto counts = run.counts;
  out.commands = counts.commands;
  out.acknowledged = counts.acknowledged;
  out.conflicts = counts.conflicts;
  out.stale_sent = counts.stale_sent;
  out.rejections = counts.rejections;
  out.other_errors = counts.other_errors;
  out.errors = counts.errors;
  out.unsent = counts.unsent;
  out.commands_per_second = out.seconds > 0 ? out.commands / out.seconds : 0;
  out.events_per_second = out.seconds > 0 ? out.acknowledged / out.seconds : 0;
  std::sort(run.latencies_us.begin(), run.latencies_us.end());
  out.latency_p50_us = percentile(run.latencies_us, 0.50);
  out.latency_p99_us = percentile(run.latencies_us, 0.99);
  out.latency_p999_us = percentile(run.latencies_us, 0.999);
}

/// Reads every entity back through `app` (a remote application: no store
/// to read): each must be at least at the version last acknowledged for it,
/// with one addition per version.
void verify_remote(application& app, const shared_run& run, report& out) {
  const auto& opts = *run.opts;
  out.verified = true;
  std::vector<std::uint64_t> acknowledged(opts.entities, 0);
  for (const auto& ack : run.acks)
    acknowledged[ack.entity] = std::max(acknowledged[ack.entity], ack.version);
  auto counters = app.entities<tally::counter>();
  for (std::uint64_t index = 0; index < opts.entities; ++index) {
    auto id = entity_of(opts.entity_seed.value_or(opts.seed), index);
    auto stored = counters.try_get(id);
    if (!stored) {
      if (stored.error().code != ec::not_found || acknowledged[index] > 0)
        add_violation(out, "read of entity " + to_string(id) + " failed: "
                             + to_string(stored.error()));
      continue;
    }
    out.events += stored->version;
    if (stored->version < acknowledged[index])
      add_violation(out, "entity " + to_string(id) + " acknowledged version "
                           + std::to_string(acknowledged[index]) + " but the node has version "
                           + std::to_string(stored->version));
    if (stored->state.additions != stored->version)
      add_violation(out, "entity " + to_string(id) + " is at version "
                           + std::to_string(stored->version) + " with "
                           + std::to_string(stored->state.additions) + " additions");
  }
}

} // namespace

report run(std::shared_ptr<event_store> store, const options& opts) {
  report out;
  if (opts.entities == 0) {
    add_violation(out, "a run needs at least one entity");
    return out;
  }
  shared_run run;
  prepare(run, opts);
  auto closing = clock::now();
  auto subscribed = clock::now();
  {
    application app{store, opts.app};
    drive(app, store.get(), run, out, subscribed);
    closing = clock::now();
  } // the application closes here: every actor has ended
  out.close_seconds = std::chrono::duration<double>(clock::now() - closing).count();
  tally_up(run, out);
  if (!run.subscribers.empty())
    summarize_deliveries(run, subscribed, out);
  if (opts.verify) {
    auto verifying = clock::now();
    verify(*store, run, out);
    out.verify_seconds = std::chrono::duration<double>(clock::now() - verifying).count();
  }
  out.peak_rss_bytes = peak_rss_bytes();
  return out;
}

report run_remote(application& app, const options& opts) {
  report out;
  if (opts.entities == 0 || opts.subscribers > 0) {
    add_violation(out, opts.entities == 0
                         ? "a run needs at least one entity"
                         : "subscribers need the store, which a remote run does not have");
    return out;
  }
  shared_run run;
  prepare(run, opts);
  auto subscribed = clock::now();
  drive(app, nullptr, run, out, subscribed);
  tally_up(run, out);
  if (opts.verify) {
    auto verifying = clock::now();
    verify_remote(app, run, out);
    out.verify_seconds = std::chrono::duration<double>(clock::now() - verifying).count();
  }
  out.peak_rss_bytes = peak_rss_bytes();
  return out;
}

} // namespace cafes::stress
