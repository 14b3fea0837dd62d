// The codec's field types beyond the basics (optional, vector, map, enums,
// double, nested structs, byte strings) and its compile-time check that
// fields() lists every member.

#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "cafes/domain/codec.hpp"

using namespace cafes;

namespace {

enum class tier : std::uint8_t { basic = 1, gold = 7 };

struct address {
  std::string street;
  std::optional<std::string> city;
  auto fields() const { return std::tie(street, city); }
};

struct profiled {
  static constexpr std::string_view type_name = "test.profiled";
  std::optional<std::int64_t> limit;
  std::vector<std::string> tags;
  std::map<std::string, std::int32_t> scores;
  tier level = tier::basic;
  double rate = 0;
  address home;
  std::vector<address> others;
  std::vector<std::uint8_t> blob;
  uuid ref;
  auto fields() const {
    return std::tie(limit, tags, scores, level, rate, home, others, blob, ref);
  }
};

using profiled_event = std::variant<profiled>;

event_record as_record(const encoded_event& encoded) {
  event_record record;
  record.type = encoded.type;
  record.payload = encoded.payload;
  record.schema_version = encoded.schema_version;
  record.version = 1;
  return record;
}

// Structs that must not pass the member check.
struct misses_a_member {
  static constexpr std::string_view type_name = "test.misses";
  std::int64_t a = 0;
  std::string b;
  auto fields() const { return std::tie(a); }
};

struct swapped_types {
  static constexpr std::string_view type_name = "test.swapped";
  std::int64_t a = 0;
  std::string b;
  auto fields() const { return std::tie(b, a); }
};

struct narrows {
  static constexpr std::string_view type_name = "test.narrows";
  std::int32_t small = 0;
  std::int64_t big = 0;
  auto fields() const { return std::tie(big, small); }
};

} // namespace

// Compile-time: what a struct's fields() must satisfy. A struct that fails
// it does not compile as an event (static_assert in the codec).
static_assert(detail::lists_every_member<profiled>);
static_assert(detail::lists_every_member<address>);
static_assert(!detail::lists_every_member<misses_a_member>);
static_assert(!detail::lists_every_member<swapped_types>);
static_assert(!detail::lists_every_member<narrows>);

TEST_CASE("codec round-trips optional, vector, map, enum, double, nested structs and "
          "byte strings",
          "[domain][codec]") {
  profiled full{42,
                {"a", "", "ccc"},
                {{"x", -1}, {"y", std::numeric_limits<std::int32_t>::max()}},
                tier::gold,
                -0.125,
                {"Main St", "Springfield"},
                {{"Elm", std::nullopt}, {"Oak", "Shelbyville"}},
                {0, 255, 7},
                uuid::random()};
  profiled empty{};
  for (const auto& original : {full, empty}) {
    auto decoded = decode<profiled_event>(as_record(encode(profiled_event{original})));
    REQUIRE(decoded.ok());
    const auto& back = std::get<profiled>(*decoded);
    CHECK(back.limit == original.limit);
    CHECK(back.tags == original.tags);
    CHECK(back.scores == original.scores);
    CHECK(back.level == original.level);
    CHECK(back.rate == original.rate);
    CHECK(back.home.street == original.home.street);
    CHECK(back.home.city == original.home.city);
    REQUIRE(back.others.size() == original.others.size());
    for (std::size_t i = 0; i < back.others.size(); ++i) {
      CHECK(back.others[i].street == original.others[i].street);
      CHECK(back.others[i].city == original.others[i].city);
    }
    CHECK(back.blob == original.blob);
    CHECK(back.ref == original.ref);
  }
}

TEST_CASE("codec refuses damaged containers without reading past the end or "
          "allocating for them",
          "[domain][codec]") {
  profiled value{std::nullopt, {"tag"}, {{"k", 1}}, tier::basic, 1.5, {}, {}, {}, {}};
  auto encoded = encode(profiled_event{value});
  SECTION("every truncation is a decode failure") {
    for (std::size_t size = 0; size < encoded.payload.size(); ++size) {
      auto record = as_record(encoded);
      record.payload.resize(size);
      auto decoded = decode<profiled_event>(record);
      REQUIRE_FALSE(decoded.ok());
      CHECK(decoded.error().code == ec::decode_failure);
    }
  }
  SECTION("a count far beyond the bytes left is refused") {
    auto record = as_record(encoded);
    // limit: 1 byte (absent); tags: u32 count at offset 1.
    record.payload[1] = 0xFF;
    record.payload[2] = 0xFF;
    record.payload[3] = 0xFF;
    record.payload[4] = 0x7F;
    CHECK(decode<profiled_event>(record).error().code == ec::decode_failure);
  }
  SECTION("a presence byte other than 0 or 1 is refused") {
    auto record = as_record(encoded);
    record.payload[0] = 2;
    CHECK(decode<profiled_event>(record).error().code == ec::decode_failure);
  }
  SECTION("a map key stored twice is refused") {
    profiled two{std::nullopt, {}, {{"a", 1}, {"b", 2}}, tier::basic, 0, {}, {}, {}, {}};
    auto record = as_record(encode(profiled_event{two}));
    // The map: count, then "a" (u32 length 1, 'a', i32), then "b": turn "b" into "a".
    auto b = std::find(record.payload.begin(), record.payload.end(), std::uint8_t{'b'});
    REQUIRE(b != record.payload.end());
    *b = 'a';
    CHECK(decode<profiled_event>(record).error().code == ec::decode_failure);
  }
}

// Schema versions: an event renamed and changed over three versions, read by
// the code of the third through its chain of upcasters.
namespace chain {

struct moved_v1 {
  static constexpr std::string_view type_name = "test.moved";
  std::int32_t metres = 0;
  auto fields() const { return std::tie(metres); }
};

struct relocated_v2 {
  static constexpr std::string_view type_name = "test.relocated"; // renamed
  static constexpr std::uint32_t schema_version = 2;
  using upcasts_from = moved_v1;
  static relocated_v2 upcast(moved_v1 old) { return {old.metres * 100}; }
  std::int64_t centimetres = 0;
  auto fields() const { return std::tie(centimetres); }
};

struct relocated {
  static constexpr std::string_view type_name = "test.relocated";
  static constexpr std::uint32_t schema_version = 3;
  using upcasts_from = relocated_v2;
  static relocated upcast(relocated_v2 old) { return {old.centimetres, "unknown"}; }
  std::int64_t centimetres = 0;
  std::string by;
  auto fields() const { return std::tie(centimetres, by); }
  friend bool operator==(const relocated&, const relocated&) = default;
};

struct noted {
  static constexpr std::string_view type_name = "test.noted";
  std::string text;
  auto fields() const { return std::tie(text); }
};

/// At version 2 with no struct for version 1.
struct strict {
  static constexpr std::string_view type_name = "test.strict";
  static constexpr std::uint32_t schema_version = 2;
  std::string text;
  auto fields() const { return std::tie(text); }
};

using event = std::variant<relocated, noted, strict>;

/// `old` as stored by the code whose event variant holds it.
template <class Old>
event_record stored(const Old& old) {
  auto record = as_record(encode(std::variant<Old>{old}));
  record.entity = *uuid::parse("e0000000-0000-4000-8000-00000000000e");
  record.version = 9;
  return record;
}

/// An old struct whose fields() leaves a member out, and its successor.
struct leaky_v1 {
  static constexpr std::string_view type_name = "test.leaky";
  std::int64_t a = 0;
  std::string b;
  auto fields() const { return std::tie(a); }
};

struct leaky {
  static constexpr std::string_view type_name = "test.leaky";
  static constexpr std::uint32_t schema_version = 2;
  using upcasts_from = leaky_v1;
  static leaky upcast(leaky_v1 old) { return {old.a}; }
  std::int64_t a = 0;
  auto fields() const { return std::tie(a); }
};

// decode<std::variant<leaky>> does not compile: the member check covers
// the old structs of a chain.
static_assert(!detail::chain_lists_every_member<leaky>());
static_assert(detail::lists_every_member<leaky>);
static_assert(detail::chain_lists_every_member<relocated>());

} // namespace chain

TEST_CASE("an event is read at every schema version its chain of upcasters lists, "
          "renamed or not, and written at its current one",
          "[domain][codec]") {
  using namespace chain;
  auto written = encode(event{relocated{250, "ada"}});
  CHECK(written.type == "test.relocated");
  CHECK(written.schema_version == 3);
  CHECK(encode(event{noted{"x"}}).schema_version == 1);

  auto from_v1 = decode<event>(stored(moved_v1{7}));
  REQUIRE(from_v1.ok());
  CHECK(std::get<relocated>(*from_v1) == relocated{700, "unknown"});
  auto from_v2 = decode<event>(stored(relocated_v2{45}));
  REQUIRE(from_v2.ok());
  CHECK(std::get<relocated>(*from_v2) == relocated{45, "unknown"});
  auto current = decode<event>(stored(relocated{3, "bo"}));
  REQUIRE(current.ok());
  CHECK(std::get<relocated>(*current) == relocated{3, "bo"});
  // A renamed event's old name is listed, so log filters pass its old events.
  CHECK(type_names<event>()
        == std::vector<std::string_view>{"test.relocated", "test.moved", "test.noted",
                                         "test.strict"});
}

TEST_CASE("a schema version the code does not know, an unknown type and a malformed old "
          "payload are decode failures naming type, schema version, entity and version",
          "[domain][codec][bad-input]") {
  using namespace chain;
  auto refused = [](event_record record) {
    auto decoded = decode<event>(record);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == ec::decode_failure);
    CHECK_THAT(decoded.error().message,
               Catch::Contains("'" + record.type + "'")
                 && Catch::Contains("schema version " + std::to_string(record.schema_version))
                 && Catch::Contains("e0000000-0000-4000-8000-00000000000e")
                 && Catch::Contains("at version 9"));
    return decoded.error().message;
  };
  auto newer = stored(relocated{1, "x"});
  newer.schema_version = 4;
  CHECK_THAT(refused(newer), Catch::Contains("newer than this code knows")
                               && Catch::Contains("reads schema versions 2, 3"));
  auto never = stored(moved_v1{1});
  never.schema_version = 2; // "test.moved" was only ever version 1
  CHECK_THAT(refused(never), Catch::Contains("newer") && Catch::Contains("schema versions 1"));
  auto no_upcaster = stored(strict{"s"});
  no_upcaster.schema_version = 1;
  CHECK_THAT(refused(no_upcaster), Catch::Contains("no struct"));
  auto unknown = stored(noted{"n"});
  unknown.type = "test.gone";
  CHECK_THAT(refused(unknown), Catch::Contains("unknown event type"));
  auto malformed = stored(moved_v1{1});
  malformed.payload.pop_back();
  CHECK_THAT(refused(malformed), Catch::Contains("truncated"));
}
