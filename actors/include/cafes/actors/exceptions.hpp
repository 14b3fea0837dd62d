#pragma once
// The exceptions the synchronous API throws. No CAF here (see repository.hpp).

#include <cstdint>
#include <stdexcept>
#include <utility>

#include "cafes/domain/error.hpp"

namespace cafes {

/// Thrown by the synchronous API for every failure.
class cafes_error : public std::runtime_error {
public:
  explicit cafes_error(failure f)
    : std::runtime_error(to_string(f)), failure_(std::move(f)) {}
  /// Returns the error code.
  ec code() const noexcept { return failure_.code; }
  /// Returns the whole failure.
  const failure& details() const noexcept { return failure_; }

private:
  failure failure_;
};

/// Thrown when a command's copy is stale: another writer got there first.
class concurrency_error : public cafes_error {
public:
  using cafes_error::cafes_error;
  /// The version the stale copy had.
  std::uint64_t expected_version() const noexcept {
    return details().expected_version;
  }
  /// The entity's version when the command was refused.
  std::uint64_t actual_version() const noexcept {
    return details().actual_version;
  }
};

/// Throws `concurrency_error` for conflicts, `cafes_error` for the rest.
[[noreturn]] void throw_failure(failure f);

} // namespace cafes
