#pragma once
// Moving a whole store as JSON lines (`cafes-admin export` and `import`):
// one event per line, in global log position order (so each entity's events
// in version order):
//
//   {"entity":"<uuid>","version":1,"position":1,"id":"<uuid>",
//    "type":"bank.opened","schema_version":2,"payload_base64":"AwAAAGFkYQ==",
//    "timestamp_ns":1700000000000000000,"command_id":"<uuid>",
//    "correlation_id":"<uuid>","causation_id":"<uuid>","aggregate":"<name>"}
//
// "position" and the three ids came with the global log (database format 2):
// the ids are left out when nil, and import reads lines without them (an
// export of format 1 had none, and went entity by entity in id order). Import
// gives each event a new position, in line order. "schema_version" (see
// cafes/domain/schema.hpp) is written when not 1, and a line without it is
// at version 1. "aggregate" is read by
// import when present but not written by export: read_all does not return
// it. Exporting, importing into an empty store and exporting again gives the
// same bytes.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cafes/domain/bytes.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes::admin {

/// Entity ids asked for per `list_entities` call when a tool walks every
/// entity: 16,384. Large, because on a RocksDB store each call copies the
/// hashed memtable into one sorted list (cheap after a clean close, costly
/// after a replayed write-ahead log).
inline constexpr std::size_t list_page = 16'384;

// Base64 as export writes it (bytes.hpp).
using cafes::from_base64;
using cafes::to_base64;

/// Returns `record` as one JSON object on one line, without a newline: its
/// position when not 0, its schema version when not 1, its command,
/// correlation and causation ids when not nil, `aggregate` when not empty. Errors: `ec::decode_failure` (naming the
/// entity and version) for a type or aggregate name that is not UTF-8,
/// which JSON cannot carry.
result<std::string> to_json_line(const event_record& record,
                                 std::string_view aggregate = {});

/// One line of an export, parsed.
struct json_event {
  /// Nil ids, position 0 and schema version 1 for the fields the line
  /// leaves out.
  event_record record;
  /// The aggregate's name; empty when the line has none.
  std::string aggregate;
};

/// Parses one line written by `to_json_line` (or by the format 1 export):
/// an object with its six fields entity, version, id, type, payload_base64
/// and timestamp_ns, and any of position, command_id, correlation_id,
/// causation_id, aggregate and schema_version. Errors: `ec::decode_failure`
/// saying which field is missing, unexpected or wrong (the message does not
/// name the line: the caller knows it).
result<json_event> parse_json_line(std::string_view line);

/// What an export wrote.
struct export_report {
  std::uint64_t entities = 0;
  std::uint64_t events = 0;
};

/// Writes every event of `store` to `out` as JSON lines, in global log
/// position order (see the file comment), then checks that every entity's
/// head is the last version written. Calls `progress` after each page of
/// the log when given. Returns the counts. Memory: about 50 bytes per entity.
/// Errors (the lines written so far stay written): `ec::decode_failure` for
/// a damaged global log or entity (a gap in a history, events outside the
/// log; naming it: `cafes-admin verify` lists them all),
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
/// entity's next version (conditional appends, group-committed), with the
/// line's aggregate, ids and timestamp; the store gives it the next global
/// position, so positions follow line order. Blank lines are skipped. `store` must have no other writer meanwhile (a RocksDB
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
