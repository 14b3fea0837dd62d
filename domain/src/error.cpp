#include "cafes/domain/error.hpp"

namespace cafes {

std::string_view to_string(ec code) noexcept {
  switch (code) {
    case ec::none: return "none";
    case ec::conflict: return "conflict";
    case ec::not_found: return "not_found";
    case ec::rejected: return "rejected";
    case ec::decode_failure: return "decode_failure";
    case ec::storage_failure: return "storage_failure";
    case ec::storage_unavailable: return "storage_unavailable";
    case ec::timeout: return "timeout";
    case ec::invalid_argument: return "invalid_argument";
    case ec::closing: return "closing";
    case ec::unknown_outcome: return "unknown_outcome";
    case ec::duplicate_command: return "duplicate_command";
    case ec::actor_error: return "actor_error";
  }
  return "unknown";
}

failure failure::conflict(const entity_id& entity, std::uint64_t expected,
                          std::uint64_t actual) {
  return failure{ec::conflict,
                 "entity " + to_string(entity) + " is at version "
                   + std::to_string(actual) + ", expected version "
                   + std::to_string(expected),
                 expected, actual, entity};
}

failure failure::not_found(const entity_id& entity) {
  return failure{ec::not_found, "entity " + to_string(entity) + " not found", 0, 0, entity};
}

failure failure::make(ec code, std::string message) {
  return failure{code, std::move(message)};
}

std::string to_string(const failure& f) {
  return std::string{to_string(f.code)} + ": " + f.message;
}

} // namespace cafes
