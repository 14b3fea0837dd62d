#pragma once
// What defines an aggregate: its state, commands, events (a std::variant of
// past-tense structs), a pure decide and a pure evolve. Nothing else.
//
//   struct counter {
//     static constexpr std::string_view name = "counter";
//     struct state {
//       std::int64_t value = 0;
//       auto fields() const { return std::tie(value); }
//     };
//     using command = std::variant<increment>;
//     using event = std::variant<incremented>;
//     static decision<event> decide(const state&, const command&);
//     static state evolve(state, const event&);
//   };
//
// A default-constructed `state` is the state of an entity with no events.
// Commands (each with a `type_name` and `fields()`, like events) and the
// state (its `fields()`) are encoded like events when they cross between
// actors, so that they can cross a process (protocol_codec.hpp).

#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "cafes/domain/codec.hpp"
#include "cafes/domain/protocol_codec.hpp"
#include "cafes/domain/result.hpp"

namespace cafes {

/// What `decide` returns: the new events (possibly none), or a failure with
/// `ec::rejected` (a rule refused the command) or `ec::not_found` (the command
/// needs an existing entity).
template <class Event>
using decision = result<std::vector<Event>>;

/// Returns a rejection with a readable reason, for use in `decide`.
inline failure reject(std::string reason) {
  return failure::make(ec::rejected, std::move(reason));
}

/// Returns the failure `decide` gives for a command on an entity that does
/// not exist yet.
inline failure does_not_exist(std::string_view what) {
  return failure::make(ec::not_found, std::string{what} + " does not exist");
}

namespace detail {

template <class Variant>
struct all_commands : std::false_type {};

template <class... Commands>
struct all_commands<std::variant<Commands...>>
  : std::bool_constant<(command_type<Commands> && ...)> {};

} // namespace detail

template <class A>
concept aggregate = requires(const typename A::state& state,
                             const typename A::command& command,
                             const typename A::event& event) {
  { A::name } -> std::convertible_to<std::string_view>;
  { A::decide(state, command) } -> std::same_as<decision<typename A::event>>;
  { A::evolve(state, event) } -> std::same_as<typename A::state>;
  typename A::state;
  requires state_type<typename A::state>;
  requires detail::all_commands<typename A::command>::value;
};

/// Rebuilds a state by folding `events` over the empty state.
template <aggregate A>
typename A::state fold(const std::vector<typename A::event>& events) {
  typename A::state state{};
  for (const auto& event : events)
    state = A::evolve(std::move(state), event);
  return state;
}

} // namespace cafes
