// Fuzz target: RocksDB keys, as a tool iterating a database reads them.
// Input: one key for parse_key; its first 24 bytes, when there are that many,
// also give an entity (16) and a version (8, big-endian) to build keys from.
// Invariants: a key that parses is exactly the key event_key or head_key
// builds from the parts (version 0 for a head, 1 or more for an event); and
// every key those build parses back to its parts (event keys at version 0
// excepted: they are refused).

#include "cafes/domain/bytes.hpp"
#include "cafes/storage/rocksdb_layout.hpp"

#include "check.hpp"

using namespace cafes;
using namespace cafes::rocksdb_layout;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto key = fuzz::as_text(data, size);
  if (auto parsed = parse_key(key)) {
    if (parsed->kind == key_kind::event) {
      FUZZ_CHECK(parsed->version >= 1);
      FUZZ_CHECK(event_key(parsed->entity, parsed->version) == key);
    } else {
      FUZZ_CHECK(parsed->kind == key_kind::head && parsed->version == 0);
      FUZZ_CHECK(head_key(parsed->entity) == key);
    }
  }

  byte_reader reader{data, size};
  entity_id entity;
  std::uint64_t version = 0;
  if (!reader.read(entity) || !reader.read_big_endian(version))
    return 0;
  FUZZ_CHECK(parse_key(head_key(entity)) == parsed_key{key_kind::head, entity, 0});
  auto event = parse_key(event_key(entity, version));
  if (version == 0)
    FUZZ_CHECK(!event);
  else
    FUZZ_CHECK(event == parsed_key{key_kind::event, entity, version});
  FUZZ_CHECK(!parse_key(event_key_prefix(entity)));
  return 0;
}
