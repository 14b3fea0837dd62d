#pragma once
// How the RocksDB store lays out keys and values. Public so that tools and
// tests can inspect a database; applications never need it.
//
// Keys:   'e' | entity (16 bytes) | version (8 bytes, big-endian) -> event value
//         'h' | entity (16 bytes)                                 -> head version
//         'g' | 16 zero bytes | position (8 bytes, big-endian)    -> log entry
//         'p' | 16 zero bytes                                     -> last position
//         'c' | entity (16 bytes) | command id (16 bytes)         -> its version
//         'k' | view id (16 bytes)                                -> view checkpoint
//         'r' | view id (16 bytes) | generation (8 bytes, big-endian) | row key
//                                                                 -> row value
// One entity's events are contiguous and iterate in version order; the
// global log's entries share one 17-byte prefix (one memtable bucket) and
// iterate in position order.
// Event value: format (1 byte = 2) | event id (16) | timestamp_ns (8, LE)
//              | position (8, LE) | command id (16) | correlation id (16)
//              | causation id (16) | type (u32 LE length + bytes)
//              | payload (rest): an event at schema version 1.
//              Format 3, for schema versions 2 and up only: the same with
//              the schema version (u32 LE) after the causation id.
// Events at schema version 1 (all events before schema versions existed)
// keep format 2, so their values are as before, cost no byte more, and a
// build that knows only format 2 still reads them (it refuses format 3
// with a decode_failure naming the entity and version).
// Head value, last position, a command's version (that of its last event):
// 8 bytes, big-endian. Command keys exist for non-nil command ids only.
// A view's id is the name-based UUID of its name (view_id). A view's rows
// share one 17-byte prefix and iterate by generation, then row key.
// View checkpoint: format (1 byte = 1) | version (u32 LE) | position (u64
//              LE) | generation (u64 LE) | the view's name (rest).
// Log entry:   format (1 byte = 1) | entity (16) | version (8, big-endian)
//              | aggregate (u32 LE length + bytes) | type (u32 LE length +
//              bytes). Enough to filter the log without reading the event.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cafes/domain/event_record.hpp"
#include "cafes/domain/result.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes::rocksdb_layout {

inline constexpr char event_prefix = 'e';
inline constexpr char head_prefix = 'h';
inline constexpr char log_prefix = 'g';
inline constexpr char position_prefix = 'p';
inline constexpr char command_prefix = 'c';
inline constexpr char view_checkpoint_prefix = 'k';
inline constexpr char view_row_prefix = 'r';
/// Event values of schema version 1; `event_format_versioned` for the rest.
inline constexpr std::uint8_t event_format = 2;
inline constexpr std::uint8_t event_format_versioned = 3;
inline constexpr std::uint8_t view_checkpoint_format = 1;
inline constexpr std::uint8_t log_entry_format = 1;
/// Bytes every key of one entity starts with (kind, then the id); the store
/// hashes its memtable and filters on this prefix.
inline constexpr std::size_t entity_prefix_size = 17;

/// Returns the key of `entity`'s event at `version`.
std::string event_key(const entity_id& entity, std::uint64_t version);

/// Returns the 17-byte prefix shared by all of `entity`'s event keys.
std::string event_key_prefix(const entity_id& entity);

/// Returns the key that holds `entity`'s head version.
std::string head_key(const entity_id& entity);

/// Returns the key of the global log's entry at `position`.
std::string log_key(std::uint64_t position);

/// Returns the 17-byte prefix every log entry's key starts with.
std::string log_key_prefix();

/// Returns the key that holds the global log's last position.
std::string position_key();

/// Returns the key that records that `entity` applied command `command`.
std::string command_key(const entity_id& entity, const uuid& command);

/// Returns the id under which view `name` is stored.
uuid view_id(std::string_view name);

/// Returns the key of the checkpoint of the view with id `view`.
std::string view_checkpoint_key(const uuid& view);

/// Returns the key of row `key` of generation `generation` of view `view`.
std::string view_row_key(const uuid& view, std::uint64_t generation, std::string_view key);

/// Returns the 17-byte prefix every row key of view `view` starts with.
std::string view_rows_prefix(const uuid& view);

/// Returns the 25-byte prefix of the row keys of one generation of `view`.
std::string view_generation_prefix(const uuid& view, std::uint64_t generation);

/// A stored view checkpoint.
struct stored_view_checkpoint {
  std::string name;
  view_checkpoint checkpoint;
};

/// Returns the stored value of `name`'s checkpoint.
std::string encode_view_checkpoint(std::string_view name, const view_checkpoint& checkpoint);

/// Decodes a view checkpoint's value. Errors: `ec::decode_failure`.
result<stored_view_checkpoint> decode_view_checkpoint(std::string_view value);

/// What the global log holds for one position.
struct log_entry {
  entity_id entity;
  std::uint64_t version = 0;
  /// The aggregate's name as the writer gave it (append_request::aggregate).
  std::string aggregate;
  std::string type;

  friend bool operator==(const log_entry&, const log_entry&) = default;
};

/// Returns the stored value of `entry`.
std::string encode_log_entry(const log_entry& entry);

/// Decodes a log entry's value. Errors: `ec::decode_failure` naming the
/// position.
result<log_entry> decode_log_entry(std::uint64_t position, std::string_view value);

/// Returns the stored value of `record` (entity and version live in the key),
/// with its `position`: format 2 at schema version 1, else format 3.
/// Precondition: `record.schema_version` is not 0 (appends refuse it).
std::string encode_event_value(const event_record& record);

/// Returns the stored value of `record` at global position `position`
/// (whatever `record.position` says).
std::string encode_event_value(const event_record& record, std::uint64_t position);

/// Rebuilds a record from its key's entity and version and its stored value
/// (a format 2 value is at schema version 1).
/// Errors: `ec::decode_failure` naming the entity and version (an unknown
/// format, a truncated header, a format 3 value at schema version 0 or 1,
/// which `encode_event_value` never writes).
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
  /// `'g' | zeros | position`: an entry of the global log.
  log_entry,
  /// `'p' | zeros`: the global log's last position.
  position,
  /// `'c' | entity | command id`: a command the entity applied.
  command,
  /// `'k' | view id`: a view's checkpoint.
  view_checkpoint,
  /// `'r' | view id | generation | row key`: one row of a view.
  view_row,
};

/// A key taken apart by `parse_key`.
struct parsed_key {
  key_kind kind = key_kind::event;
  entity_id entity;
  /// The event's version (1 or more) for an event key; 0 otherwise.
  std::uint64_t version = 0;
  /// The position (1 or more) for a log entry's key; 0 otherwise.
  std::uint64_t position = 0;
  /// The command id (not nil) for a command key; nil otherwise.
  uuid command{};
  /// For a view row's key: its generation and row key (not empty).
  std::uint64_t generation = 0;
  std::string row_key{};

  friend bool operator==(const parsed_key&, const parsed_key&) = default;
};

/// Takes apart a whole key written by `event_key`, `head_key`, `log_key`,
/// `position_key`, `command_key`, `view_checkpoint_key` or `view_row_key`
/// (`entity` holds the view id for the last two). Returns `std::nullopt` for
/// anything else: an empty key or an unknown first byte, a wrong length for
/// its kind (25 bytes for event and log keys, 17 for head, position and
/// view checkpoint keys, 33 for command keys, more than 25 for view rows;
/// so a prefix is not a key), a nil command id, an
/// event key at version 0 or a log key at position 0 (both start at 1), or
/// log and position keys whose 16 middle bytes are not zero. Reads `key` only
/// during the call.
std::optional<parsed_key> parse_key(std::string_view key);

} // namespace cafes::rocksdb_layout
