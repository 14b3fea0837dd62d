#pragma once
// Commands and states in the codec's form, so that they can cross a process
// like events do (see codec.hpp).
//
// A command struct names its type and lists its fields, like an event:
//
//   struct deposit {
//     static constexpr std::string_view type_name = "bank.deposit";
//     std::int64_t amount = 0;
//     auto fields() const { return std::tie(amount); }
//   };
//
// A state struct lists its fields (its type name is the aggregate's name).
// Commands and states are never stored, so they have no upcasters: a
// command is read only at the schema version its struct has now (sender and
// receiver run the same code), and so is a state.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "cafes/domain/codec.hpp"

namespace cafes {

/// A command in the codec's form: its type name, payload and schema version.
using encoded_command = encoded_event;

/// An entity's state in the codec's form: the aggregate's name, the state's
/// payload and its schema version.
using encoded_state = encoded_event;

/// A struct usable as a command: a type name and its listed fields.
template <class T>
concept command_type = event_type<T>;

/// A struct usable as a state: its listed fields.
template <class T>
concept state_type = detail::has_fields<T>;

/// Returns the encoded form of `command` (one alternative of a command
/// variant). Cannot fail.
template <class... Commands>
encoded_command encode_command(const std::variant<Commands...>& command) {
  return encode(command);
}

/// Decodes `message` into the alternative of `Variant` with its type name
/// and schema version. `aggregate` names the aggregate in error texts.
/// Errors: `ec::invalid_argument` when no alternative has the type name
/// (a command of another aggregate) or the schema version differs (sender
/// and receiver run different code); `ec::decode_failure` when the payload
/// is short, malformed or has bytes left over.
template <class Variant>
result<Variant> decode_command(const encoded_command& message, std::string_view aggregate) {
  // Decoded in place into `value` (no temporary variant: GCC 12 sees a
  // maybe-uninitialized alternative when one is moved through optionals).
  Variant value{};
  std::optional<failure> problem;
  bool found = false;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    auto try_one = [&]<std::size_t Index>() {
      using command_t = std::variant_alternative_t<Index, Variant>;
      static_assert(command_type<command_t>,
                    "a command needs a type_name and fields() (protocol_codec.hpp)");
      if (found || message.type != command_t::type_name)
        return;
      found = true;
      if (message.schema_version != schema_version_of<command_t>()) {
        problem = failure::make(
          ec::invalid_argument, "command '" + message.type + "' of aggregate '"
                                  + std::string{aggregate} + "' has schema version "
                                  + std::to_string(message.schema_version) + ", this code "
                                  + std::to_string(schema_version_of<command_t>()));
        return;
      }
      std::string why;
      if (!detail::decode_fields(message.payload, value.template emplace<Index>(), why))
        problem = failure::make(ec::decode_failure, "cannot decode command '" + message.type
                                                      + "' of aggregate '"
                                                      + std::string{aggregate} + "': " + why);
    };
    (try_one.template operator()<I>(), ...);
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
  if (!found)
    return failure::make(ec::invalid_argument, "'" + message.type
                                                 + "' is not a command of aggregate '"
                                                 + std::string{aggregate} + "'");
  if (problem)
    return std::move(*problem);
  return value;
}

/// Returns the encoded form of `state`, named `name` (the aggregate's).
/// Cannot fail.
template <state_type State>
encoded_state encode_state(const State& state, std::string_view name) {
  return encoded_state{std::string{name}, detail::encode_fields(state),
                       schema_version_of<State>()};
}

/// Decodes `message` as a `State` of the aggregate named `name`. Errors:
/// `ec::decode_failure` when it names another aggregate or schema version,
/// or its payload is short, malformed or has bytes left over.
template <state_type State>
result<State> decode_state(const encoded_state& message, std::string_view name) {
  auto fail = [&](const std::string& why) {
    return failure::make(ec::decode_failure, "cannot decode a state of aggregate '"
                                               + std::string{name} + "': " + why);
  };
  if (message.type != name)
    return fail("it is a state of '" + message.type + "'");
  if (message.schema_version != schema_version_of<State>())
    return fail("schema version " + std::to_string(message.schema_version) + ", this code "
                + std::to_string(schema_version_of<State>()));
  std::string why;
  State decoded{};
  if (!detail::decode_fields(message.payload, decoded, why))
    return fail(why);
  return decoded;
}

} // namespace cafes
