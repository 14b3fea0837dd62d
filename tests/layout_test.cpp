// Storage: the RocksDB key and value layout, read back the way a tool reads a
// database (keys taken apart, values decoded).

#include <catch2/catch.hpp>

#include <limits>
#include <utility>
#include <vector>

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

TEST_CASE("parse_key takes apart view checkpoint and row keys", "[storage]") {
  auto view = view_id("accounts_by_owner");
  CHECK(view == view_id("accounts_by_owner"));
  CHECK(view != view_id("accounts_by_owner2"));
  auto checkpoint = parse_key(view_checkpoint_key(view));
  REQUIRE(checkpoint);
  CHECK(checkpoint->kind == key_kind::view_checkpoint);
  CHECK(checkpoint->entity == view);
  auto row = parse_key(view_row_key(view, 7, "owner/ada"));
  REQUIRE(row);
  CHECK(row->kind == key_kind::view_row);
  CHECK(row->entity == view);
  CHECK(row->generation == 7);
  CHECK(row->row_key == "owner/ada");
  CHECK_FALSE(parse_key(view_generation_prefix(view, 7))); // a row needs a key
  CHECK_FALSE(parse_key(view_rows_prefix(view)));
  auto value = encode_view_checkpoint("accounts_by_owner", view_checkpoint{3, 42, 7});
  auto decoded = decode_view_checkpoint(value);
  REQUIRE(decoded);
  CHECK(decoded->name == "accounts_by_owner");
  CHECK(decoded->checkpoint == view_checkpoint{3, 42, 7});
  CHECK_FALSE(decode_view_checkpoint(value.substr(0, 12)));
  CHECK_FALSE(decode_view_checkpoint(value.substr(0, 21))); // no name
  CHECK_FALSE(decode_view_checkpoint(""));
}

TEST_CASE("parse_key takes apart the global log's keys", "[storage]") {
  auto position = GENERATE(1ULL, 256ULL, max_version);
  CHECK(parse_key(log_key(position)) == parsed_key{key_kind::log_entry, uuid{}, 0, position});
  CHECK(parse_key(position_key()) == parsed_key{key_kind::position, uuid{}, 0, 0});
  auto log = log_key(position);
  CHECK_FALSE(parse_key(log_key(0))); // positions start at 1
  CHECK_FALSE(parse_key(log_key_prefix()));
  CHECK_FALSE(parse_key(log.substr(0, 24)));
  CHECK_FALSE(parse_key(log + '\0'));
  CHECK_FALSE(parse_key(position_key() + '\0'));
  auto named = log; // an entity where the zeros belong
  named[5] = 1;
  CHECK_FALSE(parse_key(named));
  named = position_key();
  named[16] = 1;
  CHECK_FALSE(parse_key(named));
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
  record.position = 12;
  record.command_id = uuid::random();
  record.causation_id = uuid::random();
  auto value = encode_event_value(record);
  auto decoded = decode_event_value(record.entity, record.version, value);
  REQUIRE(decoded.ok());
  CHECK(*decoded == record);
  auto header = 1 + 16 + 8 + 8 + 3 * 16 + 4 + record.type.size();
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

TEST_CASE("an event's schema version round-trips: format 2 at version 1, as before, "
          "format 3 from version 2",
          "[storage][bad-input]") {
  event_record record;
  record.entity = uuid::random();
  record.version = 4;
  record.id = uuid::random();
  record.type = "test.moved";
  record.payload = {7, 8};
  record.position = 3;
  auto format2 = encode_event_value(record);
  CHECK(format2[0] == 2);
  CHECK(decode_event_value(record.entity, record.version, format2)->schema_version == 1);
  // A value as written before schema versions existed, byte by byte:
  // read at schema version 1, and written again alike.
  const std::string before = "\x02" + std::string(16, '\x11') + std::string(8, '\0') + "\x05"
                             + std::string(7, '\0') + std::string(48, '\0') + "\x03"
                             + std::string(3, '\0') + "a.b" + "\x2a";
  REQUIRE(before.size() == 1 + 16 + 8 + 8 + 48 + 4 + 3 + 1);
  auto old = decode_event_value(record.entity, 1, before);
  REQUIRE(old.ok());
  CHECK(old->schema_version == 1);
  CHECK(old->type == "a.b");
  CHECK(old->position == 5);
  CHECK(old->payload == std::vector<std::uint8_t>{0x2a});
  CHECK(encode_event_value(*old) == before);

  record.schema_version = 70'000;
  auto format3 = encode_event_value(record);
  CHECK(format3[0] == 3);
  CHECK(format3.size() == format2.size() + 4);
  auto decoded = decode_event_value(record.entity, record.version, format3);
  REQUIRE(decoded.ok());
  CHECK(*decoded == record);
  // Format 3 at schema version 0 or 1 is never written: damage.
  for (std::uint8_t low : {0, 1}) {
    auto damaged = format3;
    auto at = 1 + 16 + 8 + 8 + 3 * 16;
    damaged.replace(static_cast<std::size_t>(at), 4,
                    std::string{static_cast<char>(low)} + std::string(3, '\0'));
    auto refused = decode_event_value(record.entity, record.version, damaged);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ec::decode_failure);
    CHECK_THAT(refused.error().message,
               Catch::Contains("version 4")
                 && Catch::Contains("format 3 at schema version " + std::to_string(low)));
  }
  auto truncated = decode_event_value(record.entity, record.version,
                                      std::string_view{format3}.substr(0, 1 + 16 + 8 + 8 + 48 + 2));
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().code == ec::decode_failure);
}

TEST_CASE("a log entry round-trips, and a damaged one is a decode failure naming its "
          "position",
          "[storage][bad-input]") {
  const log_entry entry{uuid::random(), 9, "bank_account", "bank.deposited"};
  auto value = encode_log_entry(entry);
  auto decoded = decode_log_entry(4, value);
  REQUIRE(decoded.ok());
  CHECK(*decoded == entry);
  auto version_zero = encode_log_entry({entry.entity, 0, "", "t"});
  auto wrong_format = value;
  wrong_format[0] = 2;
  for (const auto& [damaged, says] :
       std::vector<std::pair<std::string, std::string>>{
         {"", "empty value"},
         {value.substr(0, value.size() - 1), "truncated"},
         {value + "x", "trailing bytes"},
         {wrong_format, "unknown entry format 2"},
         {version_zero, "version 0"}}) {
    auto refused = decode_log_entry(4, damaged);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ec::decode_failure);
    CHECK_THAT(refused.error().message, Catch::Contains("position 4: " + says));
  }
}
