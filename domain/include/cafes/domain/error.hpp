#pragma once
// The one error enum of cafes and the failure value that carries it.

#include <cstdint>
#include <string>
#include <string_view>

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
  /// is gone: the request was not taken, nothing of it was written.
  closing,
  /// The write may or may not be stored: an I/O error came after its bytes
  /// were handed to the disk (a failed WAL sync). Read the entity back to
  /// know; never assume it is absent.
  unknown_outcome,
  /// An append carried a command id that its entity has already applied:
  /// nothing was written. `actual_version` is the version that command's
  /// events got the first time.
  duplicate_command,
};

/// Returns the enum value's name, for example "conflict".
std::string_view to_string(ec code) noexcept;

/// An error value: a code, a readable message and, for conflicts, the
/// versions involved.
struct failure {
  ec code = ec::none;
  /// Human-readable detail, already naming the entity and version involved.
  std::string message;
  /// For `ec::conflict`: the version the caller expected.
  std::uint64_t expected_version = 0;
  /// For `ec::conflict`: the entity's version in the store.
  std::uint64_t actual_version = 0;

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
