#pragma once
// The one error enum of cafes and the failure value that carries it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cafes/domain/event_record.hpp"
#include "cafes/domain/uuid.hpp"

namespace cafes {

/// Every error cafes reports, at every layer.
enum class ec : std::uint8_t {
  /// Not an error.
  none = 0,
  /// The caller's expected version differs from the entity's actual version.
  conflict,
  /// The entity has no events (it was never created).
  not_found,
  /// A domain rule refused the command (for example insufficient funds).
  rejected,
  /// Stored or received bytes could not be decoded (corrupt record, unknown
  /// event type, truncated payload).
  decode_failure,
  /// The store failed to read or write (I/O error, full disk, engine error).
  storage_failure,
  /// The store cannot be opened (missing or unwritable path, locked by another
  /// process) or has been closed.
  storage_unavailable,
  /// No answer arrived in time (a store or actor that stopped answering).
  timeout,
  /// The request itself is malformed (empty append, bad id text, bad range).
  invalid_argument,
  /// The application is closing, or the actor that would serve the request
  /// is gone: the request was not taken, nothing of it was written. Also,
  /// through a CAF node (cafes::net), the serving node cannot be reached or
  /// refused the connection, or a get's connection was lost.
  closing,
  /// The write may or may not be stored: an I/O error came after its bytes
  /// were handed to the disk (a failed WAL sync), or, through a CAF node,
  /// the connection was lost while the command was in flight. Read the
  /// entity back to know; never assume it is absent.
  unknown_outcome,
  /// An append carried a command id that its entity has already applied:
  /// nothing was written. `actual_version` is the version that command's
  /// events got the first time.
  duplicate_command,
  /// The actor runtime (CAF) reported an error that is none of the above
  /// (an unexpected message, a failed spawn, a remote peer's error): the
  /// message carries CAF's own text. Nothing says the store was involved.
  actor_error,
};

/// Returns the enum value's name, for example "conflict".
std::string_view to_string(ec code) noexcept;

/// An error value: a code, a readable message and, as fields, the entity
/// and versions involved.
struct failure {
  ec code = ec::none;
  /// Human-readable detail, already naming the entity and version involved.
  std::string message;
  /// For `ec::conflict`: the version the caller expected. For
  /// `ec::duplicate_command`: 0.
  std::uint64_t expected_version = 0;
  /// For `ec::conflict`: the entity's version in the store. For
  /// `ec::duplicate_command`: the version the command got the first time.
  std::uint64_t actual_version = 0;
  /// The entity the failure is about; nil when it concerns none (a view, a
  /// closed store) or the layer that made it did not know it. Every failure
  /// an entity actor answers names its entity.
  entity_id entity{};
  /// For `ec::conflict`: the events the caller missed, versions
  /// `expected_version + 1` ... `actual_version` in order, so that its copy
  /// can catch up without reading again (see `missed_all`). Empty when
  /// there were more than the cap asked for (then the versions only), when
  /// the caller is ahead of the store, and for every other code.
  std::vector<event_record> missed_events{};

  /// Returns whether `missed_events` holds every event between the expected
  /// and the actual version (a conflict a copy can catch up from).
  bool missed_all() const noexcept {
    return code == ec::conflict && actual_version > expected_version
           && missed_events.size() == actual_version - expected_version;
  }

  /// Returns a conflict failure for `entity`.
  static failure conflict(const entity_id& entity, std::uint64_t expected,
                          std::uint64_t actual);
  /// Returns a not-found failure for `entity`.
  static failure not_found(const entity_id& entity);
  /// Returns a failure with `code` and `message`.
  static failure make(ec code, std::string message);
};

/// Returns "<code>: <message>", for logs and exception texts.
std::string to_string(const failure& f);

} // namespace cafes
