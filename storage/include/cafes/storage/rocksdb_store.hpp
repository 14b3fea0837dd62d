#pragma once
// The embedded RocksDB store (the default): a TransactionDB where each append
// locks and compares the entity's head key (GetForUpdate) before writing.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "cafes/storage/event_store.hpp"

namespace cafes {

struct rocksdb_options {
  /// Database directory. Its parent must exist; the directory itself is
  /// created when missing. Ignored when `in_memory` is set.
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
  /// How long an append waits for another writer's lock on the same entity
  /// before retrying: 1000 ms.
  std::chrono::milliseconds lock_timeout{1000};
  /// How many times a lock timeout is retried before `ec::storage_failure`: 3.
  int lock_retries = 3;
  /// Block cache for reads: 64 MiB.
  std::size_t block_cache_bytes = 64u << 20;
};

class rocksdb_store final : public event_store {
public:
  /// Opens (creating when missing) the database described by `options`.
  /// Errors: `ec::storage_unavailable` with the path and RocksDB's reason when
  /// the parent directory is missing, the path is not writable, or another
  /// process (or another store in this process) holds the database's lock.
  /// Nothing is written on failure.
  static result<std::unique_ptr<rocksdb_store>> open(const rocksdb_options& options);

  /// Closes the database; every acknowledged append is already in its WAL.
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
  result<std::uint64_t> append(const append_request& request) override;
  std::vector<result<std::uint64_t>>
  append_batch(std::span<const append_request> requests) override;
  result<std::vector<event_record>> read(const entity_id& entity,
                                         std::uint64_t from = 1,
                                         std::uint64_t to = last_version) override;
  result<std::uint64_t> head(const entity_id& entity) override;

  /// Returns the options this store was opened with.
  const rocksdb_options& options() const noexcept;

private:
  struct impl;
  explicit rocksdb_store(std::unique_ptr<impl> state);
  std::unique_ptr<impl> impl_;
};

} // namespace cafes
