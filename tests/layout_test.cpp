// Storage: the RocksDB key and value layout, read back the way a tool reads a
// database (keys taken apart, values decoded).

#include <catch2/catch.hpp>

#include <limits>

#include "cafes/storage/rocksdb_layout.hpp"

using namespace cafes;
using namespace cafes::rocksdb_layout;

namespace {

constexpr auto max_version = std::numeric_limits<std::uint64_t>::max();

} // namespace

TEST_CASE("parse_key takes apart every event key and head key", "[storage]") {
  auto entity = GENERATE(uuid{}, uuid{~0ULL, ~0ULL}, uuid::random());
  SECTION("given an event key, then kind, entity and version come back") {
    auto version = GENERATE(1ULL, 256ULL, max_version);
    CHECK(parse_key(event_key(entity, version))
          == parsed_key{key_kind::event, entity, version});
  }
  SECTION("given a head key, then kind and entity come back, version 0") {
    CHECK(parse_key(head_key(entity)) == parsed_key{key_kind::head, entity, 0});
  }
}

TEST_CASE("parse_key refuses anything that is not a whole key", "[storage][bad-input]") {
  auto entity = uuid::random();
  auto event = event_key(entity, 3);
  auto head = head_key(entity);
  CHECK_FALSE(parse_key(""));
  CHECK_FALSE(parse_key(event_key_prefix(entity)));  // 'e' with 17 bytes
  CHECK_FALSE(parse_key(event.substr(0, 24)));
  CHECK_FALSE(parse_key(event + '\0'));
  CHECK_FALSE(parse_key(head.substr(0, 16)));
  CHECK_FALSE(parse_key(head + '\0'));
  CHECK_FALSE(parse_key(event_key(entity, 0)));      // versions start at 1
  auto unknown = event;
  unknown[0] = 'x';
  CHECK_FALSE(parse_key(unknown));
  unknown = head;
  unknown[0] = 'E';
  CHECK_FALSE(parse_key(unknown));
}

TEST_CASE("an event value round-trips, and a damaged one is a decode failure",
          "[storage][bad-input]") {
  event_record record;
  record.entity = uuid::random();
  record.version = 9;
  record.id = uuid::random();
  record.type = "bank.deposited";
  record.payload = {1, 2, 3};
  record.timestamp_ns = -5;
  auto value = encode_event_value(record);
  auto decoded = decode_event_value(record.entity, record.version, value);
  REQUIRE(decoded.ok());
  CHECK(*decoded == record);
  auto header = 1 + 16 + 8 + 4 + record.type.size();
  for (auto size : {std::size_t{0}, std::size_t{1}, header - 1}) {
    auto damaged = decode_event_value(record.entity, record.version,
                                      std::string_view{value}.substr(0, size));
    REQUIRE_FALSE(damaged.ok());
    CHECK(damaged.error().code == ec::decode_failure);
    CHECK_THAT(damaged.error().message, Catch::Contains(to_string(record.entity))
                                          && Catch::Contains("version 9"));
  }
  std::uint64_t version = 0;
  CHECK(decode_version(encode_version(max_version), version));
  CHECK(version == max_version);
  CHECK_FALSE(decode_version("1234567", version));
}
