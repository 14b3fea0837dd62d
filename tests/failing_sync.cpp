#include "failing_sync.hpp"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <dlfcn.h>
#include <mutex>
#include <unistd.h>

namespace cafes::testing {

std::atomic<bool> syncs_fail{false};
std::atomic<bool> reads_fail{false};

namespace {

using sync_function = int (*)(int);
using pread_function = ssize_t (*)(int, void*, size_t, off_t);

int call_real(const char* name, int fd) {
  auto real = reinterpret_cast<sync_function>(::dlsym(RTLD_NEXT, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}

/// The gate of held_sync: set while syncs wait.
std::atomic<bool> syncs_wait{false};
std::mutex hold_mutex;
std::condition_variable hold_changed;
bool holding = false;
int held = 0;

/// Holds the calling sync while a held_sync holds them.
void hold() {
  if (!syncs_wait)
    return;
  std::unique_lock lock{hold_mutex};
  if (!holding)
    return;
  ++held;
  hold_changed.notify_all();
  hold_changed.wait(lock, [] { return !holding; });
  --held;
}

} // namespace

held_sync::held_sync() {
  std::lock_guard guard{hold_mutex};
  holding = true;
  syncs_wait = true;
}

held_sync::~held_sync() { release(); }

bool held_sync::wait_for_held(int count) {
  std::unique_lock lock{hold_mutex};
  return hold_changed.wait_for(lock, std::chrono::seconds{20}, [&] { return held >= count; });
}

void held_sync::release() {
  {
    std::lock_guard guard{hold_mutex};
    holding = false;
    syncs_wait = false;
  }
  hold_changed.notify_all();
}

} // namespace cafes::testing

extern "C" int fdatasync(int fd) {
  cafes::testing::hold();
  if (cafes::testing::syncs_fail) {
    errno = EIO;
    return -1;
  }
  return cafes::testing::call_real("fdatasync", fd);
}

extern "C" int fsync(int fd) {
  cafes::testing::hold();
  if (cafes::testing::syncs_fail) {
    errno = EIO;
    return -1;
  }
  return cafes::testing::call_real("fsync", fd);
}

extern "C" ssize_t pread(int fd, void* buffer, size_t count, off_t offset) {
  if (cafes::testing::reads_fail) {
    errno = EIO;
    return -1;
  }
  static const auto real
    = reinterpret_cast<cafes::testing::pread_function>(::dlsym(RTLD_NEXT, "pread"));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd, buffer, count, offset);
}
