#pragma once
// The transfer crash test's fixed plan: accounts, their funding, and
// 10,000 transfers, all derived from one seed so that a restarted worker
// and the checking test agree on every id.

#include <cstdint>
#include <random>
#include <string>

#include "cafes/domain/uuid.hpp"

namespace transfer_plan {

inline constexpr int accounts = 100;
inline constexpr int transfers = 10'000;
inline constexpr int threads = 8;
/// Funding of each open account: no transfer plan can drain one.
inline constexpr std::int64_t funding = 1'000'000;

inline const cafes::uuid space{0x7472616e73666572ULL, 0x8000000000000001ULL};

/// Accounts 90..99 are opened and closed at once: transfers to them are
/// refunded.
inline bool closed(int account) { return account >= 90; }

inline cafes::uuid account(int index) {
  return cafes::uuid::name_based(space, "account/" + std::to_string(index));
}

inline cafes::uuid step_id(const std::string& step, int index) {
  return cafes::uuid::name_based(space, step + "/" + std::to_string(index));
}

struct planned_transfer {
  cafes::uuid id;
  int from = 0;
  int to = 0;
  std::int64_t amount = 0;
};

/// Transfer `index`: from an open account to any other account.
inline planned_transfer transfer(int index) {
  std::mt19937_64 random{static_cast<std::uint64_t>(index) * 7919 + 17};
  planned_transfer out;
  out.id = cafes::uuid::name_based(space, "transfer/" + std::to_string(index));
  out.from = static_cast<int>(random() % 90);
  do
    out.to = static_cast<int>(random() % accounts);
  while (out.to == out.from);
  out.amount = static_cast<std::int64_t>(random() % 100) + 1;
  return out;
}

} // namespace transfer_plan
