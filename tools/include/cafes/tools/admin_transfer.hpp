#pragma once
// Moving a whole store as JSON lines (`cafes-admin export` and `import`):
// one event per line, each entity's events in version order, entities in id
// order:
//
//   {"entity":"<uuid>","version":1,"id":"<uuid>","type":"bank.opened",
//    "payload_base64":"AwAAAGFkYQ==","timestamp_ns":1700000000000000000}
//
// Exporting, importing into an empty store and exporting again gives the
// same bytes.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cafes/storage/event_store.hpp"

namespace cafes::admin {

/// Entity ids asked for per `list_entities` call when a tool walks every
/// entity: 16,384. Large, because on a RocksDB store each call copies the
/// hashed memtable into one sorted list (cheap after a clean close, costly
/// after a replayed write-ahead log).
inline constexpr std::size_t list_page = 16'384;

/// Returns `bytes` in standard base64 (with padding).
std::string to_base64(const std::vector<std::uint8_t>& bytes);

/// Decodes standard base64 (padding required). Returns nullopt on any other
/// character, a wrong length or bad padding.
std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text);

/// Returns `record` as one JSON object on one line, without a newline.
/// Errors: `ec::decode_failure` (naming the entity and version) for a type
/// name that is not UTF-8, which JSON cannot carry.
result<std::string> to_json_line(const event_record& record);

/// Parses one line written by `to_json_line`: an object with exactly its
/// six fields. Errors: `ec::decode_failure` saying which field is missing
/// or wrong (the message does not name the line: the caller knows it).
result<event_record> parse_json_line(std::string_view line);

/// What an export wrote.
struct export_report {
  std::uint64_t entities = 0;
  std::uint64_t events = 0;
};

/// Writes every event of `store` to `out` as JSON lines (see the file
/// comment). Calls `progress` after each entity when given. Returns the
/// counts. Errors (the lines written so far stay written): `ec::decode_failure`
/// for a damaged entity (naming it; `cafes-admin verify` lists them all),
/// `ec::storage_failure` when the store cannot be read or `out` cannot be
/// written.
result<export_report>
export_store(event_store& store, std::ostream& out,
             const std::function<void(const export_report&)>& progress = {});

struct import_options {
  /// Events appended per group commit: 4,096.
  std::size_t batch_events = 4'096;
  /// Called after each group commit; may be empty.
  std::function<void(std::uint64_t lines, std::uint64_t events)> progress;
};

/// What an import did.
struct import_report {
  std::uint64_t lines = 0;    ///< lines read, the failing one included
  std::uint64_t entities = 0; ///< entities stored
  std::uint64_t events = 0;   ///< events stored
  /// What stopped the import; absent when every line was imported. What the
  /// counts say is stored either way.
  std::optional<failure> error;
};

/// Appends every line of `in` (an export) to `store`, each event at its
/// entity's next version (conditional appends, group-committed). Blank lines
/// are skipped. `store` must have no other writer meanwhile (a RocksDB
/// store's lock sees to that across processes). Afterwards every imported
/// entity's head is read back and must be the version its appends returned;
/// the counts come from that read-back. Errors, in `error`:
/// - `ec::invalid_argument`: `store` already holds an entity; nothing is
///   imported.
/// - `ec::decode_failure`, message starting "line N:": a line that does not
///   parse, or whose version is not its entity's next one (so an export cut
///   off in the middle of an entity still imports whole prefixes). Every line
///   before it is stored.
/// - what `append_batch` gives (naming the entity and line), or a read-back
///   that disagrees (`ec::storage_failure`, naming the entity).
import_report import_store(event_store& store, std::istream& in,
                           const import_options& options = {});

} // namespace cafes::admin
