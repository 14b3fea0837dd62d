#pragma once
// What an entity actor answers, and a registry's counters. No CAF here (see
// repository.hpp); messages.hpp has the rest of the protocol.

#include <cstdint>
#include <limits>
#include <vector>

#include "cafes/domain/protocol_codec.hpp"
#include "cafes/domain/uuid.hpp"

namespace cafes {

/// Send a command without an expected version: it applies to whatever the
/// entity's current version is.
inline constexpr std::uint64_t any_version
  = std::numeric_limits<std::uint64_t>::max();

/// An entity's state at one version, or the events that lead to it from
/// the version a command expected. `copy_from` (repository.hpp) and
/// `entity_ref<A>::copy_of` turn it into a typed copy.
struct entity_snapshot {
  entity_id id;
  std::uint64_t version = 0;
  /// The aggregate's `A::state` at `version`, encoded (protocol_codec.hpp);
  /// empty (no type) when the answer carries `events` instead.
  encoded_state state;
  /// In the answer to a command: the version its last event got (for a
  /// command with an id that was applied before, the version it got then);
  /// 0 when it produced no events, and for a get.
  std::uint64_t command_version = 0;
  /// Only in the answer to a command sent with
  /// `command_envelope::answer_with_events` and applied at the version it
  /// expected: its events in order (none when it produced none), which
  /// bring the sender's copy at that version to `version`. `state` is empty
  /// then: evolving a copy by a command's few events costs less than
  /// encoding and decoding the whole state with every answer.
  std::vector<encoded_event> events;

  /// Returns whether `state` holds the state (else `events` lead to it).
  bool carries_state() const noexcept { return !state.type.empty(); }
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
