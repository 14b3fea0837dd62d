// Quickstart: an aggregate of your own, served by entity actors. A stale
// copy gets a conflict that carries what it missed, catches up and retries;
// a broken rule is a rejection. (The README quotes this file whole.)

#include <cstdio>
#include <string>
#include <tuple>
#include <variant>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"

using namespace cafes;

// The aggregate: plain C++, no actors, no storage. Events are what is stored;
// commands and the state travel between actors (and processes) the same way:
// a type name and every field in order. decide and evolve are pure.
struct stock {
  static constexpr std::string_view name = "quickstart.stock";
  struct state {
    std::string item;
    int on_hand = 0;
    auto fields() const { return std::tie(item, on_hand); }
  };
  struct receive {
    static constexpr std::string_view type_name = "quickstart.receive";
    std::string item;
    int count = 0;
    auto fields() const { return std::tie(item, count); }
  };
  struct ship {
    static constexpr std::string_view type_name = "quickstart.ship";
    int count = 0;
    auto fields() const { return std::tie(count); }
  };
  using command = std::variant<receive, ship>;

  struct received {
    static constexpr std::string_view type_name = "quickstart.received";
    std::string item;
    int count = 0;
    auto fields() const { return std::tie(item, count); }
  };
  struct shipped {
    static constexpr std::string_view type_name = "quickstart.shipped";
    int count = 0;
    auto fields() const { return std::tie(count); }
  };
  using event = std::variant<received, shipped>;

  static decision<event> decide(const state& s, const command& c) {
    if (const auto* r = std::get_if<receive>(&c))
      return std::vector<event>{received{r->item, r->count}};
    auto count = std::get<ship>(c).count;
    if (count > s.on_hand)
      return reject("only " + std::to_string(s.on_hand) + " on hand");
    return std::vector<event>{shipped{count}};
  }
  static state evolve(state s, const event& e) {
    if (const auto* r = std::get_if<received>(&e)) {
      s.item = r->item;
      s.on_hand += r->count;
    } else {
      s.on_hand -= std::get<shipped>(e).count;
    }
    return s;
  }
};

int main(int argc, char** argv) {
  CLI::App cli{"quickstart: a conflict, a catch-up and a rejection (no options)"};
  if (auto code = tools::parse(cli, argc, argv)) // any argument: exit 2
    return *code;
  rocksdb_options options;
  options.in_memory = true; // like sqlite's :memory:; give .path for a directory
  auto store = rocksdb_store::open(options);
  if (!store)
    return 3;
  application app{std::move(*store)};
  auto stocks = app.entities<stock>();

  auto mine = stocks.create(stock::receive{"bolts", 10}); // version 1
  auto other = stocks.get(mine.id);                       // a second copy
  stocks.execute(other, stock::ship{4});                  // version 2

  auto refused = stocks.try_execute(mine, stock::ship{3}); // mine is at 1
  if (refused.ok())
    return 1;
  const failure& conflict = refused.error(); // ec::conflict, expected 1, actual 2
  std::printf("conflict: expected %llu, actual %llu, %zu missed event(s)\n",
              (unsigned long long)conflict.expected_version,
              (unsigned long long)conflict.actual_version, conflict.missed_events.size());
  if (!stocks.catch_up(mine, conflict)) // no read: the events came with it
    return 1;
  if (!stocks.try_execute(mine, stock::ship{3}).ok()) // version 3
    return 1;

  auto too_many = stocks.try_execute(mine, stock::ship{50});
  std::printf("%s\n", to_string(too_many.error()).c_str()); // rejected: only 3 on hand
  std::printf("%d %s on hand at version %llu; %llu conflict(s)\n", mine.state.on_hand,
              mine.state.item.c_str(), (unsigned long long)mine.version,
              (unsigned long long)app.counters<stock>().conflicts);
  return mine.state.on_hand == 3 && mine.version == 3 && too_many.error().code == ec::rejected
           ? 0
           : 1;
}
