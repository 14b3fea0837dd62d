#pragma once
// The aggregate of the node tests, compiled into the test binary and into
// its server child (tests/node_server.cpp): a tally that adds, takes (a
// rejection below zero) and, for the dead-server test, stalls.

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <tuple>
#include <variant>

#include "cafes/domain/aggregate.hpp"

namespace cafes::testing {

struct tally {
  static constexpr std::string_view name = "node_test.tally";
  struct state {
    int total = 0;
    auto fields() const { return std::tie(total); }
  };
  struct add {
    static constexpr std::string_view type_name = "node_test.add";
    int count = 0;
    auto fields() const { return std::tie(count); }
  };
  struct take {
    static constexpr std::string_view type_name = "node_test.take";
    int count = 0;
    auto fields() const { return std::tie(count); }
  };
  /// Holds the entity actor for `ms` before deciding: a command that is
  /// still in flight when the test kills the server. (Not pure, on
  /// purpose: it also says on stdout that it has started.)
  struct stall {
    static constexpr std::string_view type_name = "node_test.stall";
    int ms = 0;
    auto fields() const { return std::tie(ms); }
  };
  using command = std::variant<add, take, stall>;

  struct added {
    static constexpr std::string_view type_name = "node_test.added";
    int count = 0;
    auto fields() const { return std::tie(count); }
  };
  struct taken {
    static constexpr std::string_view type_name = "node_test.taken";
    int count = 0;
    auto fields() const { return std::tie(count); }
  };
  using event = std::variant<added, taken>;

  static decision<event> decide(const state& s, const command& c) {
    if (const auto* a = std::get_if<add>(&c))
      return std::vector<event>{added{a->count}};
    if (const auto* t = std::get_if<take>(&c)) {
      if (t->count > s.total)
        return reject("only " + std::to_string(s.total) + " left");
      return std::vector<event>{taken{t->count}};
    }
    std::printf("stalling\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds{std::get<stall>(c).ms});
    return std::vector<event>{};
  }
  static state evolve(state s, const event& e) {
    if (const auto* a = std::get_if<added>(&e))
      s.total += a->count;
    else
      s.total -= std::get<taken>(e).count;
    return s;
  }
};

} // namespace cafes::testing
