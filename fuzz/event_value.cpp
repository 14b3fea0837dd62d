// Fuzz target: the stored values of the RocksDB layout, as read from disk.
// Input: one value, decoded as an event value (decode_event_value) and as a
// head value (decode_version).
// Invariants: a value that decodes (format 2, or 3 with a schema version of
// 2 or more) re-encodes to the same bytes,
// keeps the key's entity and version, and re-encoded at another position
// differs only in the position's 8 bytes; one that does not (format 1 seeds
// among them) is a decode_failure naming the entity and version.
// A head value decodes exactly when it has 8 bytes, and re-encodes to them.

#include "cafes/storage/rocksdb_layout.hpp"

#include "check.hpp"

using namespace cafes;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto value = fuzz::as_text(data, size);
  const entity_id entity{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  const std::uint64_t version = 42;

  auto record = rocksdb_layout::decode_event_value(entity, version, value);
  if (record) {
    FUZZ_CHECK(record->entity == entity && record->version == version);
    FUZZ_CHECK(rocksdb_layout::encode_event_value(*record) == value);
    auto moved = rocksdb_layout::encode_event_value(*record, ~record->position);
    // format, id, timestamp (the schema version of format 3 comes later)
    constexpr std::size_t at = 1 + 16 + 8;
    FUZZ_CHECK(moved.size() == value.size());
    FUZZ_CHECK(moved.compare(0, at, value, 0, at) == 0);
    FUZZ_CHECK(moved.compare(at + 8, std::string::npos, value, at + 8) == 0);
    auto again = rocksdb_layout::decode_event_value(entity, version, moved);
    FUZZ_CHECK(again && again->position == ~record->position);
    FUZZ_CHECK(record->schema_version >= 1);
    FUZZ_CHECK((value[0] == 3) == (record->schema_version != 1));
  } else {
    FUZZ_CHECK(record.error().code == ec::decode_failure);
    const auto& message = record.error().message;
    FUZZ_CHECK(message.find(to_string(entity)) != std::string::npos);
    FUZZ_CHECK(message.find("version 42") != std::string::npos);
  }

  std::uint64_t head = 0;
  bool decoded = rocksdb_layout::decode_version(value, head);
  FUZZ_CHECK(decoded == (size == 8));
  if (decoded)
    FUZZ_CHECK(rocksdb_layout::encode_version(head) == value);
  return 0;
}
