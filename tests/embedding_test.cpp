// An application inside an actor system the program already has, and the
// typed entity handle message-driven code uses.

#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes/storage/memory_store.hpp"

using namespace cafes;

namespace {

/// A counter whose commands say by how much.
struct meter {
  static constexpr std::string_view name = "test.meter";
  struct state {
    std::int64_t total = 0;
    auto fields() const { return std::tie(total); }
  };
  struct add {
    static constexpr std::string_view type_name = "test.meter_add";
    std::int64_t amount = 0;
    auto fields() const { return std::tie(amount); }
  };
  using command = std::variant<add>;
  struct added {
    static constexpr std::string_view type_name = "test.meter_added";
    std::int64_t amount = 0;
    auto fields() const { return std::tie(amount); }
  };
  using event = std::variant<added>;
  static decision<event> decide(const state&, const command& c) {
    auto amount = std::get<add>(c).amount;
    if (amount <= 0)
      return reject("amount must be positive");
    return std::vector<event>{added{amount}};
  }
  static state evolve(state s, const event& e) {
    s.total += std::get<added>(e).amount;
    return s;
  }
};

/// The program's own actor: on (n) it adds 1..n to the entity one command
/// after the other, each at the version the previous answer gave, and
/// replies the last total.
caf::behavior adder(caf::event_based_actor* self, entity_ref<meter> ref) {
  return {
    [=](std::int64_t n) -> caf::result<std::int64_t> {
      auto promise = self->make_response_promise<std::int64_t>();
      auto step = std::make_shared<std::function<void(std::int64_t, std::uint64_t)>>();
      *step = [=](std::int64_t i, std::uint64_t version) mutable {
        ref.execute(self, meter::add{i}, version)
          .then(
            [=](entity_snapshot& snapshot) mutable {
              auto copy = entity_ref<meter>::copy_of(snapshot).value();
              if (i == n) {
                promise.deliver(copy.state.total);
                *step = nullptr; // the cycle through the closure ends
              } else {
                (*step)(i + 1, copy.version);
              }
            },
            [=](caf::error& err) mutable {
              promise.deliver(err);
              *step = nullptr;
            });
      };
      (*step)(1, 0);
      return promise;
    },
    [](const std::string& ping) { return ping + " back"; },
  };
}

} // namespace

TEST_CASE("an application runs inside the program's own actor system and leaves it "
          "running when destroyed",
          "[embedding]") {
  caf::actor_system_config config;
  configure(config);
  caf::actor_system system{config};
  auto store = std::make_shared<memory_store>();
  auto id = uuid::random();
  caf::scoped_actor self{system};
  {
    application app{system, store};
    CHECK(&app.system() == &system);
    auto actor = system.spawn(adder, app.ref<meter>(id));
    self->request(actor, caf::infinite, std::int64_t{10})
      .receive([](std::int64_t total) { CHECK(total == 55); },
               [](caf::error& err) { FAIL(to_string(to_failure(err))); });
    CHECK(app.entities<meter>().get(id).version == 10);

    // A stale version through the typed handle: the conflict, with the
    // events missed, as the synchronous API gives it.
    app.ref<meter>(id)
      .execute(self.ptr(), meter::add{1}, std::uint64_t{8})
      .receive([](entity_snapshot&) { FAIL("a stale command was applied"); },
               [&](caf::error& err) {
                 auto f = to_failure(err);
                 CHECK(f.code == ec::conflict);
                 CHECK(f.entity == id);
                 CHECK(f.missed_events.size() == 2);
               });
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
  // The system and the program's actors go on after the application.
  auto echo = system.spawn(adder, entity_ref<meter>{id, registry_actor{}});
  self->request(echo, caf::infinite, std::string{"ping"})
    .receive([](const std::string& answer) { CHECK(answer == "ping back"); },
             [](caf::error& err) { FAIL(to_string(err)); });
  self->send_exit(echo, caf::exit_reason::user_shutdown);
  // A second application in the same system reads what the first stored.
  application again{system, store};
  CHECK(again.entities<meter>().get(id).state.total == 55);
  CHECK(again.ref<meter>(id).id() == id);
  CHECK(again.ref<meter>(id).registry() == again.entities<meter>().shard(id));
}

TEST_CASE("an entity_ref routes to the shard that serves its id", "[embedding]") {
  application_config config;
  config.registry_shards = 4;
  application app{std::make_shared<memory_store>(), config};
  const auto& shards = app.registries<meter>();
  REQUIRE(shards.size() == 4);
  for (int i = 0; i < 16; ++i) {
    auto id = uuid::random();
    CHECK(app.ref<meter>(id).registry() == shards[shard_of(id, shards.size())]);
  }
}
