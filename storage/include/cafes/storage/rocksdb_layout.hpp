#pragma once
// How the RocksDB store lays out keys and values. Public so that tools and
// tests can inspect a database; applications never need it.
//
// Keys:   'e' | entity (16 bytes) | version (8 bytes, big-endian) -> event value
//         'h' | entity (16 bytes)                                 -> head version
// One entity's events are contiguous and iterate in version order.
// Event value: format (1 byte = 1) | event id (16) | timestamp_ns (8, LE)
//              | type (u32 LE length + bytes) | payload (rest).
// Head value:  version (8 bytes, big-endian).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cafes/domain/event_record.hpp"
#include "cafes/domain/result.hpp"

namespace cafes::rocksdb_layout {

inline constexpr char event_prefix = 'e';
inline constexpr char head_prefix = 'h';
inline constexpr std::uint8_t event_format = 1;
/// Bytes every key of one entity starts with (kind, then the id); the store
/// hashes its memtable and filters on this prefix.
inline constexpr std::size_t entity_prefix_size = 17;

/// Returns the key of `entity`'s event at `version`.
std::string event_key(const entity_id& entity, std::uint64_t version);

/// Returns the 17-byte prefix shared by all of `entity`'s event keys.
std::string event_key_prefix(const entity_id& entity);

/// Returns the key that holds `entity`'s head version.
std::string head_key(const entity_id& entity);

/// Returns the stored value of `record` (entity and version live in the key).
std::string encode_event_value(const event_record& record);

/// Rebuilds a record from its key's entity and version and its stored value.
/// Errors: `ec::decode_failure` naming the entity and version.
result<event_record> decode_event_value(const entity_id& entity,
                                        std::uint64_t version,
                                        std::string_view value);

/// Returns the big-endian encoding of `version`.
std::string encode_version(std::uint64_t version);

/// Decodes an 8-byte big-endian version. Returns false on a wrong size.
bool decode_version(std::string_view bytes, std::uint64_t& version);

/// The kinds of key `parse_key` recognises.
enum class key_kind : std::uint8_t {
  /// `'e' | entity | version`: one event of an entity.
  event,
  /// `'h' | entity`: an entity's head version.
  head,
};

/// A key taken apart by `parse_key`.
struct parsed_key {
  key_kind kind = key_kind::event;
  entity_id entity;
  /// The event's version (1 or more) for an event key; 0 for a head key.
  std::uint64_t version = 0;

  friend bool operator==(const parsed_key&, const parsed_key&) = default;
};

/// Takes apart a whole key written by `event_key` or `head_key`. Returns
/// `std::nullopt` for anything else: an empty key or an unknown first byte, a
/// wrong length for its kind (25 bytes for an event key, 17 for a head key; so
/// an `event_key_prefix` is not a key), or an event key at version 0
/// (versions start at 1). Reads `key` only during the call.
std::optional<parsed_key> parse_key(std::string_view key);

} // namespace cafes::rocksdb_layout
