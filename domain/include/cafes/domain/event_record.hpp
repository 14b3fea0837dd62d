#pragma once
// The stored form of one event: what every store persists and returns.

#include <cstdint>
#include <string>
#include <vector>

#include "cafes/domain/uuid.hpp"

namespace cafes {

/// One event of one entity, as stored. Versions of an entity start at 1 and
/// have no gaps; an entity's version is the version of its last event.
struct event_record {
  entity_id entity;
  /// Position in the entity's history; assigned by the store on append.
  std::uint64_t version = 0;
  /// Unique id of this event (random UUID chosen by the writer).
  event_id id;
  /// The event type's name, for example "bank.deposited"; selects the decoder.
  std::string type;
  /// The encoded event (see codec.hpp).
  std::vector<std::uint8_t> payload;
  /// Wall-clock time the event was decided, in nanoseconds since the Unix epoch.
  std::int64_t timestamp_ns = 0;
  /// Place in the store's global log: 1, 2, 3, ... across all entities, in
  /// commit order, with no gap; assigned by the store in the same atomic
  /// write as the event (0 until stored).
  std::uint64_t position = 0;
  /// The command that decided this event (nil: the writer gave none).
  uuid command_id{};
  /// The conversation the event belongs to: a command's correlation id is
  /// passed on to everything it causes (nil: none given).
  uuid correlation_id{};
  /// What caused the command that decided this event: for a command sent in
  /// reaction to an event, that event's id (nil: none given).
  uuid causation_id{};
  /// The version of the event type's schema the payload was written with
  /// (the struct's `schema_version`, see schema.hpp); 1 for events stored
  /// before schema versions existed. Selects the upcasters on decoding.
  std::uint32_t schema_version = 1;

  friend bool operator==(const event_record&, const event_record&) = default;
};

/// Returns the current wall-clock time in nanoseconds since the Unix epoch.
std::int64_t now_ns();

} // namespace cafes
