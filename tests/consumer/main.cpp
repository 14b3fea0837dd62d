// A service's own aggregate on an installed cafes: a stock item created,
// changed, refused a shipment, and a stale copy getting the conflict; its
// state as JSON, an HTTP edge serving it (cafes::net), and an etcd store
// (cafes::etcd) that reaches no cluster refusing clearly.
// Exits 0 only when every outcome is the expected one.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

#include "cafes/actors/application.hpp"
#include "cafes/etcd/etcd_store.hpp"
#include "cafes/net/http_edge.hpp"
#include "cafes/storage/memory_store.hpp"

namespace stock {

struct registered {
  static constexpr std::string_view type_name = "stock.registered";
  std::string sku;
  static constexpr std::array field_names{"sku"};
  auto fields() const { return std::tie(sku); }
};

struct received {
  static constexpr std::string_view type_name = "stock.received";
  std::int64_t quantity = 0;
  static constexpr std::array field_names{"quantity"};
  auto fields() const { return std::tie(quantity); }
};

struct shipped {
  static constexpr std::string_view type_name = "stock.shipped";
  std::int64_t quantity = 0;
  static constexpr std::array field_names{"quantity"};
  auto fields() const { return std::tie(quantity); }
};

struct register_item {
  static constexpr std::string_view type_name = "stock.register";
  std::string sku;
  static constexpr std::array field_names{"sku"};
  auto fields() const { return std::tie(sku); }
};
struct receive {
  static constexpr std::string_view type_name = "stock.receive";
  std::int64_t quantity = 0;
  static constexpr std::array field_names{"quantity"};
  auto fields() const { return std::tie(quantity); }
};
struct ship {
  static constexpr std::string_view type_name = "stock.ship";
  std::int64_t quantity = 0;
  static constexpr std::array field_names{"quantity"};
  auto fields() const { return std::tie(quantity); }
};

struct state {
  std::string sku;
  std::int64_t on_hand = 0;
  static constexpr std::array field_names{"sku", "on_hand"};
  auto fields() const { return std::tie(sku, on_hand); }
};

struct item {
  static constexpr std::string_view name = "stock_item";
  using state = stock::state;
  using command = std::variant<register_item, receive, ship>;
  using event = std::variant<registered, received, shipped>;

  /// Rules: registered once; quantities positive; no shipping what is not
  /// on hand.
  static cafes::decision<event> decide(const state& current, const command& cmd) {
    using events = std::vector<event>;
    if (const auto* c = std::get_if<register_item>(&cmd)) {
      if (!current.sku.empty())
        return cafes::reject("already registered");
      return events{registered{c->sku}};
    }
    if (current.sku.empty())
      return cafes::does_not_exist("stock item");
    if (const auto* c = std::get_if<receive>(&cmd)) {
      if (c->quantity <= 0)
        return cafes::reject("quantity must be positive");
      return events{received{c->quantity}};
    }
    const auto& c = std::get<ship>(cmd);
    if (c.quantity <= 0 || c.quantity > current.on_hand)
      return cafes::reject("cannot ship " + std::to_string(c.quantity) + ", "
                           + std::to_string(current.on_hand) + " on hand");
    return events{shipped{c.quantity}};
  }

  /// Applies one event; no rules.
  static state evolve(state current, const event& ev) {
    if (const auto* e = std::get_if<registered>(&ev))
      current.sku = e->sku;
    else if (const auto* e = std::get_if<received>(&ev))
      current.on_hand += e->quantity;
    else
      current.on_hand -= std::get<shipped>(ev).quantity;
    return current;
  }
};

} // namespace stock

int main() {
  cafes::application app{std::make_shared<cafes::memory_store>()};
  auto items = app.entities<stock::item>();
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", what, ok ? "ok" : "WRONG");
    failures += ok ? 0 : 1;
  };

  auto mine = items.create(stock::register_item{"bolt-m6"}); // version 1
  auto stale = items.get(mine.id);                            // another copy
  items.execute(mine, stock::receive{10});                    // version 2
  check(mine.version == 2 && mine.state.on_hand == 10, "received 10 at version 2");

  bool conflict = false;
  try {
    items.execute(stale, stock::ship{3}); // the copy is at version 1
  } catch (const cafes::concurrency_error& e) {
    conflict = e.expected_version() == 1 && e.actual_version() == 2;
  }
  check(conflict, "stale copy: conflict, expected 1, actual 2");

  bool rejected = false;
  try {
    items.execute(mine, stock::ship{20});
  } catch (const cafes::cafes_error& e) {
    rejected = e.code() == cafes::ec::rejected;
  }
  check(rejected, "shipping 20 of 10: rejected");

  items.execute(mine, stock::ship{4});
  auto stored = items.get(mine.id);
  check(stored.version == 3 && stored.state.on_hand == 6, "shipped 4: 6 on hand at version 3");
  check(cafes::json::to_json(stored.state) == cafes::json::value{{"sku", "bolt-m6"}, {"on_hand", 6}},
        "the state as JSON");
  cafes::net::http_edge edge{app};
  edge.serve<stock::item>("/items");
  check(edge.start() > 0, "an HTTP edge listens");
  edge.stop();
  cafes::etcd_options etcd;
  etcd.endpoints = {"127.0.0.1:9"}; // nothing listens there
  etcd.call_timeout = std::chrono::milliseconds{200};
  etcd.write_timeout = std::chrono::milliseconds{400};
  auto unreachable = cafes::etcd_store::open(etcd);
  check(!unreachable && unreachable.error().code == cafes::ec::storage_unavailable,
        "an etcd store without a cluster: storage_unavailable");
  return failures == 0 ? 0 : 1;
}
