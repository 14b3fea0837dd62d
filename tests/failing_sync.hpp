#pragma once
// Makes the disk's sync fail with EIO, as a failing disk does, without
// privileges: this test binary defines fdatasync and fsync itself (the same
// interposition an LD_PRELOAD shim does), so the statically linked RocksDB
// calls these, which fail while a `failing_sync` is alive.

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

} // namespace cafes::testing
