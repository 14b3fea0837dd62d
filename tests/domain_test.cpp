// Domain: ids, the codec, and the rules of the example and bank aggregates.

#include <catch2/catch.hpp>

#include "cafes/domain/codec.hpp"
#include "cafes/domain/erased_aggregate.hpp"
#include "cafes_samples/bank_account.hpp"
#include "cafes_samples/example.hpp"
#include "cafes_samples/tally.hpp"

#include <limits>

using namespace cafes;
using namespace cafes_samples;

namespace {

template <class A>
typename A::state given(std::vector<typename A::event> history) {
  return fold<A>(history);
}

event_record record_of(const encoded_event& encoded) {
  event_record record;
  record.entity = uuid::random();
  record.version = 7;
  record.type = encoded.type;
  record.payload = encoded.payload;
  return record;
}

} // namespace

TEST_CASE("uuid text form round-trips and rejects malformed text", "[domain]") {
  auto id = uuid::random();
  auto text = to_string(id);
  REQUIRE(text.size() == 36);
  CHECK(text[14] == '4'); // version 4
  CHECK(uuid::parse(text) == id);
  CHECK(uuid::parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8")
        == uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
  CHECK_FALSE(uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c"));
  CHECK_FALSE(uuid::parse("6ba7b810x9dad-11d1-80b4-00c04fd430c8"));
  CHECK_FALSE(uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430cg"));
  CHECK(uuid::random() != uuid::random());
}

TEST_CASE("name-based uuids are RFC 4122 version 5", "[domain]") {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org").
  auto dns = *uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  CHECK(to_string(uuid::name_based(dns, "python.org"))
        == "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  // A name longer than one SHA-1 block, and the empty name.
  CHECK(to_string(uuid::name_based(dns, std::string(100, 'a')))
        == "56596f37-716c-57a9-a735-2561f8608390");
  CHECK(to_string(uuid::name_based(dns, "")) == "4ebd0208-8328-5d69-8c44-ec50939c0967");
  auto base = uuid::random();
  CHECK(uuid::name_based(base, "deposit") == uuid::name_based(base, "deposit"));
  CHECK(uuid::name_based(base, "deposit") != uuid::name_based(base, "refund"));
}

TEST_CASE("codec round-trips every event field", "[domain]") {
  bank::account::event original = bank::withdrawn{-42'000'000'000};
  auto decoded = decode<bank::account::event>(record_of(encode(original)));
  REQUIRE(decoded.ok());
  REQUIRE(std::holds_alternative<bank::withdrawn>(*decoded));
  CHECK(std::get<bank::withdrawn>(*decoded).amount == -42'000'000'000);

  example::entity::event changed = example::attribute_changed{"foo", "bär"};
  auto encoded = encode(changed);
  CHECK(encoded.type == "example.attribute_changed");
  auto back = decode<example::entity::event>(record_of(encoded));
  REQUIRE(back.ok());
  CHECK(std::get<example::attribute_changed>(*back).value == "bär");

  auto empty = decode<example::entity::event>(
    record_of(encode(example::entity::event{example::discarded{}})));
  REQUIRE(empty.ok());
  CHECK(std::holds_alternative<example::discarded>(*empty));
}

TEST_CASE("codec names entity and version on bytes it cannot decode", "[domain]") {
  auto record = record_of(encode(example::entity::event{example::created{"bar1"}}));
  SECTION("truncated payload") {
    record.payload.pop_back();
    auto decoded = decode<example::entity::event>(record);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == ec::decode_failure);
    CHECK_THAT(decoded.error().message, Catch::Contains(to_string(record.entity))
                                          && Catch::Contains("version 7"));
  }
  SECTION("trailing bytes") {
    record.payload.push_back(0);
    auto decoded = decode<example::entity::event>(record);
    REQUIRE_FALSE(decoded.ok());
    CHECK_THAT(decoded.error().message, Catch::Contains("trailing"));
  }
  SECTION("unknown type") {
    record.type = "example.renamed";
    auto decoded = decode<example::entity::event>(record);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == ec::decode_failure);
    CHECK_THAT(decoded.error().message, Catch::Contains("example.renamed"));
  }
  SECTION("length field larger than the payload") {
    record.payload = {0xFF, 0xFF, 0xFF, 0x7F, 'x'};
    CHECK_FALSE(decode<example::entity::event>(record).ok());
  }
}

TEST_CASE("example entity: create, change, discard", "[domain]") {
  using example::entity;
  SECTION("given nothing, when created, then foo is set") {
    auto events = entity::decide({}, example::create{"bar1"});
    REQUIRE(events.ok());
    CHECK(fold<entity>(*events).foo == "bar1");
  }
  SECTION("given nothing, when changed, then not found") {
    auto events = entity::decide({}, example::change_foo{"bar2"});
    REQUIRE_FALSE(events.ok());
    CHECK(events.error().code == ec::not_found);
  }
  SECTION("given created, when changed, then the attribute changes") {
    auto state = given<entity>({example::created{"bar1"}});
    auto events = entity::decide(state, example::change_foo{"bar2"});
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    CHECK(entity::evolve(state, events->front()).foo == "bar2");
  }
  SECTION("given created, when created again, then rejected") {
    auto state = given<entity>({example::created{"bar1"}});
    CHECK(entity::decide(state, example::create{"x"}).error().code == ec::rejected);
  }
  SECTION("given discarded, when changed or discarded, then rejected") {
    auto state = given<entity>({example::created{"bar1"}, example::discarded{}});
    CHECK(state.discarded);
    CHECK(entity::decide(state, example::change_foo{"x"}).error().code == ec::rejected);
    CHECK(entity::decide(state, example::discard{}).error().code == ec::rejected);
  }
}

TEST_CASE("bank account: deposits, withdrawals and closing", "[domain]") {
  using bank::account;
  auto opened = given<account>({bank::opened{"ada"}, bank::deposited{100}});
  REQUIRE(opened.balance == 100);
  SECTION("a withdrawal within the balance is accepted") {
    auto events = account::decide(opened, bank::withdraw{60});
    REQUIRE(events.ok());
    CHECK(account::evolve(opened, events->front()).balance == 40);
  }
  SECTION("insufficient funds are rejected with the figures") {
    auto events = account::decide(opened, bank::withdraw{101});
    REQUIRE_FALSE(events.ok());
    CHECK(events.error().code == ec::rejected);
    CHECK_THAT(events.error().message, Catch::Contains("insufficient funds")
                                         && Catch::Contains("101"));
  }
  SECTION("non-positive amounts are rejected") {
    CHECK(account::decide(opened, bank::deposit{0}).error().code == ec::rejected);
    CHECK(account::decide(opened, bank::withdraw{-5}).error().code == ec::rejected);
  }
  SECTION("an account with money cannot be closed; an empty one can") {
    CHECK(account::decide(opened, bank::close{}).error().code == ec::rejected);
    auto empty = given<account>({bank::opened{"ada"}});
    auto events = account::decide(empty, bank::close{});
    REQUIRE(events.ok());
    auto closed = account::evolve(empty, events->front());
    CHECK(account::decide(closed, bank::deposit{5}).error().code == ec::rejected);
  }
  SECTION("a deposit that would overflow the balance is rejected; replaying one "
          "from damaged data stays defined") {
    constexpr auto most = std::numeric_limits<std::int64_t>::max();
    auto refused = account::decide(opened, bank::deposit{most});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ec::rejected);
    CHECK_THAT(refused.error().message, Catch::Contains("overflow"));
    CHECK(account::decide(opened, bank::deposit{most - 100}).ok());
    CHECK(account::evolve(opened, bank::deposited{most}).balance == most);
    CHECK(account::evolve(opened, bank::withdrawn{std::numeric_limits<std::int64_t>::min()})
            .balance == most);
  }
  SECTION("an account never opened is not found") {
    CHECK(account::decide({}, bank::deposit{5}).error().code == ec::not_found);
    CHECK(account::decide(opened, bank::open{"bob"}).error().code == ec::rejected);
    CHECK(account::decide({}, bank::open{""}).error().code == ec::rejected);
  }
}

TEST_CASE("erased aggregate adapts decide, evolve and the codec", "[domain]") {
  auto erased = erase<bank::account>();
  auto state = erased->initial_state();
  auto events = erased->decide(state, bank::account::command{bank::open{"ada"}});
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  erased->evolve(state, events->front());
  CHECK(std::any_cast<const bank::state&>(state).owner == "ada");
  auto record = record_of(erased->encode(events->front()));
  auto decoded = erased->decode(record);
  REQUIRE(decoded.ok());
  CHECK(std::get<bank::opened>(std::any_cast<bank::account::event>(*decoded)).owner
        == "ada");
  auto wrong = erased->decide(state, example::entity::command{example::discard{}});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == ec::invalid_argument);
}

TEST_CASE("commands and states cross as encoded messages", "[domain]") {
  auto erased = erase<bank::account>();
  SECTION("a command decodes into the aggregate's command") {
    auto command = erased->decode_command(encode_command(bank::account::command{bank::deposit{7}}));
    REQUIRE(command.ok());
    CHECK(std::get<bank::deposit>(std::any_cast<const bank::account::command&>(*command)).amount
          == 7);
  }
  SECTION("a command of another aggregate is invalid_argument naming its type") {
    auto other = erased->decode_command(encode_command(example::entity::command{example::discard{}}));
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == ec::invalid_argument);
    CHECK(other.error().message.find("example.discard") != std::string::npos);
    CHECK(other.error().message.find("bank_account") != std::string::npos);
  }
  SECTION("garbage bytes are a decode_failure, never a crash") {
    auto garbage = encode_command(bank::account::command{bank::open{"ada"}});
    for (std::size_t size = 0; size < garbage.payload.size(); ++size) {
      auto cut = garbage;
      cut.payload.resize(size);
      auto decoded = erased->decode_command(cut);
      REQUIRE_FALSE(decoded.ok());
      CHECK(decoded.error().code == ec::decode_failure);
    }
    auto longer = garbage;
    longer.payload.push_back(0);
    CHECK(erased->decode_command(longer).error().code == ec::decode_failure);
    auto huge = garbage;
    huge.payload = {0xff, 0xff, 0xff, 0xff, 'x'}; // a string length far past the end
    CHECK(erased->decode_command(huge).error().code == ec::decode_failure);
  }
  SECTION("a command at another schema version is refused") {
    auto newer = encode_command(bank::account::command{bank::deposit{7}});
    newer.schema_version = 2;
    CHECK(erased->decode_command(newer).error().code == ec::invalid_argument);
  }
  SECTION("a state round-trips, and another aggregate's is refused") {
    bank::state state{true, false, "ada", 42};
    auto encoded = erased->encode_state(std::any{state});
    CHECK(encoded.type == "bank_account");
    auto decoded = decode_state<bank::state>(encoded, bank::account::name);
    REQUIRE(decoded.ok());
    CHECK(decoded->owner == "ada");
    CHECK(decoded->balance == 42);
    CHECK(decoded->is_open);
    auto foreign = decode_state<example::state>(encoded, example::entity::name);
    REQUIRE_FALSE(foreign.ok());
    CHECK(foreign.error().code == ec::decode_failure);
  }
}

TEST_CASE("tally: an addition that would overflow the total is rejected", "[domain]") {
  using tally::counter;
  constexpr auto most = std::numeric_limits<std::int64_t>::max();
  auto state = given<counter>({tally::added{uuid::random(), 5}});
  auto refused = counter::decide(state, tally::add{uuid::random(), most});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::rejected);
  CHECK(counter::decide(state, tally::add{uuid::random(), most - 5}).ok());
  CHECK(counter::evolve(state, tally::added{uuid::random(), most}).total == most);
}

TEST_CASE("erased aggregate lists its stored event type names", "[domain]") {
  CHECK(erase<bank::account>()->event_types()
        == std::vector<std::string_view>{"bank.opened", "bank.deposited",
                                         "bank.withdrawn", "bank.closed"});
  CHECK(erase<example::entity>()->event_types()
        == std::vector<std::string_view>{"example.created",
                                         "example.attribute_changed",
                                         "example.discarded"});
}
