#include "cafes/storage/rocksdb_store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <numeric>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/transaction.h>
#include <rocksdb/utilities/transaction_db.h>

#include "cafes/storage/rocksdb_layout.hpp"
#include "database_directory.hpp"

namespace cafes {

namespace layout = rocksdb_layout;

/// Hash buckets of the memtable: one per 64 bytes of memtable, at most 2^20
/// (8 MiB of pointers in a 64 MiB memtable); more entities than buckets
/// share them (still correct, a little slower). The bucket array lives in
/// the memtable's own memory: sized from the memtable, it never fills it.
std::size_t memtable_buckets(std::size_t write_buffer_bytes) {
  return std::clamp<std::size_t>(write_buffer_bytes / 64, 1024, std::size_t{1} << 20);
}

/// Smallest memtable the store accepts.
constexpr std::size_t min_write_buffer_bytes = 64 * 1024;

/// Skip-list height per memtable bucket. RocksDB's default of 4 (branching
/// 4) serves ~256 keys per bucket well and degrades linearly past that: one
/// entity with a long history in the memtable made appends quadratic.
/// 12 levels serve 4^12 = 16M keys in one bucket at O(log n).
constexpr std::int32_t memtable_skiplist_height = 12;

namespace {

/// The one place where rocksdb::Status becomes a cafes failure.
failure translate(const rocksdb::Status& status, const std::string& context) {
  auto code = ec::storage_failure;
  std::string reason = status.ToString();
  if (status.IsTimedOut() || status.IsBusy() || status.IsTryAgain()) {
    code = ec::timeout;
  } else if (status.IsNoSpace()) {
    reason = "disk full (" + reason + ")";
  } else if (status.IsCorruption()) {
    code = ec::decode_failure;
  }
  return failure::make(code, context + ": " + reason);
}

bool is_lock_contention(const rocksdb::Status& status) {
  return status.IsTimedOut() || status.IsBusy() || status.IsTryAgain()
         || status.IsDeadlock();
}

/// A failed commit whose events may nevertheless be in the WAL: the write
/// reached the file and the sync after it failed (RocksDB reports
/// "While fdatasync" / "While fsync"). A reopen replays such a record.
bool may_be_stored(const rocksdb::Status& status) {
  return status.IsIOError() && status.ToString().find("sync") != std::string::npos;
}

/// The entity prefix of every cafes key ('e' or 'h', then the 16-byte id).
/// Unlike RocksDB's fixed-prefix transform it never asserts on a shorter
/// key (a foreign or damaged key): such a key is its own prefix.
class entity_prefix final : public rocksdb::SliceTransform {
public:
  const char* Name() const override { return "cafes.entity_prefix.17"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return {key.data(), std::min(key.size(), rocksdb_layout::entity_prefix_size)};
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= rocksdb_layout::entity_prefix_size;
  }
};

/// A process killed by SIGXFSZ loses its chance to report: with the signal
/// ignored, a write past the file size limit fails with EFBIG and becomes a
/// storage error. Left alone when the program handles the signal itself.
void ignore_file_size_signal() {
  struct sigaction current{};
  if (::sigaction(SIGXFSZ, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
    std::signal(SIGXFSZ, SIG_IGN);
}

} // namespace

namespace {

/// Decodes the checkpoint stored for `view` (`status` and `value` from
/// reading its key). Errors: the read's, `ec::decode_failure`.
result<std::optional<view_checkpoint>> decode_checkpoint(std::string_view view,
                                                         const rocksdb::Status& status,
                                                         const std::string& value) {
  std::optional<view_checkpoint> out;
  if (status.IsNotFound())
    return out;
  if (!status.ok())
    return translate(status, "reading the checkpoint of view '" + std::string{view} + "'");
  auto stored = layout::decode_view_checkpoint(value);
  if (!stored)
    return failure::make(ec::decode_failure, "view '" + std::string{view}
                                               + "': " + stored.error().message);
  if (stored->name != view)
    return failure::make(ec::decode_failure,
                         "view '" + std::string{view} + "' shares its stored id with view '"
                           + stored->name + "': rename one of them");
  out = stored->checkpoint;
  return out;
}

} // namespace

struct rocksdb_store::impl {
  /// Released last: the database is closed before another store may open it.
  std::unique_ptr<database_directory::claim> claim;
  rocksdb_options options;
  std::string path;
  uuid database_id;
  rocksdb::Options db_options;
  rocksdb::TransactionDBOptions txn_db_options;
  std::unique_ptr<rocksdb::Env> memory_env; // outlives db
  /// Shared by every call; exclusive while a failed database is reopened.
  std::shared_mutex db_mutex;
  std::unique_ptr<rocksdb::DB> db; // null when a reopen failed
  rocksdb::TransactionDB* txn_db = nullptr; // db, unless read-only
  rocksdb::WriteOptions write_options;
  rocksdb::TransactionOptions transaction_options;
  /// A commit failed with an I/O error (a full disk): RocksDB refuses
  /// writes until the database is reopened, and its WAL must not be synced
  /// meanwhile (Debian's build aborts on that).
  std::atomic<bool> write_failed{false};
  /// A failed commit may have reached the WAL (its sync failed, the caller
  /// got unknown_outcome). The open database does not show such a write,
  /// a reopen replays it: until then a read could say "not written" of a
  /// write that is stored, so reads reopen first (read_barrier).
  std::atomic<bool> outcome_unknown{false};
  std::mutex write_failure_mutex;
  std::string write_failure; // the first failed write's reason
  std::string reopen_failure; // the last failed reopen's reason
  std::chrono::steady_clock::time_point next_reopen{};
  /// Corruption met while writing (a compaction read a damaged block):
  /// RocksDB takes no more writes, and reopening would only pile up table
  /// files and stall, so the store stays in this state until it is closed.
  std::atomic<bool> corrupt{false};
  std::string corruption; // its reason; set once, before `corrupt`
  /// Taken around assigning global positions and committing: commits that
  /// carry positions happen one at a time, in position order, so a reader
  /// (any snapshot) sees a gapless prefix of the log, and a commit that
  /// fails takes no positions.
  std::mutex commit_mutex;
  /// The last committed position; reloaded from the database on (re)open.
  std::uint64_t last_position = 0;

  /// Reads the global log's last position from the database (commits are
  /// atomic: a concurrent one is seen whole or not at all). Call with the
  /// database open.
  result<std::uint64_t> stored_last_position() {
    std::string value;
    auto status = db->Get(rocksdb::ReadOptions{}, layout::position_key(), &value);
    if (status.IsNotFound())
      return std::uint64_t{0};
    if (!status.ok())
      return translate(status, "reading the global log's last position");
    std::uint64_t position = 0;
    if (!layout::decode_version(value, position))
      return failure::make(ec::decode_failure,
                           "corrupt record of the global log's last position");
    return position;
  }

  rocksdb::Status open_db() {
    if (options.read_only) {
      rocksdb::DB* raw = nullptr;
      auto status = rocksdb::DB::OpenForReadOnly(db_options, path, &raw);
      db.reset(raw);
      return status;
    }
    rocksdb::TransactionDB* raw = nullptr;
    auto status = rocksdb::TransactionDB::Open(db_options, txn_db_options, path, &raw);
    db.reset(raw);
    txn_db = raw;
    return status;
  }

  void record_corruption(const rocksdb::Status& status) {
    std::lock_guard guard{write_failure_mutex};
    if (!corrupt) {
      corruption = status.ToString();
      corrupt = true;
    }
  }

  /// The error every append gets once the store found corruption.
  failure corrupt_failure() {
    std::lock_guard guard{write_failure_mutex};
    return failure::make(ec::storage_failure,
                         "the database at '" + path + "' is damaged (" + corruption
                           + "): it takes no more writes; reads of intact entities "
                             "go on. Close it and run cafes-admin verify --db '"
                           + path + "' to find the damage");
  }

  void record_write_failure(const rocksdb::Status& status) {
    std::lock_guard guard{write_failure_mutex};
    if (!write_failed.exchange(true))
      write_failure = status.ToString();
  }

  /// After a failed write, reopens the database (at most once a second):
  /// RocksDB 7.8 does not resume after a failed WAL write, and a reopen
  /// replays the WAL up to the last complete write, i.e. every acknowledged
  /// append. Returns nothing when the store writes again, else the error
  /// every append gets meanwhile.
  /// `now`: reopen even within the second (a read must learn an unknown
  /// outcome, see outcome_unknown).
  std::optional<failure> recover(bool now_or_never = false) {
    if (!write_failed)
      return std::nullopt;
    std::unique_lock exclusive{db_mutex};
    std::lock_guard guard{write_failure_mutex};
    if (!write_failed)
      return std::nullopt; // another caller recovered meanwhile
    auto now = std::chrono::steady_clock::now();
    if (now >= next_reopen || (now_or_never && outcome_unknown)) {
      next_reopen = now + std::chrono::seconds{1};
      if (db) {
        db->Close().PermitUncheckedError();
        db.reset();
        txn_db = nullptr;
      }
      auto status = open_db();
      if (status.ok()) {
        // A failed commit may have reached the log after all (a failed
        // sync): the reopen replayed it, positions and all.
        auto position = stored_last_position();
        if (position) {
          last_position = *position;
          outcome_unknown = false;
          write_failed = false;
          write_failure.clear();
          reopen_failure.clear();
          return std::nullopt;
        }
        reopen_failure = position.error().message;
      } else {
        reopen_failure = status.ToString();
      }
    }
    auto message = "the store stopped writing after a failed write (" + write_failure
                   + ")";
    if (!reopen_failure.empty())
      message += "; reopening it failed (" + reopen_failure + ")";
    return failure::make(ec::storage_failure,
                         message + "; it retries at most once a second");
  }

  /// Called by every read before it takes `db_mutex`: after a write whose
  /// outcome is unknown, reopens the database so that the read sees that
  /// write if it is stored (RocksDB replays it from the WAL). Returns the
  /// error the read gets when the reopen failed: storage_unavailable, as
  /// the store cannot tell what it holds.
  std::optional<failure> read_barrier() {
    if (!outcome_unknown)
      return std::nullopt;
    auto stopped = recover(true);
    if (!stopped || !outcome_unknown)
      return std::nullopt;
    return failure::make(ec::storage_unavailable,
                         "a write to the database at '" + path
                           + "' has an unknown outcome (its log sync failed) and "
                             "reopening to learn it failed: "
                           + stopped->message);
  }

  /// Returns the database, or the error a call gets while it is closed
  /// after a failed reopen. Call with `db_mutex` held.
  result<rocksdb::DB*> database() {
    if (db)
      return db.get();
    std::lock_guard guard{write_failure_mutex};
    return failure::make(ec::storage_unavailable,
                         "database at '" + path + "' is closed: reopening it after "
                           "a failed write failed (" + reopen_failure + ")");
  }

  /// Runs `write(txn, current)` in a transaction holding the lock of view
  /// `view`'s checkpoint (`current`: what it holds), and commits what it
  /// staged. Returns what `write` returned, or the commit's error.
  template <class Write>
  auto write_view(std::string_view view, Write&& write)
    -> decltype(write(std::declval<rocksdb::Transaction&>(),
                        std::declval<const std::optional<view_checkpoint>&>())) {
    auto& impl = *this;
    if (impl.options.read_only)
      return failure::make(ec::storage_unavailable,
                           "the store at '" + impl.path + "' is open read-only");
    if (impl.corrupt)
      return impl.corrupt_failure();
    if (auto stopped = impl.recover())
      return *stopped;
    std::shared_lock shared{impl.db_mutex};
    if (auto db = impl.database(); !db)
      return std::move(db).error();
    auto context = "writing view '" + std::string{view} + "'";
    std::unique_ptr<rocksdb::Transaction> txn{
      impl.txn_db->BeginTransaction(impl.write_options, impl.transaction_options)};
    std::string value;
    auto status = txn->GetForUpdate(rocksdb::ReadOptions{},
                                    layout::view_checkpoint_key(layout::view_id(view)), &value);
    if (!status.ok() && !status.IsNotFound())
      return translate(status, context);
    auto current = decode_checkpoint(view, status, value);
    if (!current)
      return std::move(current).error();
    auto out = write(*txn, *current);
    if (!out) {
      txn->Rollback().PermitUncheckedError();
      return out;
    }
    status = txn->Commit();
    if (status.ok())
      return out;
    if (status.IsCorruption()) {
      impl.record_corruption(status);
      return failure::make(ec::storage_failure, context + ": " + impl.corrupt_failure().message);
    }
    if (!is_lock_contention(status))
      impl.record_write_failure(status);
    if (may_be_stored(status)) {
      impl.outcome_unknown = true;
      return failure::make(ec::unknown_outcome,
                           context + ": the write-ahead log sync failed (" + status.ToString()
                             + "); the change may or may not be stored: read the "
                               "checkpoint back before acting on this");
    }
    return translate(status, context);
  }

  enum class step { accepted, refused, contended };

  /// Runs one request's conditional check and writes inside `txn`.
  /// `staged` maps each entity already appended to in this transaction to
  /// its new head: the transaction holds its lock, and (indexing being off)
  /// cannot read its own writes.
  step stage(rocksdb::Transaction& txn, const append_request& request,
             std::unordered_map<entity_id, std::uint64_t>& staged,
             std::unordered_map<std::string, std::uint64_t>& staged_commands,
             result<std::uint64_t>& out) {
    if (auto refused = check_append(request)) {
      out = std::move(*refused);
      return step::refused;
    }
    txn.SetSavePoint();
    auto refuse = [&](const rocksdb::Status& status) {
      txn.RollbackToSavePoint().PermitUncheckedError();
      if (is_lock_contention(status))
        return step::contended;
      if (status.IsCorruption()) {
        // A damaged block met by the check itself (a head, a command): the
        // entity's version cannot be known, so this is the damage a
        // compaction finds, and the store stops writing alike.
        record_corruption(status);
        out = failure::make(ec::storage_failure, "append to entity "
                                                   + to_string(request.entity) + ": "
                                                   + corrupt_failure().message);
        return step::refused;
      }
      out = translate(status, "append to entity " + to_string(request.entity));
      return step::refused;
    };
    std::string head_value;
    std::uint64_t actual = 0;
    rocksdb::Status status;
    auto earlier = staged.find(request.entity);
    if (earlier != staged.end()) {
      actual = earlier->second;
    } else {
      status = txn.GetForUpdate(rocksdb::ReadOptions{},
                                layout::head_key(request.entity), &head_value);
    }
    if (earlier != staged.end()) {
      // already locked and known
    } else if (status.ok()) {
      if (!layout::decode_version(head_value, actual)) {
        txn.RollbackToSavePoint().PermitUncheckedError();
        out = failure::make(ec::decode_failure,
                            "corrupt head record of entity "
                              + to_string(request.entity));
        return step::refused;
      }
    } else if (!status.IsNotFound()) {
      return refuse(status);
    } else {
      // No head: the entity must have no events either. Events without a
      // head are damage; writing version 1 over them would branch history.
      std::string first;
      status = txn.Get(rocksdb::ReadOptions{}, layout::event_key(request.entity, 1),
                       &first);
      if (status.ok()) {
        txn.RollbackToSavePoint().PermitUncheckedError();
        out = failure::make(ec::decode_failure,
                            "entity " + to_string(request.entity)
                              + " is damaged: it has stored events but no head record");
        return step::refused;
      }
      if (!status.IsNotFound())
        return refuse(status);
    }
    if (actual != request.expected_version) {
      auto refused = failure::conflict(request.entity, request.expected_version, actual);
      // The missed events, read under the head lock the check holds (so
      // they are exactly the versions it saw). Those of an earlier request
      // in this batch are not written yet: versions only then.
      if (earlier == staged.end() && actual > request.expected_version
          && actual - request.expected_version <= request.missed_events_cap) {
        for (auto version = request.expected_version + 1; version <= actual; ++version) {
          std::string value;
          status = txn.Get(rocksdb::ReadOptions{}, layout::event_key(request.entity, version),
                           &value);
          if (!status.ok() && !status.IsNotFound())
            return refuse(status);
          auto record = status.ok()
                          ? layout::decode_event_value(request.entity, version, value)
                          : result<event_record>{failure::make(
                            ec::decode_failure,
                            "history of entity " + to_string(request.entity)
                              + " is damaged: its head says version " + std::to_string(actual)
                              + " but event " + std::to_string(version) + " is missing")};
          if (!record) {
            txn.RollbackToSavePoint().PermitUncheckedError();
            out = std::move(record).error();
            return step::refused;
          }
          refused.missed_events.push_back(std::move(*record));
        }
      }
      txn.PopSavePoint().PermitUncheckedError();
      out = std::move(refused);
      return step::refused;
    }
    // A command applied before (by any writer: they all hold the head lock
    // while they check and write) is not applied again.
    auto commands = commands_of(request);
    for (const auto& [command, version] : commands) {
      auto key = layout::command_key(request.entity, command);
      std::uint64_t applied = 0;
      if (auto earlier = staged_commands.find(key); earlier != staged_commands.end()) {
        applied = earlier->second;
      } else {
        std::string value;
        status = txn.Get(rocksdb::ReadOptions{}, key, &value);
        if (status.IsNotFound())
          continue;
        if (!status.ok())
          return refuse(status);
        if (!layout::decode_version(value, applied)) {
          txn.RollbackToSavePoint().PermitUncheckedError();
          out = failure::make(ec::decode_failure,
                              "corrupt command record of entity " + to_string(request.entity));
          return step::refused;
        }
      }
      txn.PopSavePoint().PermitUncheckedError();
      out = duplicate_command(request.entity, command, applied);
      return step::refused;
    }
    for (const auto& [command, version] : commands)
      staged_commands[layout::command_key(request.entity, command)] = version;
    // Accepted: the head lock makes this entity's next keys ours. The
    // writes come in `commit_once`, once positions are known.
    txn.PopSavePoint().PermitUncheckedError();
    auto version = actual + request.events.size();
    staged[request.entity] = version;
    out = version;
    return step::accepted;
  }

  /// Writes the accepted requests' events at their versions and at the next
  /// global positions, their log entries, heads and the last position.
  /// Call with `commit_mutex` held. Returns the last position written.
  /// Untracked writes: RocksDB would lock each key again, and every one is
  /// already ours (an entity's keys by its head lock, the log's by the
  /// commit mutex); the locking was ~2 us of a ~6 us append.
  result<std::uint64_t> write_accepted(rocksdb::Transaction& txn,
                                       std::span<const append_request> requests,
                                       const std::vector<std::size_t>& accepted,
                                       const std::vector<result<std::uint64_t>>& out) {
    auto position = last_position;
    for (auto index : accepted) {
      const auto& request = requests[index];
      auto version = *out[index] - request.events.size();
      for (const auto& event : request.events) {
        ++version;
        ++position;
        auto status = txn.PutUntracked(layout::event_key(request.entity, version),
                              layout::encode_event_value(event, position));
        if (status.ok())
          status = txn.PutUntracked(layout::log_key(position),
                           layout::encode_log_entry(
                             {request.entity, version, request.aggregate, event.type}));
        if (!status.ok())
          return translate(status, "append to entity " + to_string(request.entity));
      }
      auto status = txn.PutUntracked(layout::head_key(request.entity), layout::encode_version(version));
      for (const auto& [command, command_version] : commands_of(request))
        if (status.ok())
          status = txn.PutUntracked(layout::command_key(request.entity, command),
                           layout::encode_version(command_version));
      if (!status.ok())
        return translate(status, "append to entity " + to_string(request.entity));
    }
    auto status = txn.PutUntracked(layout::position_key(), layout::encode_version(position));
    if (!status.ok())
      return translate(status, "writing the global log's last position");
    return position;
  }

  /// Stages `indices` of `requests` in one transaction and commits it.
  /// Returns the indices that met lock contention and should be retried.
  std::vector<std::size_t> commit_once(std::span<const append_request> requests,
                                       const std::vector<std::size_t>& indices,
                                       std::vector<result<std::uint64_t>>& out) {
    std::unique_ptr<rocksdb::Transaction> txn{
      txn_db->BeginTransaction(write_options, transaction_options)};
    // The index would only serve reads of our own writes, which `staged`
    // answers; without it a Put is a plain append (measured ~12% of CPU).
    txn->DisableIndexing();
    std::unordered_map<entity_id, std::uint64_t> staged;
    std::unordered_map<std::string, std::uint64_t> staged_commands;
    std::vector<std::size_t> accepted;
    std::vector<std::size_t> contended;
    for (auto index : indices) {
      switch (stage(*txn, requests[index], staged, staged_commands, out[index])) {
        case step::accepted: accepted.push_back(index); break;
        case step::contended: contended.push_back(index); break;
        case step::refused: break;
      }
    }
    if (accepted.empty()) {
      txn->Rollback().PermitUncheckedError();
      return contended;
    }
    // Positions follow the requests' order (their arrival at the storage
    // actor), not the entity order their locks were taken in. Within an
    // entity the two agree (a stable sort), so versions rise with positions.
    std::sort(accepted.begin(), accepted.end());
    std::lock_guard in_order{commit_mutex};
    auto written = write_accepted(*txn, requests, accepted, out);
    if (!written) {
      txn->Rollback().PermitUncheckedError();
      for (auto index : accepted)
        out[index] = written.error();
      return contended;
    }
    auto status = txn->Commit();
    if (status.ok())
      last_position = *written;
    if (!status.ok()) {
      if (status.IsCorruption())
        record_corruption(status);
      else if (!is_lock_contention(status))
        record_write_failure(status);
      const auto together = " (committed with " + std::to_string(accepted.size() - 1)
                            + " other appends)";
      for (auto index : accepted) {
        auto context = "append to entity " + to_string(requests[index].entity) + together;
        if (status.IsCorruption())
          out[index] = failure::make(ec::storage_failure,
                                     context + ": " + corrupt_failure().message);
        else if (may_be_stored(status)) {
          // The bytes reached the WAL before its sync failed: a reopen
          // replays them. Saying "not written" would be a lie.
          outcome_unknown = true;
          out[index] = failure::make(
            ec::unknown_outcome,
            context + ": the write-ahead log sync failed (" + status.ToString()
              + "); the events may or may not be stored: read the entity back "
                "before acting on this");
        } else
          // The record never fully reached the WAL: nothing of it is stored.
          out[index] = translate(status, context);
      }
    }
    return contended;
  }
};

rocksdb_store::rocksdb_store(std::unique_ptr<impl> state)
  : impl_(std::move(state)) {}

rocksdb_store::~rocksdb_store() {
  if (impl_ && impl_->db) {
    // After a failed write or corruption RocksDB takes no more writes (and
    // Debian's build aborts on a WAL sync then): the WAL already holds
    // everything acknowledged. Otherwise sync it, then flush the memtable:
    // without a flush every WAL file stays, and every open replays them all.
    if (!impl_->write_failed && !impl_->corrupt && !impl_->options.read_only) {
      impl_->db->FlushWAL(true).PermitUncheckedError();
      if (!impl_->options.in_memory)
        impl_->db->Flush(rocksdb::FlushOptions{}).PermitUncheckedError();
    }
    impl_->db->Close().PermitUncheckedError();
  }
}

const rocksdb_options& rocksdb_store::options() const noexcept {
  return impl_->options;
}

bool rocksdb_store::appends_wait_for_device() const noexcept {
  return impl_->options.sync && !impl_->options.in_memory;
}

const uuid& rocksdb_store::database_id() const noexcept {
  return impl_->database_id;
}

namespace {

/// The message for a database RocksDB found damaged while opening.
std::string damaged_message(const std::string& path, const rocksdb::Status& status) {
  return "cannot open database at '" + path + "': it is damaged (" + status.ToString()
         + "). cafes refuses to open it rather than drop acknowledged events. "
           "Copy the directory first; if the damage is in a write-ahead log, "
           "cafes-admin recover --db '" + path
         + "' opens it at the last intact record (the events after it are lost); "
           "otherwise restore a backup or an export";
}

} // namespace

result<std::unique_ptr<rocksdb_store>>
rocksdb_store::open(const rocksdb_options& options) {
  if (options.write_buffer_bytes < min_write_buffer_bytes)
    return failure::make(ec::invalid_argument,
                         "write_buffer_bytes must be at least 64 KiB (got "
                           + std::to_string(options.write_buffer_bytes) + ")");
  auto state = std::make_unique<impl>();
  state->options = options;
  auto& path = state->path;
  path = options.path;
  auto& db_options = state->db_options;
  bool create = true;
  if (options.in_memory) {
    state->memory_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_options.env = state->memory_env.get();
    if (path.empty())
      path = "/cafes-in-memory";
    state->database_id = uuid::random();
  } else {
    if (path.empty())
      return failure::make(ec::invalid_argument,
                           "a RocksDB store needs a path (or in_memory)");
    namespace directory = database_directory;
    if (!options.read_only) {
      if (auto made = directory::ensure_exists(path); !made)
        return std::move(made).error();
      auto claim = directory::claim::take(path);
      if (!claim)
        return std::move(claim).error();
      state->claim = std::move(*claim);
    }
    // Decided before RocksDB touches the directory: it would otherwise
    // write its LOCK and LOG files into anything it is pointed at.
    auto found = directory::inspect(path, options.read_only);
    if (!found)
      return std::move(found).error();
    create = found->create;
    state->database_id = found->id;
    if (create && found->id.is_nil()) {
      auto id = directory::write_marker(path);
      if (!id)
        return std::move(id).error();
      state->database_id = *id;
    }
    ignore_file_size_signal();
  }
  // Only a new database is created; `error_if_exists` guards the case of a
  // CURRENT file appearing meanwhile. A reopen after a failed write never
  // creates one either: where it vanished (an unmounted disk), creating an
  // empty one would start a new history.
  db_options.create_if_missing = create;
  db_options.error_if_exists = create && !options.in_memory;
  // Debian's build logs at DEBUG unless told otherwise.
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  db_options.max_background_jobs = 2;
  db_options.write_buffer_size = options.write_buffer_bytes;
  // The default (point in time) opens a WAL damaged in the middle without
  // an error and drops every acknowledged record after the damage.
  db_options.wal_recovery_mode = options.recover_to_last_intact
                                   ? rocksdb::WALRecoveryMode::kPointInTimeRecovery
                                   : rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  // Every key starts with a 17-byte entity prefix ('e' or 'h', then the id)
  // and every access stays inside one prefix. A hashed memtable finds an
  // entity's keys without walking one big skip list, whose key comparisons
  // took half the CPU of an append (measured: +14% single appends, +30%
  // group-committed ones). Such a memtable takes one writer at a time.
  db_options.prefix_extractor = std::make_shared<entity_prefix>();
  db_options.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(
    memtable_buckets(options.write_buffer_bytes), memtable_skiplist_height));
  db_options.allow_concurrent_memtable_write = false;
  rocksdb::BlockBasedTableOptions table;
  // Appends probe keys that usually do not exist: a bloom filter pays.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  // The index keeps each block's first key, so a seek that lands before a
  // block's first key reads no block. Without it, a filter false positive
  // (about 1 probe in 200, measured) made a read of one entity read the
  // next block of an older table file, another entity's, and fail when that
  // block was damaged. It narrows, not closes, that door: an id that sorts
  // inside a damaged block shared by several entities still reads it on a
  // false positive, and files written before this option keep their index
  // until compacted.
  table.index_type = rocksdb::BlockBasedTableOptions::kBinarySearchWithFirstKey;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  state->txn_db_options.transaction_lock_timeout = options.lock_timeout.count();
  if (options.recover_to_last_intact && !options.read_only && !create) {
    // A TransactionDB (allow_2pc) keeps every write-ahead log a prepared
    // transaction might be in: after its point-in-time recovery the damaged
    // log stays, and the next normal open refuses the database again. A
    // plain DB recovers, flushes what it kept and deletes the damaged log.
    rocksdb::DB* raw = nullptr;
    auto status = rocksdb::DB::Open(db_options, path, &raw);
    std::unique_ptr<rocksdb::DB> plain{raw};
    if (status.ok())
      status = plain->Close();
    if (status.IsCorruption())
      return failure::make(ec::storage_unavailable, damaged_message(path, status));
    if (!status.ok())
      return failure::make(ec::storage_unavailable,
                           "cannot open database at '" + path
                             + "': " + status.ToString());
  }
  auto status = state->open_db();
  if (status.IsCorruption())
    return failure::make(ec::storage_unavailable, damaged_message(path, status));
  if (!status.ok())
    return failure::make(ec::storage_unavailable,
                         "cannot open database at '" + path
                           + "': " + status.ToString());
  auto position = state->stored_last_position();
  if (!position)
    return failure::make(ec::storage_unavailable,
                         "cannot open database at '" + path + "': " + position.error().message);
  state->last_position = *position;
  db_options.create_if_missing = false;
  db_options.error_if_exists = false;
  state->write_options.sync = options.sync;
  state->transaction_options.lock_timeout = options.lock_timeout.count();
  state->transaction_options.deadlock_detect = true;
  return std::unique_ptr<rocksdb_store>{new rocksdb_store(std::move(state))};
}

result<std::uint64_t> rocksdb_store::append(const append_request& request) {
  return std::move(append_batch(std::span{&request, 1}).front());
}

std::vector<result<std::uint64_t>>
rocksdb_store::append_batch(std::span<const append_request> requests) {
  std::vector<result<std::uint64_t>> out(
    requests.size(), result<std::uint64_t>{std::uint64_t{0}});
  // A malformed request is refused as such even by a store that writes nothing.
  auto refuse_all = [&](const failure& reason) {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (auto malformed = check_append(requests[i]))
        out[i] = std::move(*malformed);
      else
        out[i] = failure::make(reason.code, "append to entity " + to_string(requests[i].entity)
                                              + ": " + reason.message);
    }
    return out;
  };
  if (impl_->options.read_only)
    return refuse_all(failure::make(ec::storage_unavailable,
                                    "the store at '" + impl_->path
                                      + "' is open read-only"));
  if (impl_->corrupt)
    return refuse_all(impl_->corrupt_failure());
  if (auto stopped = impl_->recover())
    return refuse_all(*stopped);
  std::shared_lock shared{impl_->db_mutex};
  if (auto db = impl_->database(); !db)
    return refuse_all(db.error());
  // Lock head keys in one global order (by entity, stable within an entity)
  // so that concurrent batches over one database never deadlock.
  std::vector<std::size_t> pending(requests.size());
  std::iota(pending.begin(), pending.end(), std::size_t{0});
  std::stable_sort(pending.begin(), pending.end(), [&](auto lhs, auto rhs) {
    return requests[lhs].entity < requests[rhs].entity;
  });
  for (int attempt = 0; !pending.empty(); ++attempt) {
    pending = impl_->commit_once(requests, pending, out);
    if (attempt >= impl_->options.lock_retries) {
      for (auto index : pending)
        out[index] = failure::make(
          ec::timeout, "append to entity " + to_string(requests[index].entity)
                         + ": lock wait timed out "
                         + std::to_string(attempt + 1) + " times");
      break;
    }
  }
  return out;
}

result<std::vector<event_record>>
rocksdb_store::read(const entity_id& entity, std::uint64_t from,
                    std::uint64_t to) {
  std::vector<event_record> out;
  from = std::max<std::uint64_t>(from, 1);
  if (from > to)
    return out;
  const auto prefix = layout::event_key_prefix(entity);
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  // One snapshot for the events and the head, so a concurrent append
  // cannot look like a disagreement between them.
  rocksdb::ManagedSnapshot snapshot{*db};
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.prefix_same_as_start = true; // one entity's events only
  std::unique_ptr<rocksdb::Iterator> it{(*db)->NewIterator(read_options)};
  auto damaged = [&](const std::string& why) {
    return failure::make(ec::decode_failure,
                         "history of entity " + to_string(entity) + " is damaged: " + why);
  };
  auto expected_version = from;
  for (it->Seek(layout::event_key(entity, from)); it->Valid(); it->Next()) {
    auto key = it->key().ToStringView();
    if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix)
      break;
    std::uint64_t version = 0;
    layout::decode_version(key.substr(prefix.size()), version);
    if (version > to)
      break;
    if (version != expected_version)
      return damaged("version " + std::to_string(version) + " where "
                     + std::to_string(expected_version) + " was expected (a gap)");
    auto record = layout::decode_event_value(entity, version, it->value().ToStringView());
    if (!record)
      return std::move(record).error();
    out.push_back(std::move(*record));
    ++expected_version;
  }
  if (!it->status().ok())
    return translate(it->status(), "read of entity " + to_string(entity));
  if (to == last_version) {
    // A read to the end must end at the head: events past it, or a head
    // past the last event, mean a damaged entity that every command would
    // otherwise meet as an endless conflict.
    std::string value;
    std::uint64_t head = 0;
    auto status = (*db)->Get(read_options, layout::head_key(entity), &value);
    if (status.ok() && !layout::decode_version(value, head))
      return failure::make(ec::decode_failure,
                           "corrupt head record of entity " + to_string(entity));
    if (!status.ok() && !status.IsNotFound())
      return translate(status, "head of entity " + to_string(entity));
    auto last = expected_version - 1;
    if (out.empty() ? head >= from : head != last) {
      if (status.IsNotFound())
        return damaged("it has events up to version " + std::to_string(last)
                       + " but no head record");
      return damaged("its head says version " + std::to_string(head)
                     + " but its events end at version "
                     + std::to_string(out.empty() ? from - 1 : last));
    }
  }
  return out;
}

result<std::uint64_t> rocksdb_store::head(const entity_id& entity) {
  std::string value;
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  auto status = (*db)->Get(rocksdb::ReadOptions{}, layout::head_key(entity), &value);
  if (status.IsNotFound())
    return std::uint64_t{0};
  if (!status.ok())
    return translate(status, "head of entity " + to_string(entity));
  std::uint64_t version = 0;
  if (!layout::decode_version(value, version))
    return failure::make(ec::decode_failure,
                         "corrupt head record of entity " + to_string(entity));
  return version;
}

} // namespace cafes

namespace cafes {

result<std::vector<entity_id>>
rocksdb_store::list_entities(std::optional<entity_id> after, std::size_t limit) {
  std::vector<entity_id> out;
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  rocksdb::ReadOptions read_options;
  read_options.total_order_seek = true; // across entity prefixes
  std::unique_ptr<rocksdb::Iterator> it{(*db)->NewIterator(read_options)};
  auto start = after ? layout::head_key(*after) : std::string(1, layout::head_prefix);
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    auto key = it->key().ToStringView();
    if (key.empty() || key.front() != layout::head_prefix)
      break;
    auto parsed = layout::parse_key(key);
    if (!parsed)
      continue; // not a head key; `cafes-admin verify` reports it
    auto id = parsed->entity;
    if (after && id == *after)
      continue;
    out.push_back(id);
  }
  if (!it->status().ok())
    return translate(it->status(), "listing entities");
  return out;
}

result<std::uint64_t> rocksdb_store::scan(
  const std::function<bool(std::string_view key, std::string_view value)>& visit) {
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  rocksdb::ManagedSnapshot snapshot{*db};
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.total_order_seek = true; // across entity prefixes
  read_options.fill_cache = false;      // one pass over everything
  std::unique_ptr<rocksdb::Iterator> it{(*db)->NewIterator(read_options)};
  std::uint64_t visited = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++visited;
    if (!visit(it->key().ToStringView(), it->value().ToStringView()))
      return visited;
  }
  if (!it->status().ok())
    return translate(it->status(), "scan of the database at '" + impl_->path
                                     + "' after " + std::to_string(visited) + " keys");
  return visited;
}

result<log_page> rocksdb_store::read_all(std::uint64_t after, std::size_t limit,
                                         const log_filter& filter) {
  log_page page;
  page.next_after = after;
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  // One snapshot: commits carrying positions are serialized, so it holds a
  // gapless prefix of the log, and the events its entries point to.
  rocksdb::ManagedSnapshot snapshot{*db};
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  read_options.prefix_same_as_start = true; // the log's one prefix, in order
  std::unique_ptr<rocksdb::Iterator> it{(*db)->NewIterator(read_options)};
  rocksdb::ReadOptions point_read;
  point_read.snapshot = snapshot.snapshot();
  std::string value;
  std::size_t looked = 0;
  auto expected = after + 1;
  for (it->Seek(layout::log_key(expected));
       it->Valid() && page.events.size() < limit && looked < max_log_scan;
       it->Next(), ++looked, ++expected) {
    auto parsed = layout::parse_key(it->key().ToStringView());
    if (!parsed || parsed->kind != layout::key_kind::log_entry)
      break; // past the log
    if (parsed->position != expected)
      return failure::make(ec::decode_failure,
                           "the global log has no entry at position "
                             + std::to_string(expected) + " (the next is "
                             + std::to_string(parsed->position) + ")");
    auto entry = layout::decode_log_entry(parsed->position, it->value().ToStringView());
    if (!entry)
      return std::move(entry).error();
    if (filter.allows(entry->aggregate, entry->type)) {
      auto status = (*db)->Get(point_read, layout::event_key(entry->entity, entry->version),
                               &value);
      if (!status.ok())
        return status.IsNotFound()
                 ? failure::make(ec::decode_failure,
                                 "the global log's entry at position "
                                   + std::to_string(parsed->position) + " names entity "
                                   + to_string(entry->entity) + " version "
                                   + std::to_string(entry->version)
                                   + ", which is not stored")
                 : translate(status, "reading the global log");
      auto record = layout::decode_event_value(entry->entity, entry->version, value);
      if (!record)
        return std::move(record).error();
      if (record->position != parsed->position)
        return failure::make(ec::decode_failure,
                             "the event of entity " + to_string(entry->entity)
                               + " at version " + std::to_string(entry->version)
                               + " has position " + std::to_string(record->position)
                               + ", but the global log has it at "
                               + std::to_string(parsed->position));
      page.events.push_back(std::move(*record));
    }
    page.next_after = parsed->position;
  }
  if (!it->status().ok())
    return translate(it->status(), "reading the global log");
  return page;
}

result<std::optional<std::uint64_t>> rocksdb_store::find_command(const entity_id& entity,
                                                                 const uuid& command) {
  std::string value;
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  auto status = (*db)->Get(rocksdb::ReadOptions{}, layout::command_key(entity, command), &value);
  std::optional<std::uint64_t> out;
  if (status.IsNotFound())
    return out;
  if (!status.ok())
    return translate(status, "command " + to_string(command) + " of entity "
                               + to_string(entity));
  std::uint64_t version = 0;
  if (!layout::decode_version(value, version))
    return failure::make(ec::decode_failure,
                         "corrupt command record of entity " + to_string(entity));
  out = version;
  return out;
}

result<std::uint64_t> rocksdb_store::last_position() {
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  if (auto db = impl_->database(); !db)
    return std::move(db).error();
  return impl_->stored_last_position();
}

std::uint64_t rocksdb_store::estimated_keys() {
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  std::uint64_t keys = 0;
  if (!db || !(*db)->GetIntProperty("rocksdb.estimate-num-keys", &keys))
    return 0;
  return keys;
}

// -- views ---------------------------------------------------------------------


result<std::optional<view_checkpoint>> rocksdb_store::read_view_checkpoint(std::string_view view) {
  if (auto bad = check_view_name(view))
    return *bad;
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  std::string value;
  auto status = (*db)->Get(rocksdb::ReadOptions{},
                           layout::view_checkpoint_key(layout::view_id(view)), &value);
  return decode_checkpoint(view, status, value);
}

result<view_checkpoint> rocksdb_store::reset_view(std::string_view view, std::uint32_t version,
                                                  const std::optional<view_checkpoint>& expected) {
  if (auto bad = check_view_name(view))
    return *bad;
  const auto id = layout::view_id(view);
  auto reset = impl_->write_view(
    view,
    [&](rocksdb::Transaction& txn,
        const std::optional<view_checkpoint>& current) -> result<view_checkpoint> {
      if (current != expected)
        return view_moved(view, expected, current);
      view_checkpoint next{version, 0, current ? current->generation + 1 : 1};
      auto status = txn.Put(layout::view_checkpoint_key(id),
                            layout::encode_view_checkpoint(view, next));
      if (!status.ok())
        return translate(status, "resetting view '" + std::string{view} + "'");
      return next;
    });
  if (!reset)
    return reset;
  // The old generations' rows are out of every read now; delete them. A
  // crash before this ends leaves some for the next reset to delete.
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return reset;
  rocksdb::ReadOptions read_options;
  read_options.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it{(*db)->NewIterator(read_options)};
  const auto end = layout::view_generation_prefix(id, reset->generation);
  rocksdb::WriteBatch batch;
  auto flush = [&] {
    if (batch.Count() > 0)
      impl_->txn_db->Write(impl_->write_options, &batch).PermitUncheckedError();
    batch.Clear();
  };
  for (it->Seek(layout::view_rows_prefix(id)); it->Valid() && it->key().compare(end) < 0;
       it->Next()) {
    batch.Delete(it->key()).PermitUncheckedError();
    if (batch.Count() >= 1024)
      flush();
  }
  flush();
  return reset;
}

result<view_checkpoint> rocksdb_store::commit_view(std::string_view view,
                                                   const view_checkpoint& expected,
                                                   std::uint64_t position,
                                                   std::span<const view_change> changes) {
  if (auto bad = check_view_commit(view, changes))
    return *bad;
  const auto id = layout::view_id(view);
  return impl_->write_view(
    view,
    [&](rocksdb::Transaction& txn,
        const std::optional<view_checkpoint>& current) -> result<view_checkpoint> {
      if (current != expected)
        return view_moved(view, expected, current);
      auto last = impl_->stored_last_position();
      if (!last)
        return std::move(last).error();
      if (position < expected.position || position > *last)
        return failure::make(ec::invalid_argument,
                             "view '" + std::string{view} + "' cannot move from position "
                               + std::to_string(expected.position) + " to "
                               + std::to_string(position) + ": the global log ends at "
                               + std::to_string(*last));
      auto context = "writing view '" + std::string{view} + "'";
      // Untracked: the checkpoint's lock makes every row of the view ours.
      for (const auto& change : changes) {
        auto key = layout::view_row_key(id, expected.generation, change.key);
        auto status = change.value
                        ? txn.PutUntracked(key, rocksdb::Slice{reinterpret_cast<const char*>(
                                                                 change.value->data()),
                                                               change.value->size()})
                        : txn.DeleteUntracked(key);
        if (!status.ok())
          return translate(status, context);
      }
      view_checkpoint next = expected;
      next.position = position;
      auto status = txn.Put(layout::view_checkpoint_key(id),
                            layout::encode_view_checkpoint(view, next));
      if (!status.ok())
        return translate(status, context);
      return next;
    });
}

result<std::optional<std::vector<std::uint8_t>>> rocksdb_store::read_view(std::string_view view,
                                                                          std::string_view key) {
  return read_view_by_scan(view, key);
}

result<std::vector<view_row>> rocksdb_store::scan_view(std::string_view view,
                                                       std::string_view prefix,
                                                       std::string_view after,
                                                       std::size_t limit) {
  if (auto bad = check_view_name(view))
    return *bad;
  std::vector<view_row> out;
  if (auto unknown = impl_->read_barrier())
    return std::move(*unknown);
  std::shared_lock shared{impl_->db_mutex};
  auto db = impl_->database();
  if (!db)
    return std::move(db).error();
  // One snapshot: the checkpoint's generation and the rows agree.
  rocksdb::ManagedSnapshot snapshot{*db};
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot.snapshot();
  const auto id = layout::view_id(view);
  std::string value;
  auto checkpoint = decode_checkpoint(
    view, (*db)->Get(read_options, layout::view_checkpoint_key(id), &value), value);
  if (!checkpoint)
    return std::move(checkpoint).error();
  if (!*checkpoint || limit == 0)
    return out;
  const auto generation = layout::view_generation_prefix(id, (*checkpoint)->generation);
  read_options.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it{(*db)->NewIterator(read_options)};
  auto start = generation + std::string{after < prefix ? prefix : after};
  it->Seek(start);
  if (!(after < prefix) && it->Valid() && it->key().ToStringView() == start)
    it->Next(); // strictly after `after`
  for (; it->Valid() && out.size() < limit; it->Next()) {
    auto key = it->key().ToStringView();
    if (!key.starts_with(generation))
      break;
    auto row_key = key.substr(generation.size());
    if (!row_key.starts_with(prefix))
      break;
    auto row = it->value();
    out.push_back(view_row{std::string{row_key},
                           std::vector<std::uint8_t>(row.data(), row.data() + row.size())});
  }
  if (!it->status().ok())
    return translate(it->status(), "reading view '" + std::string{view} + "'");
  return out;
}

} // namespace cafes
