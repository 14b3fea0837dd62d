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
