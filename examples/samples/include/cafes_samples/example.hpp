#pragma once
// The seed's example entity: one attribute `foo`; created, changed, discarded.
// A sample aggregate (cafes::samples, not installed): examples, tests and
// tools use it; a service defines its own aggregates like it.

#include <string>
#include <string_view>
#include <tuple>
#include <variant>

#include "cafes/domain/aggregate.hpp"

namespace cafes_samples::example {

// -- events (past tense) ------------------------------------------------------

struct created {
  static constexpr std::string_view type_name = "example.created";
  std::string foo;
  auto fields() const { return std::tie(foo); }
};

struct attribute_changed {
  static constexpr std::string_view type_name = "example.attribute_changed";
  std::string name;
  std::string value;
  auto fields() const { return std::tie(name, value); }
};

struct discarded {
  static constexpr std::string_view type_name = "example.discarded";
  auto fields() const { return std::tie(); }
};

// -- commands -----------------------------------------------------------------

struct create {
  static constexpr std::string_view type_name = "example.create";
  std::string foo;
  auto fields() const { return std::tie(foo); }
};

struct change_foo {
  static constexpr std::string_view type_name = "example.change_foo";
  std::string foo;
  auto fields() const { return std::tie(foo); }
};

struct discard {
  static constexpr std::string_view type_name = "example.discard";
  auto fields() const { return std::tie(); }
};

// -- the aggregate -----------------------------------------------------------

struct state {
  bool exists = false;
  bool discarded = false;
  std::string foo;
  auto fields() const { return std::tie(exists, discarded, foo); }
};

struct entity {
  static constexpr std::string_view name = "example";
  using state = example::state;
  using command = std::variant<create, change_foo, discard>;
  using event = std::variant<created, attribute_changed, discarded>;

  /// Rules: create only once; change and discard need an existing entity that
  /// is not discarded (`ec::not_found`, `ec::rejected`).
  static cafes::decision<event> decide(const state& current, const command& cmd);

  /// Applies one event; no rules.
  static state evolve(state current, const event& ev);
};

} // namespace cafes_samples::example
