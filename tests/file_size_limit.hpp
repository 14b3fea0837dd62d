#pragma once
// Fills the disk for real, without privileges: a file size limit
// (RLIMIT_FSIZE) makes writes fail with EFBIG the way they fail on a full disk.

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <string>
#include <sys/resource.h>

namespace cafes::testing {

/// While alive, no file of this process may grow past `bytes`
/// (RLIMIT_FSIZE): a write past it fails with EFBIG, as writes fail on a
/// full disk, and it needs no privileges. SIGXFSZ, which would kill the
/// process, is ignored meanwhile.
class file_size_limit {
public:
  explicit file_size_limit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    auto limited = saved_;
    limited.rlim_cur = std::min(bytes, saved_.rlim_max);
    applied_ = ::setrlimit(RLIMIT_FSIZE, &limited) == 0;
  }
  ~file_size_limit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  file_size_limit(const file_size_limit&) = delete;
  file_size_limit& operator=(const file_size_limit&) = delete;

  bool applied() const { return applied_; }

private:
  rlimit saved_{};
  void (*previous_handler_)(int) = SIG_DFL;
  bool applied_ = false;
};

/// Returns the size of the largest file directly in `directory`.
inline std::uintmax_t largest_file_size(const std::string& directory) {
  std::uintmax_t largest = 0;
  for (const auto& entry : std::filesystem::directory_iterator{directory})
    if (entry.is_regular_file())
      largest = std::max(largest, entry.file_size());
  return largest;
}

} // namespace cafes::testing
