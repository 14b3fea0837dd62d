// Replays inputs through a fuzz target without libFuzzer: the main that the
// g++ test build links to each target, so CTest runs the corpus and the
// regression inputs as a test suite. Arguments: files, or directories whose
// files (not subdirectories) are read in name order. Exit code 0 when every
// input passed, 1 on a missing path or no input at all; an input that breaks
// an invariant stops the process (the line before names it).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "check.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputs_of(const fs::path& path) {
  if (!fs::is_directory(path))
    return {path};
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator{path})
    if (entry.is_regular_file())
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace

int main(int argc, char** argv) {
  std::size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    fs::path path{argv[i]};
    if (!fs::exists(path)) {
      std::fprintf(stderr, "error: no such file or directory: %s\n", argv[i]);
      return 1;
    }
    for (const auto& input : inputs_of(path)) {
      std::ifstream file{input, std::ios::binary};
      std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                                      std::istreambuf_iterator<char>());
      std::fprintf(stderr, "replaying %s\n", input.c_str());
      // libFuzzer never passes a null pointer, not even for an empty input.
      std::uint8_t none = 0;
      LLVMFuzzerTestOneInput(bytes.empty() ? &none : bytes.data(), bytes.size());
      ++replayed;
    }
  }
  if (replayed == 0) {
    std::fprintf(stderr, "error: no input to replay\n");
    return 1;
  }
  std::printf("%zu inputs replayed, no invariant violated\n", replayed);
  return 0;
}
