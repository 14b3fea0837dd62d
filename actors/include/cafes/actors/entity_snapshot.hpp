#pragma once
// What an entity actor answers, and a registry's counters. No CAF here (see
// repository.hpp); messages.hpp has the rest of the protocol.

#include <cstdint>
#include <limits>

#include "cafes/domain/protocol_codec.hpp"
#include "cafes/domain/uuid.hpp"

namespace cafes {

/// Send a command without an expected version: it applies to whatever the
/// entity's current version is.
inline constexpr std::uint64_t any_version
  = std::numeric_limits<std::uint64_t>::max();

/// An entity's state at one version. `state` is the aggregate's `A::state`,
/// encoded (protocol_codec.hpp; `entity_ref<A>::copy_of` decodes it).
struct entity_snapshot {
  entity_id id;
  std::uint64_t version = 0;
  encoded_state state;
  /// In the answer to a command: the version its last event got (for a
  /// command with an id that was applied before, the version it got then);
  /// 0 when it produced no events, and for a get.
  std::uint64_t command_version = 0;
};

/// Counters of one registry shard.
struct registry_stats {
  /// Entity actors alive now.
  std::uint64_t resident = 0;
  /// Most entity actors alive at once so far (summed over shards: an upper
  /// bound of the true peak when there are several).
  std::uint64_t peak_resident = 0;
  /// Entity actors spawned since start (respawns after passivation included).
  std::uint64_t spawned = 0;
  /// Entity actors stopped after being idle.
  std::uint64_t passivated = 0;
};

} // namespace cafes
