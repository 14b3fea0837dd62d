// Fuzz target: RocksDB keys, as a tool iterating a database reads them.
// Input: one key for parse_key; its first 24 bytes, when there are that many,
// also give an entity (16) and a number (8, big-endian) to build keys from.
// Invariants: a key that parses is exactly the key its builder (event_key,
// head_key, log_key, position_key) makes from the parts, and the parts are
// in range (versions and positions from 1; nil entity and no version for the
// global log's keys); every key those build parses back to its parts (at
// version or position 0 excepted: they are refused). No prefix is a key.

#include "cafes/domain/bytes.hpp"
#include "cafes/storage/rocksdb_layout.hpp"

#include "check.hpp"

using namespace cafes;
using namespace cafes::rocksdb_layout;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto key = fuzz::as_text(data, size);
  if (auto parsed = parse_key(key)) {
    switch (parsed->kind) {
      case key_kind::event:
        FUZZ_CHECK(parsed->version >= 1 && parsed->position == 0);
        FUZZ_CHECK(event_key(parsed->entity, parsed->version) == key);
        break;
      case key_kind::head:
        FUZZ_CHECK(parsed->version == 0 && parsed->position == 0);
        FUZZ_CHECK(head_key(parsed->entity) == key);
        break;
      case key_kind::log_entry:
        FUZZ_CHECK(parsed->entity.is_nil() && parsed->version == 0 && parsed->position >= 1);
        FUZZ_CHECK(log_key(parsed->position) == key);
        break;
      case key_kind::position:
        FUZZ_CHECK(parsed->entity.is_nil() && parsed->version == 0 && parsed->position == 0);
        FUZZ_CHECK(position_key() == key);
        break;
      case key_kind::command:
        FUZZ_CHECK(!parsed->command.is_nil() && parsed->version == 0 && parsed->position == 0);
        FUZZ_CHECK(command_key(parsed->entity, parsed->command) == key);
        break;
      case key_kind::view_checkpoint:
        FUZZ_CHECK(parsed->version == 0 && parsed->position == 0);
        FUZZ_CHECK(view_checkpoint_key(parsed->entity) == key);
        break;
      case key_kind::view_row:
        FUZZ_CHECK(!parsed->row_key.empty() && parsed->version == 0 && parsed->position == 0);
        FUZZ_CHECK(view_row_key(parsed->entity, parsed->generation, parsed->row_key) == key);
        break;
    }
  }

  byte_reader reader{data, size};
  entity_id entity;
  std::uint64_t number = 0;
  if (!reader.read(entity) || !reader.read_big_endian(number))
    return 0;
  FUZZ_CHECK(parse_key(head_key(entity)) == parsed_key{key_kind::head, entity, 0});
  auto event = parse_key(event_key(entity, number));
  if (number == 0)
    FUZZ_CHECK(!event);
  else
    FUZZ_CHECK(event == parsed_key{key_kind::event, entity, number});
  FUZZ_CHECK(!parse_key(event_key_prefix(entity)));
  auto log = parse_key(log_key(number));
  if (number == 0)
    FUZZ_CHECK(!log);
  else
    FUZZ_CHECK(log == parsed_key{key_kind::log_entry, entity_id{}, 0, number});
  FUZZ_CHECK(!parse_key(log_key_prefix()));
  FUZZ_CHECK(parse_key(position_key()) == parsed_key{key_kind::position, entity_id{}, 0, 0});
  return 0;
}
