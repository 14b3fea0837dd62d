// The JSON form of commands, states and events (cafes/net/json.hpp): every
// field type round-trips, reading is strict and names the field.

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "cafes/net/json.hpp"

using namespace cafes;
using jvalue = nlohmann::json;

namespace {

enum class colour : std::uint8_t { red = 1, green = 2 };

struct line_item {
  static constexpr std::array field_names{"sku", "count"};
  std::string sku;
  std::int32_t count = 0;
  auto fields() const { return std::tie(sku, count); }
};

struct everything {
  static constexpr std::string_view type_name = "test.everything";
  static constexpr std::array field_names{"flag",  "small", "large", "unsigned_", "ratio",
                                          "text",  "id",    "bytes", "maybe",     "items",
                                          "named", "keyed", "tint"};
  bool flag = false;
  std::int16_t small = 0;
  std::int64_t large = 0;
  std::uint64_t unsigned_ = 0;
  double ratio = 0;
  std::string text;
  uuid id;
  std::vector<std::uint8_t> bytes;
  std::optional<std::int32_t> maybe;
  std::vector<line_item> items;
  std::map<std::string, std::int64_t> named;
  std::map<std::int32_t, std::string> keyed;
  colour tint = colour::red;
  auto fields() const {
    return std::tie(flag, small, large, unsigned_, ratio, text, id, bytes, maybe, items, named,
                    keyed, tint);
  }
};

struct deposit {
  static constexpr std::string_view type_name = "test.deposit";
  static constexpr std::array field_names{"amount"};
  std::int64_t amount = 0;
  auto fields() const { return std::tie(amount); }
};

struct shut {
  static constexpr std::string_view type_name = "test.shut";
  static constexpr std::array<const char*, 0> field_names{};
  auto fields() const { return std::tie(); }
};

using command = std::variant<deposit, shut, everything>;

struct unnamed {
  std::int64_t amount = 0;
  auto fields() const { return std::tie(amount); }
};

struct one_name_short {
  static constexpr std::array field_names{"a"};
  std::int64_t a = 0;
  std::int64_t b = 0;
  auto fields() const { return std::tie(a, b); }
};

// Checked at compile time: a struct must name every field it lists.
static_assert(json::json_struct<deposit>);
static_assert(!json::json_struct<unnamed>);
static_assert(!json::detail::names_every_field<one_name_short>());

everything sample() {
  everything e;
  e.flag = true;
  e.small = -12;
  e.large = std::numeric_limits<std::int64_t>::min();
  e.unsigned_ = std::numeric_limits<std::uint64_t>::max();
  e.ratio = 0.25;
  e.text = "grüße \"quoted\"";
  e.id = *uuid::parse("01234567-89ab-cdef-0123-456789abcdef");
  e.bytes = {0, 1, 2, 255};
  e.maybe = 7;
  e.items = {{"bolt", 3}, {"nut", 4}};
  e.named = {{"a", 1}, {"b", -2}};
  e.keyed = {{-1, "minus one"}, {5, "five"}};
  e.tint = colour::green;
  return e;
}

failure read_error(const jvalue& in) {
  auto out = json::from_json<everything>(in);
  REQUIRE_FALSE(out.ok());
  return out.error();
}

} // namespace

TEST_CASE("every field type round-trips through JSON", "[json]") {
  auto e = sample();
  auto text = json::to_json(e).dump();
  auto back = json::from_json<everything>(jvalue::parse(text));
  INFO(text);
  REQUIRE(back.ok());
  CHECK(back->flag);
  CHECK(back->small == -12);
  CHECK(back->large == std::numeric_limits<std::int64_t>::min());
  CHECK(back->unsigned_ == std::numeric_limits<std::uint64_t>::max());
  CHECK(back->ratio == 0.25);
  CHECK(back->text == e.text);
  CHECK(back->id == e.id);
  CHECK(back->bytes == e.bytes);
  CHECK(back->maybe == 7);
  REQUIRE(back->items.size() == 2);
  CHECK(back->items[1].sku == "nut");
  CHECK(back->items[1].count == 4);
  CHECK(back->named == e.named);
  CHECK(back->keyed == e.keyed);
  CHECK(back->tint == colour::green);
  // The shapes a client sees.
  auto shown = json::to_json(e);
  CHECK(shown["id"] == "01234567-89ab-cdef-0123-456789abcdef");
  CHECK(shown["bytes"] == "AAEC/w==");
  CHECK(shown["items"][0] == jvalue{{"sku", "bolt"}, {"count", 3}});
  CHECK(shown["named"] == jvalue{{"a", 1}, {"b", -2}});
  CHECK(shown["keyed"][0] == jvalue::array({-1, "minus one"}));
  CHECK(shown["tint"] == 2);
}

TEST_CASE("an empty optional is null, and may be left out", "[json]") {
  auto e = sample();
  e.maybe.reset();
  auto shown = json::to_json(e);
  CHECK(shown["maybe"].is_null());
  CHECK_FALSE(json::from_json<everything>(shown)->maybe.has_value());
  shown.erase("maybe");
  auto back = json::from_json<everything>(shown);
  REQUIRE(back.ok());
  CHECK_FALSE(back->maybe.has_value());
}

TEST_CASE("reading JSON is strict and names the field that is wrong", "[json]") {
  auto good = json::to_json(sample());
  auto with = [&](const std::string& pointer, jvalue value) {
    auto changed = good;
    changed[jvalue::json_pointer{pointer}] = std::move(value);
    return changed;
  };
  auto without = [&](const std::string& name) {
    auto changed = good;
    changed.erase(name);
    return changed;
  };
  struct bad_case {
    jvalue input;
    std::string names;
  };
  std::vector<bad_case> cases{
    {without("large"), "'large': missing"},
    {with("/extra", 1), "'extra': no such field"},
    {with("/large", "12"), "'large': expected a number"},
    {with("/large", 1.5), "'large': expected a whole number"},
    {with("/small", 40000), "'small': out of range"},
    {with("/small", -40000), "'small': out of range"},
    {with("/unsigned_", -1), "'unsigned_': out of range"},
    {with("/flag", 1), "'flag': expected true or false"},
    {with("/text", 5), "'text': expected a string"},
    {with("/id", "not-a-uuid"), "'id': expected a UUID"},
    {with("/bytes", "AAE"), "'bytes': expected standard base64"},
    {with("/items/1/count", "four"), "'items[1].count': expected a number"},
    {with("/items/0/colour", 1), "'items[0].colour': no such field"},
    {with("/items", jvalue::object()), "'items': expected an array"},
    {with("/named/b", true), "'named.b': expected a number"},
    {with("/keyed/1", jvalue::array({5})), "'keyed[1]': expected a [key, value] pair"},
    {with("/keyed/1", jvalue::array({-1, "again"})), "'keyed[1]': a key given twice"},
    {jvalue::array(), "the body: expected an object"},
  };
  for (const auto& c : cases) {
    INFO(c.input.dump());
    auto problem = read_error(c.input);
    CHECK(problem.code == ec::invalid_argument);
    CHECK_THAT(problem.message, Catch::StartsWith(c.names));
  }
}

TEST_CASE("commands cross JSON by type name", "[json]") {
  auto shown = json::variant_to_json(command{deposit{100}});
  CHECK(shown == jvalue{{"type", "test.deposit"}, {"amount", 100}});
  auto back = json::variant_from_json<command>("test.deposit", shown);
  REQUIRE(back.ok());
  CHECK(std::get<deposit>(*back).amount == 100);
  auto closing = json::variant_from_json<command>("test.shut", jvalue::object());
  REQUIRE(closing.ok());
  CHECK(std::holds_alternative<shut>(*closing));

  auto unknown = json::variant_from_json<command>("test.rob", jvalue{{"amount", 1}});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ec::invalid_argument);
  CHECK_THAT(unknown.error().message, Catch::Contains("unknown type 'test.rob'"));
  auto wrong = json::variant_from_json<command>("test.deposit", jvalue{{"amount", "lots"}});
  REQUIRE_FALSE(wrong.ok());
  CHECK_THAT(wrong.error().message, Catch::StartsWith("'amount': expected a number"));
  auto extra = json::variant_from_json<command>("test.shut", jvalue{{"now", true}});
  REQUIRE_FALSE(extra.ok());
  CHECK_THAT(extra.error().message, Catch::StartsWith("'now': no such field"));
}
