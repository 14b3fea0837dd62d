#pragma once
// The embedded RocksDB store (the default): a TransactionDB where each append
// locks and compares the entity's head key (GetForUpdate) before writing.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cafes/storage/event_store.hpp"

namespace cafes {

struct rocksdb_options {
  /// Database directory. Its parent must exist; the directory itself is
  /// created when missing. A new database is made only in a missing or
  /// empty directory; any other directory must be a cafes database (it holds
  /// a `CAFES` marker with its format version). Ignored when `in_memory` is set.
  std::string path;
  /// Keep everything in RocksDB's memory env: nothing touches the disk and
  /// everything is gone on close (tests, the demo's default).
  bool in_memory = false;
  /// Sync the write-ahead log before acknowledging each commit. Default on:
  /// an acknowledged append survives a power loss, not only a process crash.
  /// Off: acknowledged appends survive a crash of the process but the last
  /// few may be lost to an OS crash or power loss. Group commit makes the
  /// synced case cheap per event (see bench/).
  bool sync = true;
  /// How long a write waits for another writer's lock (an entity's head, a
  /// view's checkpoint): 1000 ms. An append then retries; a view write
  /// gives `ec::timeout` at once.
  std::chrono::milliseconds lock_timeout{1000};
  /// How many times an append retries after its lock wait timed out, before
  /// `ec::timeout`: 3.
  int lock_retries = 3;
  /// Block cache for reads: 64 MiB.
  std::size_t block_cache_bytes = 64u << 20;
  /// Memtable size before it is flushed to a table file: 64 MiB; at least
  /// 64 KiB (`ec::invalid_argument` otherwise).
  std::size_t write_buffer_bytes = 64u << 20;
  /// Open without writing anything, not even the lock (inspection tools,
  /// possibly while another process writes). Appends and view writes fail
  /// with `ec::storage_unavailable`. A missing database is an error.
  bool read_only = false;
  /// A write-ahead log damaged before its end makes open fail (default),
  /// because the acknowledged events after the damage would be lost. Set,
  /// the database opens at the last intact record and drops everything
  /// after it (an operator's decision: `cafes-admin recover`); the damaged
  /// log is deleted, so later normal opens succeed. A torn last
  /// record, which a crash leaves, is dropped either way: it was never
  /// acknowledged.
  bool recover_to_last_intact = false;
};

class rocksdb_store final : public event_store {
public:
  /// Opens (creating when missing) the database described by `options`.
  /// Errors (nothing is written on any of them):
  /// - `ec::invalid_argument`: no path and not `in_memory`; a memtable
  ///   smaller than 64 KiB.
  /// - `ec::storage_unavailable` with the path and the reason: the parent
  ///   directory is missing or the path not writable; another process, or
  ///   another store of this process under any spelling of the path, has it
  ///   open; a non-empty directory that is not a cafes database (a foreign
  ///   RocksDB database, `/`, any other data); a cafes database of another
  ///   format, or damaged (a missing `CURRENT` file, a write-ahead log
  ///   corrupt before its end, a corrupt manifest): the message says how to
  ///   recover.
  static result<std::unique_ptr<rocksdb_store>> open(const rocksdb_options& options);

  /// Flushes the memtable to a table file (so the write-ahead logs can go
  /// and the next open replays nothing) and closes the database. Every
  /// acknowledged append is already in the WAL whatever happens here.
  ~rocksdb_store() override;

  rocksdb_store(const rocksdb_store&) = delete;
  rocksdb_store& operator=(const rocksdb_store&) = delete;

  /// Appends as `event_store` says. After a write the disk refused (full,
  /// or an I/O error) RocksDB takes no more writes: the next append reopens
  /// the database (at most once a second), which replays every acknowledged
  /// append from the WAL, and goes on. Until a reopen succeeds appends fail
  /// with `ec::storage_failure` naming the first failed write; if a reopen
  /// itself fails, reads fail too, with `ec::storage_unavailable`. A reopen
  /// never creates a database: a vanished directory stays an error.
  /// A failed WAL sync gives `ec::unknown_outcome`: the events reached the
  /// log and may be stored (they are after the reopen); read back to know.
  /// Corruption found while writing (a damaged table file met by a
  /// compaction) stops writes for good with `ec::storage_failure` saying
  /// so: no reopen loop; reads of intact entities go on.
  /// A read error (an I/O error) while an append checks its entity fails
  /// that append alone with `ec::storage_failure`; writes go on. View writes
  /// (reset_view, commit_view) stop, reopen and refuse alike. A read-only
  /// store refuses with `ec::storage_unavailable` (a request without events
  /// with `ec::invalid_argument`).
  result<std::uint64_t> append(const append_request& request) override;
  std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) override;
  result<std::vector<event_record>> read(const entity_id& entity,
                                         std::uint64_t from = 1,
                                         std::uint64_t to = last_version) override;
  result<std::uint64_t> head(const entity_id& entity) override;
  result<std::vector<entity_id>> list_entities(std::optional<entity_id> after,
                                               std::size_t limit) override;
  /// The global log: as `event_store` says. Commits that take positions run
  /// one at a time (the conditional checks before them still run
  /// concurrently), so each read's snapshot holds a gapless prefix.
  result<log_page> read_all(std::uint64_t after, std::size_t limit,
                            const log_filter& filter = {}) override;
  result<std::uint64_t> last_position() override;
  result<std::optional<std::uint64_t>> find_command(const entity_id& entity,
                                                    const uuid& command) override;
  /// Views: as `event_store` says. A view's rows and checkpoint are written
  /// in one transaction that holds the checkpoint's lock (GetForUpdate), so
  /// two runners of one view never both commit from one checkpoint.
  result<std::optional<view_checkpoint>> read_view_checkpoint(std::string_view view) override;
  result<view_checkpoint> reset_view(std::string_view view, std::uint32_t version,
                                     const std::optional<view_checkpoint>& expected) override;
  result<view_checkpoint> commit_view(std::string_view view, const view_checkpoint& expected,
                                      std::uint64_t position,
                                      std::span<const view_change> changes) override;
  result<std::optional<std::vector<std::uint8_t>>> read_view(std::string_view view,
                                                             std::string_view key) override;
  result<std::vector<view_row>> scan_view(std::string_view view, std::string_view prefix,
                                          std::string_view after,
                                          std::size_t limit) override;

  /// Returns true when appends sync the write-ahead log (`sync`, not
  /// `in_memory`).
  bool appends_wait_for_device() const noexcept override;

  /// Calls `visit(key, value)` for every key of the database once, in
  /// bytewise key order, over one snapshot: keys cafes did not write too
  /// (take them apart with `rocksdb_layout::parse_key`). The views are valid
  /// only during the call; `visit` returns false to stop early and must not
  /// call this store (the scan holds its lock throughout). For tools
  /// (`cafes-admin`); an application never needs it. Returns the number of
  /// keys visited.
  /// Errors (the keys before the failure have been visited):
  /// - `ec::decode_failure`: RocksDB found a damaged block (checksum
  ///   mismatch, corrupt table file).
  /// - `ec::storage_failure`: any other read error.
  /// - `ec::storage_unavailable`: the database is closed after a failed reopen.
  result<std::uint64_t>
  scan(const std::function<bool(std::string_view key, std::string_view value)>& visit);

  /// Returns RocksDB's estimate of the number of keys (for a progress
  /// display; it can be far off, and counts deleted keys until compaction);
  /// 0 when it has none.
  std::uint64_t estimated_keys();

  /// Returns the options this store was opened with.
  const rocksdb_options& options() const noexcept;

  /// Returns the database's id, written into its marker when it was created
  /// (a new random id for an in-memory store).
  const uuid& database_id() const noexcept;

private:
  struct impl;
  explicit rocksdb_store(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

} // namespace cafes
