#pragma once
// What `cafes-admin` does besides verify, export and import: the aggregates
// it knows, counting a database, recovering one whose write-ahead log is
// damaged, and a progress line for terminals.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/storage/rocksdb_store.hpp"

namespace cafes::admin {

/// The aggregates cafes-admin checks payloads against, the samples of
/// examples/samples: bank::account, example::entity and tally::counter.
std::vector<std::shared_ptr<const erased_aggregate>> known_aggregates();

/// What `stats` counted.
struct store_stats {
  std::uint64_t entities = 0;    ///< head keys (entities with a version)
  std::uint64_t events = 0;      ///< event keys
  std::uint64_t log_entries = 0; ///< global log entry keys (one per event)
  std::uint64_t commands = 0;    ///< command keys (one per command with an id)
  std::uint64_t last_position = 0; ///< the global log's, as stored; 0: none
  std::uint64_t views = 0;       ///< view checkpoint keys (projections)
  std::uint64_t view_rows = 0;   ///< view row keys
  /// Keys cafes does not write (see verify); event, head, log entry and
  /// last-position keys are all cafes keys.
  std::uint64_t other_keys = 0;
  std::uint64_t longest_history = 0; ///< the most events of one entity
  std::uint64_t bytes = 0;       ///< size of the database directory; 0 in memory
  /// Events per stored type name; records that do not decode count under
  /// "(undecodable)".
  std::map<std::string, std::uint64_t> events_by_type;
};

/// Counts every key of `store` in one scan. Calls `progress(keys so far)`
/// every 65,536 keys when given. Errors: what `rocksdb_store::scan` gives.
result<store_stats> stats(rocksdb_store& store,
                          const std::function<void(std::uint64_t)>& progress = {});

/// What `recover` did.
struct recover_report {
  /// False when the database opened normally: nothing was damaged, nothing
  /// was written.
  bool recovered = false;
  std::uint64_t entities = 0; ///< entities kept
  std::uint64_t events = 0;   ///< events kept
};

/// Opens the database at `path` at the last intact record of its
/// write-ahead log (`rocksdb_options::recover_to_last_intact`), counts what
/// it kept and closes it; closing flushes, so the damaged log is gone and
/// the next open is a normal one. Every event after the damage is lost for
/// good: callers must have the operator's consent. A database that opens
/// normally (read-only) is left untouched. Errors:
/// `ec::storage_unavailable` when it cannot be opened even so (the message
/// says why), and what `stats` gives.
result<recover_report> recover(const std::string& path);

/// One line on a terminal that a long run rewrites in place, at most every
/// 200 ms. Disabled, it prints nothing.
class progress_line {
public:
  /// `enabled`: write to stderr (give `isatty(STDERR_FILENO)`).
  explicit progress_line(bool enabled) : enabled_(enabled) {}
  ~progress_line() { finish(); }
  progress_line(const progress_line&) = delete;
  progress_line& operator=(const progress_line&) = delete;

  /// Shows `text` unless a line was shown less than 200 ms ago; the text
  /// is only built (`make`) when it is shown.
  void update(const std::function<std::string()>& make);

  /// Erases the line (once).
  void finish();

private:
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

/// Returns `value` with commas and the noun that fits it:
/// (1, "entity", "entities") -> "1 entity", (2, ...) -> "2 entities".
std::string counted(std::uint64_t value, const char* one, const char* many);

} // namespace cafes::admin
