#pragma once
// The stress engine: many client actors send tally commands through the
// registry to entity actors, subscribers follow the global log meanwhile,
// then the store is read back and every invariant verified. Used by
// cafes-stress, the benchmark and the CTest stress runs.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cafes/actors/application.hpp"

namespace cafes::stress {

enum class key_distribution {
  uniform, ///< every entity equally likely
  zipf,    ///< a few hot entities take most commands (exponent `zipf_exponent`)
  sequential, ///< command i goes to entity i mod entities: each exactly once per lap
};

/// How a run shows its progress while it goes.
enum class progress_display {
  none,  ///< nothing
  bar,   ///< a bar on stderr, redrawn in place (for a terminal)
  lines, ///< a line "progress: ..." on stderr each second (for logs, pipes)
};

struct options {
  std::uint64_t entities = 10'000;           ///< distinct entity ids
  std::uint64_t clients = 50;                ///< concurrent client actors
  std::uint64_t commands_per_client = 200;   ///< commands each client sends
  std::uint64_t in_flight = 1;               ///< outstanding commands per client
  key_distribution keys = key_distribution::uniform;
  double zipf_exponent = 0.99;               ///< for key_distribution::zipf
  double stale_fraction = 0.0;               ///< share sent with a stale version
  /// Commands that are not stale carry the latest acknowledged version of
  /// their entity (true) or none, applying at whatever version it has
  /// (false: counters, hot entities).
  bool versioned = true;
  std::uint64_t seed = 1;                    ///< picks keys, amounts, staleness
  /// Picks the entities' ids (nothing: `seed`). Runs in several processes
  /// over one shared store (etcd) give the same one to race on the same
  /// entities, and each its own `seed`.
  std::optional<std::uint64_t> entity_seed;
  /// Other processes write the same entities meanwhile: verification takes
  /// the events of commands this run did not send as theirs (counted in
  /// `foreign_events`) instead of as a violation.
  bool shared = false;
  /// Whether the store has one global log to verify (a sharded store has
  /// one per shard, and no subscribers).
  bool global_log = true;
  progress_display progress = progress_display::none;
  bool verify = true;                        ///< read the store back at the end
  /// How long a client waits for each answer: 60 s; 0 = no limit (and no
  /// timer per command: CAF's clock costs ~9% of CPU at full load).
  std::chrono::milliseconds command_timeout{60'000};
  application_config app;                    ///< shards, idle timeout, timeouts
  /// Subscriptions of the global log that run alongside the clients, each
  /// from position 0: every subscriber must see the whole log, the events
  /// of earlier runs in a reused store included (catch-up while the writers
  /// run), then the run's own as they commit. 0 = none.
  std::uint64_t subscribers = 0;
  /// After the last answer the run waits for every subscriber to reach the
  /// log's last position; it gives up (a violation) once no subscriber has
  /// moved for this long: 30 s.
  std::chrono::milliseconds subscriber_stall{30'000};
  /// Not owned; null = never stop early. Once it reads true, clients send no
  /// new command: the run waits for the answers in flight, closes, verifies
  /// what ran and reports `interrupted`. A signal handler may set it.
  const std::atomic<bool>* stop = nullptr;
};

/// Commands answered with one error code.
struct error_count {
  std::uint64_t count = 0;
  std::string first_message; ///< the message of the earliest such answer
};

/// What the subscribers of a run saw (options.subscribers > 0).
struct delivery_report {
  std::uint64_t subscribers = 0; ///< subscriptions that ran (options.subscribers)
  std::uint64_t log_start = 0;  ///< the log's last position before the first command
  std::uint64_t log_end = 0;    ///< the log's last position after the last answer
  std::uint64_t delivered = 0;  ///< events delivered, all subscribers together
  /// From subscribing until the last delivery to any subscriber.
  double seconds = 0;
  double events_per_second = 0; ///< delivered / seconds, all subscribers together
  /// The slowest subscriber's events / (its last delivery - subscribing).
  double slowest_events_per_second = 0;
  /// From the last answer until every subscriber had reached log_end.
  double catch_up_seconds = 0;
  /// Delivery time minus the event's timestamp_ns, which the entity actor
  /// takes when it decides, a little before the commit: so the lag runs
  /// from the decision, not the commit. Only the run's events (positions
  /// after log_start) count.
  double lag_p50_us = 0;
  double lag_p99_us = 0; ///< as lag_p50_us
};

struct report {
  std::uint64_t commands = 0;       ///< commands answered
  std::uint64_t unsent = 0;         ///< commands not sent because of options.stop
  std::uint64_t acknowledged = 0;   ///< answered with a new version
  std::uint64_t conflicts = 0;      ///< answered ec::conflict
  std::uint64_t stale_sent = 0;     ///< sent with a known-stale version
  std::uint64_t rejections = 0;     ///< answered ec::rejected
  std::uint64_t other_errors = 0;   ///< answered with any other error
  /// other_errors by code (name it with to_string(ec)): how many and why.
  std::map<ec, error_count> errors;
  std::uint64_t events = 0;         ///< events in the store at the end
  std::uint64_t foreign_events = 0; ///< with `options.shared`: events of other processes
  double seconds = 0;               ///< from the first command to the last answer
  double commands_per_second = 0;
  double events_per_second = 0;     ///< acknowledged events / seconds
  double latency_p50_us = 0;
  double latency_p99_us = 0;
  double latency_p999_us = 0;
  std::uint64_t peak_resident = 0;  ///< most entity actors alive at once
  std::uint64_t spawned = 0;        ///< entity actors started (respawns included)
  std::uint64_t passivated = 0;     ///< entity actors stopped when idle
  std::uint64_t peak_rss_bytes = 0; ///< the process's peak resident memory
  double close_seconds = 0;         ///< stopping every actor after the run
  double verify_seconds = 0;        ///< reading the store back
  delivery_report delivery;         ///< the subscribers' figures
  bool verified = false;            ///< the read-back ran
  bool interrupted = false;         ///< options.stop was set before the clients finished
  std::vector<std::string> violations; ///< every broken invariant (empty = ok)
};

/// Runs one stress run over `store` and, if `opts.verify`, checks that for
/// every entity the versions are 1..n without gap or duplicate, every
/// acknowledged command's event is stored exactly once, no event of a command
/// answered with a conflict or rejection is stored, every stale command was
/// refused, event ids are unique, and each entity's state rebuilt from the
/// store equals the last state its actor reported. With `opts.subscribers`,
/// also that every subscriber got positions 1, 2, 3, ... each once, in
/// order, up to at least the log's last position after the last answer,
/// and at each position the event (entity, version, event id) the global
/// log holds there (without `opts.verify`, all but the last).
report run(std::shared_ptr<event_store> store, const options& opts);

/// Runs the clients of a stress run against `app`, a remote application
/// (cafes::net::node::connect) whose node serves tally counters; the
/// entities' ids come from `opts.seed`, as in `run`. With `opts.verify`
/// every entity is read back through `app` (there is no store here to
/// read): each must be at least at the version last acknowledged for it,
/// with one addition per version. Subscribers need a store: asking for
/// any is a violation, and nothing runs. `opts.app` does not apply (the
/// application is made already).
report run_remote(application& app, const options& opts);

/// Returns the deterministic id of entity `index` in a run with `seed`.
entity_id entity_of(std::uint64_t seed, std::uint64_t index);

/// Returns the first of the run's entities (from `opts.entity_seed`, else
/// `opts.seed`) that already has events in `store`, or nothing: a run's
/// verification counts every event of its entities as its own, so a second
/// run with the same seed over the same store would fail it with
/// misleading violations (unless `opts.shared` says others write them).
/// One `list_entities` call: a seed's ids are contiguous in id order.
/// `opts.entities` must be above 0.
/// Errors: those of `store.list_entities`.
result<std::optional<entity_id>> first_used_entity(event_store& store, const options& opts);

/// Returns the process's peak resident memory in bytes (0 if unknown).
std::uint64_t peak_rss_bytes();

/// Returns the process's current resident memory in bytes (0 if unknown).
std::uint64_t current_rss_bytes();

} // namespace cafes::stress
