#pragma once
// Turns domain events into payload bytes and back.
//
// An event is a plain struct that names its stored type and lists its fields
// in declaration order:
//
//   struct deposited {
//     static constexpr std::string_view type_name = "bank.deposited";
//     std::int64_t amount = 0;
//     auto fields() const { return std::tie(amount); }
//   };
//
// Supported field types: integers, bool, std::string, cafes::uuid. Decoding
// rebuilds the struct by aggregate initialisation from the decoded fields, so
// `fields()` must list every member in declaration order.

#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "cafes/domain/bytes.hpp"
#include "cafes/domain/event_record.hpp"
#include "cafes/domain/result.hpp"

namespace cafes {

/// A struct usable as an event (see the file comment).
template <class T>
concept event_type = requires(const T& event) {
  { T::type_name } -> std::convertible_to<std::string_view>;
  event.fields();
};

/// An event's stored type name and payload, before it has a version.
struct encoded_event {
  std::string type;
  std::vector<std::uint8_t> payload;
};

namespace detail {

template <class T>
using decoded_fields_t = decltype(std::apply(
  [](const auto&... xs) {
    return std::tuple<std::remove_cvref_t<decltype(xs)>...>{};
  },
  std::declval<const T&>().fields()));

template <event_type Event>
std::vector<std::uint8_t> encode_payload(const Event& event) {
  std::vector<std::uint8_t> out;
  byte_writer writer{out};
  std::apply([&](const auto&... field) { (writer.write(field), ...); },
             event.fields());
  return out;
}

template <event_type Event>
result<Event> decode_payload(const event_record& record) {
  decoded_fields_t<Event> fields;
  byte_reader reader{record.payload.data(), record.payload.size()};
  bool complete = std::apply(
    [&](auto&... field) { return (reader.read(field) && ... && true); },
    fields);
  auto fail = [&](std::string_view what) {
    return failure::make(ec::decode_failure,
                         "cannot decode event '" + record.type + "' of entity "
                           + to_string(record.entity) + " at version "
                           + std::to_string(record.version) + ": "
                           + std::string{what});
  };
  if (!complete)
    return fail("payload truncated or malformed");
  if (reader.remaining() != 0)
    return fail(std::to_string(reader.remaining())
                + " unexpected trailing bytes in payload");
  // Braces, not std::make_from_tuple: its parentheses need C++20's
  // aggregate initialisation from a list in parentheses, which clang 14
  // (the fuzz build) lacks.
  return std::apply(
    [](auto&&... field) { return Event{std::move(field)...}; },
    std::move(fields));
}

} // namespace detail

/// Returns the type name and payload bytes of `event` (one alternative of an
/// event variant). Cannot fail.
template <class... Events>
encoded_event encode(const std::variant<Events...>& event) {
  return std::visit(
    [](const auto& alternative) {
      using event_t = std::remove_cvref_t<decltype(alternative)>;
      return encoded_event{std::string{event_t::type_name},
                           detail::encode_payload(alternative)};
    },
    event);
}

/// Decodes `record` into the variant alternative whose `type_name` equals
/// `record.type`. Errors: `ec::decode_failure` (naming the entity and
/// version) when no alternative has that type name, when the payload is too
/// short or malformed, or when bytes are left over.
template <class Variant>
result<Variant> decode(const event_record& record) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) -> result<Variant> {
    std::optional<result<Variant>> out;
    auto try_one = [&]<std::size_t Index>() {
      using event_t = std::variant_alternative_t<Index, Variant>;
      if (out || record.type != event_t::type_name)
        return;
      auto decoded = detail::decode_payload<event_t>(record);
      if (decoded)
        out.emplace(Variant{std::in_place_index<Index>, std::move(*decoded)});
      else
        out.emplace(std::move(decoded).error());
    };
    (try_one.template operator()<I>(), ...);
    if (out)
      return std::move(*out);
    return failure::make(ec::decode_failure,
                         "unknown event type '" + record.type + "' for entity "
                           + to_string(record.entity) + " at version "
                           + std::to_string(record.version));
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
}

/// Returns the stored type names of `Variant`'s alternatives (event or
/// row structs), in order. The views point to static strings.
template <class Variant>
std::vector<std::string_view> type_names() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::vector<std::string_view>{
      std::string_view{std::variant_alternative_t<I, Variant>::type_name}...};
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
}

} // namespace cafes
