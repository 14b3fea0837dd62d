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
