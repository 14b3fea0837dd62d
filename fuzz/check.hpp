#pragma once
// What every fuzz target includes: its entry point and an invariant check.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

/// Called by libFuzzer (or by replay_main.cpp) once per input; returns 0.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

/// Stops the process when the condition is false: libFuzzer reports the trap
/// as a crash and keeps the input; replay_main.cpp dies with the input named.
/// Variadic so that a condition may hold unparenthesised commas.
#define FUZZ_CHECK(...)                                                        \
  do {                                                                         \
    if (!(__VA_ARGS__)) {                                                      \
      std::fprintf(stderr, "invariant violated: %s (%s:%d)\n", #__VA_ARGS__,   \
                   __FILE__, __LINE__);                                        \
      __builtin_trap();                                                        \
    }                                                                          \
  } while (false)

namespace cafes::fuzz {

/// Views the fuzzer's input as text (bytes as they are).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

} // namespace cafes::fuzz
