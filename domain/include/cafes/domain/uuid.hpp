#pragma once
// 128-bit identifiers for entities and events, with the canonical text form.

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace cafes {

/// A 128-bit UUID held as two 64-bit halves (big-endian order: `high` holds
/// the first 8 bytes of the text form). The default value is the nil UUID.
struct uuid {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  /// Returns a random (version 4, RFC 4122 variant) UUID.
  static uuid random();

  /// Parses the canonical form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
  /// (hex digits, either case). Returns `std::nullopt` for anything else.
  static std::optional<uuid> parse(std::string_view text);

  /// Returns the name-based (version 5, SHA-1, RFC 4122 section 4.3) UUID
  /// of `name` in the name space `space`: the same inputs give the same id
  /// in every process, different ones (for all practical purposes) never do.
  /// Used where an id must be derived again after a crash: the command ids
  /// a process manager sends in reaction to an event, a view's key space.
  static uuid name_based(const uuid& space, std::string_view name);

  /// Returns true for the nil UUID.
  bool is_nil() const noexcept { return high == 0 && low == 0; }

  friend auto operator<=>(const uuid&, const uuid&) = default;
};

/// Returns the canonical lower-case text form.
std::string to_string(const uuid& id);

/// Identifies one entity (aggregate instance).
using entity_id = uuid;

/// Identifies one stored event; unique across all entities.
using event_id = uuid;

} // namespace cafes

template <>
struct std::hash<cafes::uuid> {
  std::size_t operator()(const cafes::uuid& id) const noexcept {
    // Random UUIDs are uniformly distributed: mixing the halves is enough.
    return static_cast<std::size_t>(id.high ^ (id.low * 0x9E3779B97F4A7C15ULL));
  }
};
