#pragma once
// What the crash test and its child process (crash_writer) agree on.

#include <cstdint>

#include "cafes/domain/uuid.hpp"

namespace cafes::testing {

inline constexpr std::uint64_t crash_writers = 4;
inline constexpr std::uint64_t crash_accounts_per_writer = 8;

inline entity_id crash_account_id(std::uint64_t index) {
  return uuid{0xC4A5'0000'0000'0001ULL, index};
}

} // namespace cafes::testing
