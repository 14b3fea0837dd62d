#pragma once
// The one interface every store implements, and the contract it keeps.

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cafes/domain/event_record.hpp"
#include "cafes/domain/result.hpp"

namespace cafes {

/// The highest version; `read(id, 1, last_version)` reads a whole history.
inline constexpr std::uint64_t last_version
  = std::numeric_limits<std::uint64_t>::max();

/// One conditional append.
struct append_request {
  entity_id entity;
  /// The entity's version the writer saw; 0 means the entity must not exist.
  std::uint64_t expected_version = 0;
  /// Events to store at versions expected_version+1, +2, ... The store sets
  /// each record's `entity`, `version` and `position`; the rest (the schema
  /// version too) is stored as given.
  std::vector<event_record> events;
  /// The name of the entity's aggregate, kept in the global log so that it
  /// can be filtered by aggregate (see log_filter); may be empty.
  std::string aggregate{};
  /// On a conflict, the most events the writer missed to return with it
  /// (failure::missed_events, read in the same atomic step as the check):
  /// when the entity is further ahead, the conflict carries the versions
  /// only. 0: never any events.
  std::uint32_t missed_events_cap = 0;
};

/// The distinct non-nil command ids of `request`'s events, each with the
/// version its last event gets when the request is stored at `expected_version`.
std::vector<std::pair<uuid, std::uint64_t>> commands_of(const append_request& request);

/// Returns the `ec::invalid_argument` failure for a request that no store
/// takes (no events, or an event at schema version 0), or nothing when it
/// is fine.
std::optional<failure> check_append(const append_request& request);

/// Returns the `ec::duplicate_command` failure for command `command` of
/// `entity`, which got version `version` the first time.
failure duplicate_command(const entity_id& entity, const uuid& command,
                          std::uint64_t version);

/// Which events of the global log `read_all` returns: those whose aggregate
/// is one of `aggregates` and whose type is one of `event_types`, an empty
/// list allowing any.
struct log_filter {
  std::vector<std::string> aggregates;
  std::vector<std::string> event_types;

  /// Returns whether an event of `type`, appended for `aggregate`, passes.
  bool allows(std::string_view aggregate, std::string_view type) const;
};

/// One read of `read_batch`: entity `entity`'s events `from`..`to`.
struct read_request {
  entity_id entity;
  std::uint64_t from = 1;
  std::uint64_t to = last_version;
};

/// A stretch of the global log, as `read_all` returns it.
struct log_page {
  /// The events that passed the filter, in position order.
  std::vector<event_record> events;
  /// Every position up to this one has been looked at: read on after it.
  /// With a filter it can be past the last event returned.
  std::uint64_t next_after = 0;
};

/// Most log entries one `read_all` looks at: 65,536 (a filter that matches
/// little does not make one call scan the whole log).
inline constexpr std::size_t max_log_scan = 65'536;

/// Where a view (the stored rows of a projection, see cafes/actors/projection.hpp)
/// stands: what `commit_view` compares before it writes.
struct view_checkpoint {
  /// The version of the projection code that built the rows.
  std::uint32_t version = 0;
  /// Every event of the global log up to this position has been projected.
  std::uint64_t position = 0;
  /// Which rows are the view's: `reset_view` starts a new generation, so
  /// the old rows are gone from reads at once (and deleted after).
  std::uint64_t generation = 0;

  friend bool operator==(const view_checkpoint&, const view_checkpoint&) = default;
};

/// One change to a view's rows: puts `value` at `key`, or erases `key` when
/// `value` is empty.
struct view_change {
  std::string key;
  std::optional<std::vector<std::uint8_t>> value;
};

/// One stored row of a view.
struct view_row {
  std::string key;
  std::vector<std::uint8_t> value;

  friend bool operator==(const view_row&, const view_row&) = default;
};

/// Longest view name: 255 bytes.
inline constexpr std::size_t max_view_name = 255;

/// Returns the `ec::invalid_argument` failure for a view name that is empty
/// or longer than max_view_name, or nothing when `name` is fine.
std::optional<failure> check_view_name(std::string_view name);

/// Returns the `ec::invalid_argument` failure for a `commit_view` request
/// that no store takes (a bad name, see check_view_name; a change with an
/// empty key), or nothing when it is fine.
std::optional<failure> check_view_commit(std::string_view view,
                                         std::span<const view_change> changes);

/// Returns the `ec::conflict` failure for view `view` whose stored
/// checkpoint (`actual`; nothing: none) is not the one its writer expected
/// (`expected`; nothing: none). `expected_version` and `actual_version`
/// carry the two positions.
failure view_moved(std::string_view view, const std::optional<view_checkpoint>& expected,
                   const std::optional<view_checkpoint>& actual);

/// What `event_store::watch_appends` returns: while it lives, the store
/// calls its callback; once destroyed, never again.
class append_watch {
public:
  virtual ~append_watch() = default;
};

/// A store of event histories. Implementations are safe to call from many
/// threads at once.
///
/// Errors: each function lists every code a store gives, and when. The
/// memory store gives only `ec::conflict`, `ec::duplicate_command` and
/// `ec::invalid_argument` (it has no disk, no locks and no encoding); the
/// other codes come from the RocksDB store (see rocksdb_store.hpp for its
/// details). What the codes mean for every function that has them:
/// - `ec::invalid_argument`: the request itself is malformed. What the
///   request alone shows (no events, a bad view name, an empty row key) is
///   checked first and wins over every other code, even on a read-only or
///   stopped store; a view position is checked against the stored log.
/// - `ec::decode_failure`: stored bytes do not decode (a corrupt record, a
///   damaged block of a table file) or stored records disagree; the message
///   names what (entity and version, log position, view). Reads of other
///   entities go on.
/// - `ec::storage_failure`: the store could not read or write (an I/O error,
///   a full disk; for writes also: the store stopped writing after a failed
///   write until it reopens its database, or for good after it found a
///   damaged block). Nothing of a refused write is written.
/// - `ec::storage_unavailable`: the store's database is closed: reopening it
///   after a failed write failed (reads; after an unknown outcome a read
///   reopens the database first, so that it shows the write if the log
///   kept it, and gets this code when it cannot); the store is open
///   read-only (writes).
/// - `ec::timeout`: another writer held the lock this write needs (an
///   entity's head, a view's checkpoint) longer than the store waits;
///   nothing is written; retry.
/// - `ec::unknown_outcome`: an I/O error came after the write reached the
///   store's log (a failed sync): it may be stored; read back to know.
/// Ranges, limits and positions that hold nothing (`from > to`, a limit of
/// 0, a position past the end, an unknown entity or view) are empty
/// answers, not errors.
class event_store {
public:
  virtual ~event_store() = default;

  /// Appends all of `request.events` or none. Returns the entity's new version
  /// (expected_version + number of events).
  /// Errors (nothing is written on any but `ec::unknown_outcome`):
  /// - `ec::invalid_argument` when `events` is empty or one is at schema
  ///   version 0 (see check_append), whatever the version.
  /// - `ec::conflict` when the entity's version is not `expected_version`
  ///   (carrying the entity, expected and actual version and, when the
  ///   entity is ahead by at most `missed_events_cap`, the events after the
  ///   expected version, read under the same lock as the check; within one
  ///   `append_batch`, events of an earlier request of the same batch are
  ///   not readable yet: such a conflict carries the versions only).
  /// - `ec::duplicate_command` when an event carries a (non-nil) command id
  ///   that the entity has applied before, in this request's predecessors or
  ///   any earlier append however long ago (`actual_version`: the version it
  ///   got then). Checked in the same atomic step as the version, so two
  ///   copies of one command racing store it once.
  /// - `ec::decode_failure` when the entity is damaged: a corrupt head
  ///   record, events without a head, a corrupt record of one of the
  ///   request's command ids.
  /// - `ec::storage_failure` when the store could not write (a full disk, an
  ///   I/O error), could not read what the check needs (an I/O error), met
  ///   a damaged block in its check (writes stop for good), or stopped
  ///   writing after an earlier failed write (until a reopen succeeds; also
  ///   when reopening its database failed).
  /// - `ec::unknown_outcome` when an I/O error came after the events reached
  ///   the store's log (a failed sync): they may be stored; read back to know.
  /// - `ec::timeout` when another writer held the entity's lock too long.
  /// - `ec::storage_unavailable` when the store is read-only.
  virtual result<std::uint64_t> append(const append_request& request) = 0;

  /// Group commit: runs every request's own conditional check, then makes all
  /// the accepted ones durable together (one write, one sync when durable).
  /// Returns one result per request, in order, each as `append` would (with
  /// its codes). A request refused by its own check (whatever the code)
  /// never affects the others; a failed write (`ec::storage_failure`,
  /// `ec::unknown_outcome`) is the answer of every request the check
  /// accepted, and a store that cannot write at all (read-only, stopped)
  /// answers every request but the malformed ones with its code. Requests
  /// for one entity see the effects of earlier requests in the same batch.
  virtual std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) = 0;

  /// Returns the entity's events with `from <= version <= to`, in version
  /// order (empty for an unknown entity or an empty range; `from` 0 reads
  /// from 1).
  /// Errors:
  /// - `ec::decode_failure` for a corrupt stored record (naming the entity
  ///   and version), a damaged block, and for a history that disagrees with
  ///   itself (a gap) or, when `to` is last_version, with the entity's head
  ///   (a head past the last event, events past the head or without one, a
  ///   corrupt head record).
  /// - `ec::storage_failure` when the store cannot read (an I/O error).
  /// - `ec::storage_unavailable` when the store's database is closed.
  virtual result<std::vector<event_record>>
  read(const entity_id& entity, std::uint64_t from = 1,
       std::uint64_t to = last_version) = 0;

  /// Returns one result per request, in order, each as `read` would (with
  /// its codes). Here: `read` for each in turn; a store whose reads cost a
  /// round trip (etcd) reads many in one. The storage actor reads the
  /// histories of the entities it loads this way.
  virtual std::vector<result<std::vector<event_record>>>
  read_batch(std::span<const read_request> requests);

  /// Returns the entity's current version; 0 when it has no events.
  /// Errors: `ec::decode_failure` (a corrupt head record, a damaged block);
  /// `ec::storage_failure` (an I/O error); `ec::storage_unavailable` (the
  /// database is closed).
  virtual result<std::uint64_t> head(const entity_id& entity) = 0;

  /// Returns up to `limit` ids of entities that have events, in id order,
  /// each after `after` (from the first when empty): call again with the
  /// last id returned to page through them all.
  /// Errors: `ec::decode_failure` (a damaged block); `ec::storage_failure`
  /// (an I/O error); `ec::storage_unavailable` (the database is closed).
  virtual result<std::vector<entity_id>>
  list_entities(std::optional<entity_id> after, std::size_t limit) = 0;

  /// The global log: returns up to `limit` events with positions after
  /// `after` that pass `filter`, in position order, looking at no more than
  /// max_log_scan positions. Positions are gapless and assigned in commit
  /// order in the same atomic write as the events, so a reader never sees
  /// position p+1 without p. `next_after` is where the next call starts
  /// (`after` itself when nothing more is stored). A position past the end
  /// is not an error: the page is empty.
  /// Errors: `ec::decode_failure` for a damaged log (an entry that does not
  /// decode, a gap, an entry naming an event that is not stored or that has
  /// another position) or a corrupt event it points at (naming it), a
  /// damaged block; `ec::storage_failure` (an I/O error);
  /// `ec::storage_unavailable` (the database is closed).
  virtual result<log_page> read_all(std::uint64_t after, std::size_t limit,
                                    const log_filter& filter = {}) = 0;

  /// Returns the version that command `command` of `entity` got (that of
  /// its last event), or nothing when the entity never applied it.
  /// Errors: `ec::decode_failure` (a corrupt command record, a damaged
  /// block); `ec::storage_failure` (an I/O error); `ec::storage_unavailable`
  /// (the database is closed).
  virtual result<std::optional<std::uint64_t>> find_command(const entity_id& entity,
                                                            const uuid& command) = 0;

  /// Returns the position of the last stored event (0: none).
  /// Errors: `ec::decode_failure` (a damaged block: a store does not open
  /// over a corrupt last position); `ec::storage_failure` (an I/O error);
  /// `ec::storage_unavailable` (the database is closed).
  virtual result<std::uint64_t> last_position() = 0;

  // -- views: the stored rows of projections ------------------------------
  // A view's rows and its checkpoint change together, in one atomic write,
  // so a projection that restarts resumes exactly after the last event it
  // committed. Views live in their own key space and never touch events.

  /// Returns view `view`'s checkpoint, or nothing for a view never reset.
  /// Errors: `ec::invalid_argument` (bad name, see check_view_name);
  /// `ec::decode_failure` (a damaged checkpoint, or one of another view
  /// whose name hashes alike, a damaged block); `ec::storage_failure` (an
  /// I/O error); `ec::storage_unavailable` (the database is closed).
  virtual result<std::optional<view_checkpoint>> read_view_checkpoint(std::string_view view) = 0;

  /// Starts view `view` afresh for projection code `version`: its
  /// checkpoint becomes position 0 of a new generation, and its rows are
  /// gone (in one atomic write; the old rows are deleted right after, and
  /// by any later reset if a crash came between). Returns the new checkpoint.
  /// Errors (nothing is written on any but `ec::unknown_outcome`):
  /// - `ec::invalid_argument`: a bad name (see check_view_name).
  /// - `ec::conflict`: the stored checkpoint is not `expected` (another
  ///   runner of the same view moved it).
  /// - `ec::decode_failure`: the stored checkpoint is damaged, or another
  ///   view's, or in a damaged block.
  /// - `ec::storage_failure`: as for `append` (a write or read I/O error, a
  ///   store that stopped writing).
  /// - `ec::storage_unavailable`: the store is read-only.
  /// - `ec::timeout`: another writer of the view held its lock too long.
  /// - `ec::unknown_outcome`: a failed sync: read the checkpoint back to know.
  virtual result<view_checkpoint> reset_view(std::string_view view, std::uint32_t version,
                                             const std::optional<view_checkpoint>& expected) = 0;

  /// Applies `changes` to view `view`'s rows (in order: a later change to a
  /// key wins) and moves its checkpoint to `position`, all or nothing.
  /// Returns the new checkpoint.
  /// Errors (nothing is written on any but `ec::unknown_outcome`):
  /// - `ec::invalid_argument`: a bad name, an empty key (both before the
  ///   checkpoint is compared); a `position` before `expected.position` or
  ///   past the global log's last position (a checkpoint of another store).
  /// - `ec::conflict`: the stored checkpoint is not `expected`, or the view
  ///   was never reset (two runners of one view never both apply an event).
  /// - `ec::decode_failure`: the stored checkpoint is damaged, or another
  ///   view's, or in a damaged block; a damaged last position.
  /// - `ec::storage_failure`: as for `append`.
  /// - `ec::storage_unavailable`: the store is read-only.
  /// - `ec::timeout`: another writer of the view held its lock too long.
  /// - `ec::unknown_outcome`: a failed sync: read the checkpoint back to know.
  virtual result<view_checkpoint> commit_view(std::string_view view,
                                              const view_checkpoint& expected,
                                              std::uint64_t position,
                                              std::span<const view_change> changes) = 0;

  /// Returns the row at `key` of view `view` (nothing when absent, or when
  /// the view was never reset).
  /// Errors: `ec::invalid_argument` (bad name); `ec::decode_failure` (the
  /// view's checkpoint, as read_view_checkpoint); `ec::storage_failure` (an
  /// I/O error); `ec::storage_unavailable` (the database is closed).
  virtual result<std::optional<std::vector<std::uint8_t>>> read_view(std::string_view view,
                                                                     std::string_view key) = 0;

  /// Returns up to `limit` rows of view `view` whose keys start with
  /// `prefix` and sort after `after` (bytewise; from the first when
  /// empty), in key order, all from one consistent state of the view: call
  /// again with the last key returned to page on. Errors: as `read_view`.
  virtual result<std::vector<view_row>> scan_view(std::string_view view,
                                                  std::string_view prefix,
                                                  std::string_view after,
                                                  std::size_t limit) = 0;

  /// Calls `on_append`, from a thread of the store's, soon after any writer
  /// (another process too) commits to the global log, until the returned
  /// watch is destroyed; spurious calls are allowed. Returns nullptr when
  /// the store cannot tell (here): the log hub then finds other writers'
  /// commits by polling `last_position` only. The etcd store watches its
  /// last-position key.
  virtual std::unique_ptr<append_watch> watch_appends(std::function<void()> on_append) {
    (void)on_append;
    return nullptr;
  }

  /// Returns the most distinct row keys one `commit_view` takes: no limit
  /// here; a store whose transactions are bounded (etcd) says its bound, and
  /// the projection runner reads no more events per batch than this.
  virtual std::size_t max_view_changes() const noexcept {
    return std::numeric_limits<std::size_t>::max();
  }

  /// Returns whether an append waits for a device (a durable sync) before it
  /// returns. The actors run an append on a scheduler thread only when it
  /// does not; a store that does not say is taken to wait.
  virtual bool appends_wait_for_device() const noexcept { return true; }

protected:
  /// `read_view` for stores whose `scan_view` reads one consistent state:
  /// the first row from `key` on, if it is `key`. Errors: `scan_view`'s.
  result<std::optional<std::vector<std::uint8_t>>> read_view_by_scan(std::string_view view,
                                                                     std::string_view key);
};

} // namespace cafes
