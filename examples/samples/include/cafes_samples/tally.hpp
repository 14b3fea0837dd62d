#pragma once
// A tally: adds amounts. Each event records the command that caused it, so a
// verifier can prove every acknowledged command is stored exactly once (the
// stress tool's domain). An entity exists from its first addition.
// A sample aggregate (cafes::samples, not installed): examples, tests and
// tools use it; a service defines its own aggregates like it.

#include <cstdint>
#include <string_view>
#include <tuple>
#include <variant>

#include "cafes/domain/aggregate.hpp"

namespace cafes_samples::tally {

struct added {
  static constexpr std::string_view type_name = "tally.added";
  cafes::uuid command_id;
  std::int64_t amount = 0;
  auto fields() const { return std::tie(command_id, amount); }
};

struct add {
  static constexpr std::string_view type_name = "tally.add";
  cafes::uuid command_id;
  std::int64_t amount = 0;
  auto fields() const { return std::tie(command_id, amount); }
};

struct state {
  std::int64_t total = 0;
  std::uint64_t additions = 0;
  auto fields() const { return std::tie(total, additions); }
  friend bool operator==(const state&, const state&) = default;
};

struct counter {
  static constexpr std::string_view name = "tally";
  using state = tally::state;
  using command = std::variant<add>;
  using event = std::variant<added>;

  /// Rules: the amount must be positive (else ec::rejected).
  static cafes::decision<event> decide(const state& current, const command& cmd);

  /// Applies one event; no rules.
  static state evolve(state current, const event& ev);
};

} // namespace cafes_samples::tally
