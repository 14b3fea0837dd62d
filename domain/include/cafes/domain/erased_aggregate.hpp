#pragma once
// A type-erased view of an aggregate, so that one compiled entity actor serves
// every aggregate. Users never implement this: `erase<A>()` adapts any type
// that satisfies the `aggregate` concept.

#include <any>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cafes/domain/aggregate.hpp"

namespace cafes {

class erased_aggregate {
public:
  virtual ~erased_aggregate() = default;

  /// Returns the aggregate's name (for logs and error texts).
  virtual std::string_view name() const = 0;

  /// Returns the state of an entity with no events (holds `A::state`).
  virtual std::any initial_state() const = 0;

  /// Runs `A::decide`. `state` holds `A::state` and `command` holds
  /// `A::command`. Returns the events (each holding `A::event`). Errors:
  /// whatever `decide` returns; `ec::invalid_argument` when `command` does not
  /// hold this aggregate's command type.
  virtual result<std::vector<std::any>>
  decide(const std::any& state, const std::any& command) const = 0;

  /// Applies one event (holding `A::event`) to `state` in place.
  virtual void evolve(std::any& state, const std::any& event) const = 0;

  /// Returns the stored form of one event (holding `A::event`): its type
  /// name, payload and current schema version.
  virtual encoded_event encode(const std::any& event) const = 0;

  /// Decodes a stored record into an `A::event`, upcasting an older schema
  /// version (see schema.hpp). Errors: `ec::decode_failure` as
  /// `cafes::decode` gives it (an unknown type or schema version, a
  /// malformed payload).
  virtual result<std::any> decode(const event_record& record) const = 0;

  /// Decodes a command sent to this aggregate into an `A::command`.
  /// Errors: `ec::invalid_argument` naming the type when it is no command
  /// of this aggregate (or of another schema version); `ec::decode_failure`
  /// when its payload does not decode.
  virtual result<std::any> decode_command(const encoded_command& command) const = 0;

  /// Returns the encoded form of `state` (holding `A::state`), named after
  /// the aggregate.
  virtual encoded_state encode_state(const std::any& state) const = 0;

  /// Decodes an encoded state of this aggregate into an `A::state`.
  /// Errors: `ec::decode_failure` (another aggregate's state, another
  /// schema version, a malformed payload).
  virtual result<std::any> decode_state(const encoded_state& state) const = 0;

  /// Returns the stored type names of the aggregate's events, in the order of
  /// its event variant (what a tool needs to tell an unknown type from a
  /// malformed payload), old names of renamed events after the current
  /// ones. The views point to static strings.
  virtual std::vector<std::string_view> event_types() const = 0;
};

template <aggregate A>
class erased_aggregate_impl final : public erased_aggregate {
public:
  using state_type = typename A::state;
  using command_type = typename A::command;
  using event_type = typename A::event;

  std::string_view name() const override { return A::name; }

  std::any initial_state() const override { return state_type{}; }

  result<std::vector<std::any>> decide(const std::any& state,
                                       const std::any& command) const override {
    const auto* typed_command = std::any_cast<command_type>(&command);
    if (typed_command == nullptr)
      return failure::make(ec::invalid_argument,
                           "command is not a command of aggregate '"
                             + std::string{A::name} + "'");
    auto events = A::decide(std::any_cast<const state_type&>(state),
                            *typed_command);
    if (!events)
      return std::move(events).error();
    std::vector<std::any> out;
    out.reserve(events->size());
    for (auto& event : *events)
      out.emplace_back(std::move(event));
    return out;
  }

  void evolve(std::any& state, const std::any& event) const override {
    auto& typed_state = std::any_cast<state_type&>(state);
    typed_state = A::evolve(std::move(typed_state),
                            std::any_cast<const event_type&>(event));
  }

  encoded_event encode(const std::any& event) const override {
    return cafes::encode(std::any_cast<const event_type&>(event));
  }

  result<std::any> decode(const event_record& record) const override {
    auto decoded = cafes::decode<event_type>(record);
    if (!decoded)
      return std::move(decoded).error();
    return std::any{std::move(*decoded)};
  }

  result<std::any> decode_command(const encoded_command& command) const override {
    auto decoded = cafes::decode_command<command_type>(command, A::name);
    if (!decoded)
      return std::move(decoded).error();
    return std::any{std::move(*decoded)};
  }

  encoded_state encode_state(const std::any& state) const override {
    return cafes::encode_state(std::any_cast<const state_type&>(state), A::name);
  }

  result<std::any> decode_state(const encoded_state& state) const override {
    auto decoded = cafes::decode_state<state_type>(state, A::name);
    if (!decoded)
      return std::move(decoded).error();
    return std::any{std::move(*decoded)};
  }

  std::vector<std::string_view> event_types() const override {
    return type_names<event_type>();
  }
};

/// Returns the shared type-erased view of aggregate `A`.
template <aggregate A>
std::shared_ptr<const erased_aggregate> erase() {
  static const auto instance = std::make_shared<erased_aggregate_impl<A>>();
  return instance;
}

} // namespace cafes
