#pragma once
// Makes the disk's sync fail with EIO, or wait, and its reads fail with EIO,
// as a failing disk does, without privileges: this test binary defines
// fdatasync, fsync and pread itself (the same interposition an LD_PRELOAD
// shim does), so the statically linked RocksDB calls these, which misbehave
// while a `failing_sync`, `held_sync` or `failing_reads` is alive.

#include <atomic>

namespace cafes::testing {

/// True while syncs fail.
extern std::atomic<bool> syncs_fail;

/// While alive, every fdatasync and fsync of this process fails with EIO.
class failing_sync {
public:
  failing_sync() { syncs_fail = true; }
  ~failing_sync() { syncs_fail = false; }
  failing_sync(const failing_sync&) = delete;
  failing_sync& operator=(const failing_sync&) = delete;
};

/// While alive (until `release`), every fdatasync and fsync of this process
/// waits, as a disk that stops answering does: a commit stays inside its
/// WAL sync, holding its transaction's locks.
class held_sync {
public:
  held_sync();
  ~held_sync(); ///< releases the held syncs
  held_sync(const held_sync&) = delete;
  held_sync& operator=(const held_sync&) = delete;

  /// Waits until `count` syncs are held. Returns false when that has not
  /// happened within 20 s (the test then fails instead of hanging).
  [[nodiscard]] bool wait_for_held(int count);

  /// Lets the held syncs, and every later one, go on (to the real sync).
  void release();
};

/// True while reads fail.
extern std::atomic<bool> reads_fail;

/// While alive, every pread of this process (RocksDB reads its table files
/// with it) fails with EIO.
class failing_reads {
public:
  failing_reads() { reads_fail = true; }
  ~failing_reads() { reads_fail = false; }
  failing_reads(const failing_reads&) = delete;
  failing_reads& operator=(const failing_reads&) = delete;
};

} // namespace cafes::testing
