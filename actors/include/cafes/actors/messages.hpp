#pragma once
// What crosses between clients, registries and entity actors.

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "cafes/actors/entity_snapshot.hpp"
#include "cafes/domain/protocol_codec.hpp"
#include "cafes/domain/uuid.hpp"

namespace cafes {

/// A projection a command waits for (read-your-writes): its name, for
/// error texts, and its runner (a projection_actor).
struct awaited_projection {
  std::string name;
  caf::actor runner;
};

/// A command for an entity actor. `command` is one of the aggregate's
/// commands, encoded like an event (protocol_codec.hpp), so that the
/// envelope can cross a process; the entity actor decodes it (a command of
/// another aggregate is ec::invalid_argument, bytes that do not decode
/// ec::decode_failure).
struct command_envelope {
  encoded_command command;
  /// The version the sender's copy has; a different current version gives a
  /// conflict. `any_version` skips the check.
  std::uint64_t expected_version = any_version;
  /// The command's id, stored with its events. Non-nil makes the command
  /// idempotent: sent again (however much later), it is not applied again
  /// and the answer names the version it produced the first time.
  uuid command_id{};
  /// The conversation the command belongs to, stored with its events (nil:
  /// the command starts one, named by its id).
  uuid correlation_id{};
  /// What caused the command: for a command sent in reaction to an event,
  /// that event's id. Its events store this, or the command's own id when
  /// nil (a command from outside causes itself).
  uuid causation_id{};
  /// Read-your-writes: answer only once these projections have processed
  /// the command's events (everything committed when it was answered),
  /// waiting at most `await_timeout` for them.
  std::vector<awaited_projection> await_projections{};
  std::chrono::milliseconds await_timeout{5'000};
  /// Asks for the command's events instead of the whole state in the
  /// answer (see entity_snapshot::events), for a sender whose copy has the
  /// expected version. Ignored, and the state sent, for `any_version` and
  /// for a command applied before (its id repeated): the sender's copy may
  /// be at any version then.
  bool answer_with_events = false;
};

} // namespace cafes
