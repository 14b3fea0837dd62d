#include "failing_sync.hpp"

#include <cerrno>
#include <dlfcn.h>

namespace cafes::testing {

std::atomic<bool> syncs_fail{false};

namespace {

using sync_function = int (*)(int);

int call_real(const char* name, int fd) {
  auto real = reinterpret_cast<sync_function>(::dlsym(RTLD_NEXT, name));
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return real(fd);
}

} // namespace

} // namespace cafes::testing

extern "C" int fdatasync(int fd) {
  if (cafes::testing::syncs_fail) {
    errno = EIO;
    return -1;
  }
  return cafes::testing::call_real("fdatasync", fd);
}

extern "C" int fsync(int fd) {
  if (cafes::testing::syncs_fail) {
    errno = EIO;
    return -1;
  }
  return cafes::testing::call_real("fsync", fd);
}
