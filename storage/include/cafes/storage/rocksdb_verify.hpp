#pragma once
// Checks a whole RocksDB database in one ordered pass over every key: the
// scan behind `cafes-admin verify`.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/storage/rocksdb_store.hpp"

namespace cafes {

/// One thing wrong with a database.
struct verify_problem {
  /// The raw key where it was found (for a missing head: the entity's last
  /// event key; for a missing last position: `rocksdb_layout::position_key`).
  std::string key;
  /// The entity concerned; empty for a key that names none (a foreign key,
  /// a global log entry, the last position).
  std::optional<entity_id> entity;
  /// The event's version; 0 when the problem is not about one event.
  std::uint64_t version = 0;
  /// The global log entry's position, for a problem found at a log entry
  /// (without `entity`; `what` names the event it points at); 0 otherwise.
  std::uint64_t position = 0;
  /// What is wrong, in words, without the entity, version or position.
  std::string what;
};

/// Returns "entity <id> version <n>: <what>", "entity <id>: <what>",
/// "position <p>: <what>" for a global log entry or, for a key that names
/// none of these, "key <hex>: <what>" (just <what> without a key).
std::string to_string(const verify_problem& problem);

/// Returns `bytes` as lower-case hex, the first `max_bytes` of them (then
/// "..." and the full length).
std::string to_hex(std::string_view bytes, std::size_t max_bytes = 64);

/// Where a running scan is.
struct verify_progress {
  std::uint64_t keys = 0;           ///< keys scanned so far
  std::uint64_t estimated_keys = 0; ///< RocksDB's estimate of all keys; 0 = unknown
  std::uint64_t problems = 0;       ///< problems found so far
};

struct verify_options {
  /// The aggregates whose events the database may hold: every event's type
  /// must be one of theirs and its payload must decode with it, and one
  /// entity's events must all belong to one aggregate. Empty: payloads and
  /// types are not checked.
  std::vector<std::shared_ptr<const erased_aggregate>> aggregates;
  /// Problems kept in the report: 1,000; every problem is counted.
  std::size_t max_problems = 1'000;
  /// Check that no event id is used twice in the whole store. Costs about
  /// 40 bytes of memory per event (sorted at the end); off: none.
  bool check_event_ids = true;
  /// Called every `progress_every` keys and once at the end; may be empty.
  std::function<void(const verify_progress&)> progress;
  std::uint64_t progress_every = 65'536; ///< keys between progress calls
};

struct verify_report {
  std::uint64_t keys = 0;     ///< keys scanned (every key, foreign ones too)
  std::uint64_t entities = 0; ///< distinct entities with events or a head
  std::uint64_t events = 0;   ///< event keys
  std::uint64_t heads = 0;    ///< head keys
  std::uint64_t log_entries = 0;   ///< global log entry keys
  std::uint64_t commands = 0;      ///< command keys (commands with ids)
  std::uint64_t last_position = 0; ///< as stored; 0 when missing or damaged
  std::uint64_t views = 0;         ///< view checkpoint keys
  std::uint64_t view_rows = 0;     ///< view row keys (every generation)
  std::uint64_t bytes = 0;    ///< size of the database directory; 0 in memory
  std::uint64_t problem_count = 0;      ///< every problem found
  std::vector<verify_problem> problems; ///< the first `max_problems`
  /// False when a read error (a damaged block) stopped the scan: the keys
  /// after it were not checked. The error is the last problem.
  bool complete = true;

  /// Returns true when the whole database was checked and nothing is wrong.
  bool ok() const noexcept { return complete && problem_count == 0; }
};

/// Walks every key of `store` once, in key order (open it with
/// `rocksdb_options::read_only` to check a database without writing to it;
/// nothing is written either way), and reports:
/// - keys cafes does not write (`rocksdb_layout::parse_key` rejects them);
/// - event records that do not decode; with `aggregates`, events of an
///   unknown type, payloads that do not decode, and entities whose events
///   belong to two aggregates;
/// - histories that do not run 1..n without a gap (keys are unique, so a
///   version cannot be stored twice);
/// - head records that do not decode, that disagree with the last event,
///   that have no events (orphan heads), and events with no head;
/// - with `check_event_ids`, an event id used twice;
/// - the global log: entries that are not exactly positions 1..P (a gap,
///   or a last-position record P that is missing, does not decode or
///   disagrees with the last entry); entries that do not decode, that point
///   at an event that is not stored, whose event has another position, or
///   whose type is not the event's; events that no entry points at (a
///   position outside the log, or one another event has too). An entry
///   pointing at an undecodable event is not reported again;
/// - views: checkpoints that do not decode or sit under another view's key,
///   rows of a view with no checkpoint or of a newer generation than its
///   checkpoint, a checkpoint past the end of the global log.
/// Problems come in key order (then events outside the log, then duplicate
/// ids). A read error stops the scan: it is the last problem, `complete` is
/// false, and the global log is not cross-checked (the keys it would be
/// checked against were not all read). Memory: 24 bytes per entity, 40 per
/// event for the log check, plus the id check's.
verify_report verify(rocksdb_store& store, const verify_options& options = {});

/// Returns the total size of the regular files under `path` (0 when it
/// cannot be read).
std::uint64_t directory_bytes(const std::string& path);

} // namespace cafes
