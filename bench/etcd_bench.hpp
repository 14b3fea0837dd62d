#pragma once
// The etcd store in one run: the raw etcd transaction loop (one
// conditional append per transaction, one client, no cafes code) as the
// baseline, the full actor path over the etcd store at 1, 64 and 512
// clients, and entities sharded over two clusters against one.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cafes::bench {

/// Runs each figure `repeats` times (alternating baseline and actor path)
/// and prints medians with the runs' range and the ratios to the baseline.
/// `cluster` and `second` are two clusters' endpoints (the second only for
/// the sharding rows; empty: those are skipped, and say so). `appends`:
/// the baseline's appends per run; the actor path runs at least 10 times as
/// many commands. Throws std::runtime_error when a call fails or a run does
/// not verify.
nlohmann::json measure_etcd(int repeats, std::uint64_t appends,
                            const std::vector<std::string>& cluster,
                            const std::vector<std::string>& second);

} // namespace cafes::bench
