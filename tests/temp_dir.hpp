#pragma once
// A fresh directory under the system temp dir, removed with its contents.

#include <filesystem>
#include <string>

#include "cafes/domain/uuid.hpp"

namespace cafes::testing {

class temp_dir {
public:
  temp_dir()
    : path_(std::filesystem::temp_directory_path()
            / ("cafes-test-" + to_string(uuid::random()))) {
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string sub(const std::string& name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

} // namespace cafes::testing
