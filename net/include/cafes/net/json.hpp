#pragma once
// Commands, states and events as JSON, for clients that are not CAF programs
// (the HTTP edge). A struct names its fields for JSON beside listing them:
//
//   struct deposit {
//     static constexpr std::string_view type_name = "bank.deposit";
//     static constexpr std::array field_names{"amount"};
//     std::int64_t amount = 0;
//     auto fields() const { return std::tie(amount); }
//   };
//
// Nested structs name theirs too. A struct without `field_names`, or with
// another count than `fields()` lists, does not compile here.
//
// Field types, as JSON: integers, bool and double as numbers and booleans;
// std::string; uuid as its text form; enums as their number; a byte string
// (std::vector<std::uint8_t>) as standard base64 text; std::optional as the
// value or null (a missing optional field is empty); std::vector as an
// array; std::map with string keys as an object, with other keys as an
// array of [key, value] pairs; nested structs as objects.
//
// Reading is strict: a missing field (other than an optional), a field
// the struct does not have, a wrong JSON type, a fraction or an integer out
// of the field's range is ec::invalid_argument naming the field's path (for
// example `items[2].count`). Nothing is guessed or converted.

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "cafes/domain/bytes.hpp"
#include "cafes/domain/codec.hpp"
#include "cafes/domain/result.hpp"
#include "cafes/domain/uuid.hpp"

namespace cafes::json {

using value = nlohmann::json;

namespace detail {

using cafes::detail::decoded_fields_t;
using cafes::detail::has_fields;
using cafes::detail::is_map;
using cafes::detail::is_optional;
using cafes::detail::is_vector;

template <class T>
concept names_fields = has_fields<T> && requires { T::field_names; };

template <class T>
constexpr bool names_every_field() {
  return std::size(T::field_names) == std::tuple_size_v<decoded_fields_t<T>>;
}

template <class T>
void check_names() {
  static_assert(names_fields<T>,
                "a struct crossing JSON needs `static constexpr std::array field_names{...}` "
                "(cafes/net/json.hpp)");
  static_assert(names_every_field<T>(), "field_names must name every field fields() lists");
}

template <class T>
value write(const T& field);

template <class T>
value write(const T& field) {
  if constexpr (std::is_same_v<T, uuid>) {
    return to_string(field);
  } else if constexpr (std::is_same_v<T, std::vector<std::uint8_t>>) {
    return to_base64(field);
  } else if constexpr (std::is_enum_v<T>) {
    return static_cast<std::underlying_type_t<T>>(field);
  } else if constexpr (is_optional<T>::value) {
    return field ? write(*field) : value(nullptr);
  } else if constexpr (is_vector<T>::value) {
    auto out = value::array();
    for (const auto& element : field)
      out.push_back(write(element));
    return out;
  } else if constexpr (is_map<T>::value) {
    if constexpr (std::is_same_v<typename T::key_type, std::string>) {
      auto out = value::object();
      for (const auto& [key, mapped] : field)
        out[key] = write(mapped);
      return out;
    } else {
      auto out = value::array();
      for (const auto& [key, mapped] : field)
        out.push_back(value::array({write(key), write(mapped)}));
      return out;
    }
  } else if constexpr (has_fields<T>) {
    check_names<T>();
    auto out = value::object();
    [[maybe_unused]] std::size_t index = 0;
    std::apply(
      [&](const auto&... member) {
        ((out[std::string{std::string_view{T::field_names[index++]}}] = write(member)), ...);
      },
      field.fields());
    return out;
  } else {
    static_assert(std::is_arithmetic_v<T> || std::is_same_v<T, std::string>,
                  "a field type the codec does not support");
    return field;
  }
}

/// Why `text` at `path` could not be read.
inline failure bad(const std::string& path, const std::string& why) {
  return failure::make(ec::invalid_argument,
                       (path.empty() ? std::string{"the body"} : "'" + path + "'") + ": "
                         + why);
}

template <class T>
[[nodiscard]] std::optional<failure> read(const value& in, T& out, const std::string& path);

template <class Integer>
[[nodiscard]] std::optional<failure> read_integer(const value& in, Integer& out,
                                                  const std::string& path) {
  if (!in.is_number_integer())
    return bad(path, in.is_number() ? "expected a whole number, got a fraction"
                                    : "expected a number, got " + std::string{in.type_name()});
  if (in.is_number_unsigned()) {
    auto raw = in.get<std::uint64_t>();
    if (raw > static_cast<std::uint64_t>(std::numeric_limits<Integer>::max()))
      return bad(path, "out of range");
    out = static_cast<Integer>(raw);
    return std::nullopt;
  }
  auto raw = in.get<std::int64_t>();
  if constexpr (std::is_unsigned_v<Integer>) {
    if (raw < 0 || static_cast<std::uint64_t>(raw) > std::numeric_limits<Integer>::max())
      return bad(path, "out of range");
  } else {
    if (raw < std::numeric_limits<Integer>::min() || raw > std::numeric_limits<Integer>::max())
      return bad(path, "out of range");
  }
  out = static_cast<Integer>(raw);
  return std::nullopt;
}

template <class T>
[[nodiscard]] std::optional<failure> read_struct(const value& in, T& out,
                                                 const std::string& path) {
  check_names<T>();
  if (!in.is_object())
    return bad(path, "expected an object, got " + std::string{in.type_name()});
  auto prefix = path.empty() ? std::string{} : path + ".";
  for (const auto& item : in.items()) {
    bool known = false;
    for (const auto& name : T::field_names)
      known = known || item.key() == std::string_view{name};
    if (!known)
      return bad(prefix + item.key(), "no such field");
  }
  decoded_fields_t<T> fields;
  std::optional<failure> problem;
  [[maybe_unused]] std::size_t index = 0;
  std::apply(
    [&](auto&... member) {
      auto one = [&](auto& field) {
        std::string name{std::string_view{T::field_names[index++]}};
        if (problem)
          return;
        auto found = in.find(name);
        if (found == in.end()) {
          if constexpr (!is_optional<std::remove_cvref_t<decltype(field)>>::value)
            problem = bad(prefix + name, "missing");
          return;
        }
        problem = read(*found, field, prefix + name);
      };
      (one(member), ...);
      (void)one; // a struct with no fields
    },
    fields);
  if (problem)
    return problem;
  out = std::apply([](auto&&... field) { return T{std::move(field)...}; }, std::move(fields));
  return std::nullopt;
}

template <class T>
std::optional<failure> read(const value& in, T& out, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!in.is_boolean())
      return bad(path, "expected true or false, got " + std::string{in.type_name()});
    out = in.get<bool>();
  } else if constexpr (std::is_same_v<T, double>) {
    if (!in.is_number())
      return bad(path, "expected a number, got " + std::string{in.type_name()});
    out = in.get<double>();
  } else if constexpr (std::is_integral_v<T>) {
    return read_integer(in, out, path);
  } else if constexpr (std::is_enum_v<T>) {
    std::underlying_type_t<T> raw{};
    if (auto problem = read_integer(in, raw, path))
      return problem;
    out = static_cast<T>(raw);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!in.is_string())
      return bad(path, "expected a string, got " + std::string{in.type_name()});
    out = in.get<std::string>();
  } else if constexpr (std::is_same_v<T, uuid>) {
    auto parsed = in.is_string() ? uuid::parse(in.get<std::string>()) : std::nullopt;
    if (!parsed)
      return bad(path, "expected a UUID as text");
    out = *parsed;
  } else if constexpr (std::is_same_v<T, std::vector<std::uint8_t>>) {
    auto bytes = in.is_string() ? from_base64(in.get<std::string>()) : std::nullopt;
    if (!bytes)
      return bad(path, "expected standard base64 text");
    out = std::move(*bytes);
  } else if constexpr (is_optional<T>::value) {
    if (in.is_null()) {
      out.reset();
      return std::nullopt;
    }
    typename T::value_type inner{};
    if (auto problem = read(in, inner, path))
      return problem;
    out = std::move(inner);
  } else if constexpr (is_vector<T>::value) {
    if (!in.is_array())
      return bad(path, "expected an array, got " + std::string{in.type_name()});
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
      typename T::value_type element{};
      if (auto problem = read(in[i], element, path + "[" + std::to_string(i) + "]"))
        return problem;
      out.push_back(std::move(element));
    }
  } else if constexpr (is_map<T>::value) {
    out.clear();
    if constexpr (std::is_same_v<typename T::key_type, std::string>) {
      if (!in.is_object())
        return bad(path, "expected an object, got " + std::string{in.type_name()});
      for (const auto& item : in.items()) {
        typename T::mapped_type mapped{};
        if (auto problem = read(item.value(), mapped, path + "." + item.key()))
          return problem;
        out.emplace(item.key(), std::move(mapped));
      }
    } else {
      if (!in.is_array())
        return bad(path, "expected an array of [key, value] pairs");
      for (std::size_t i = 0; i < in.size(); ++i) {
        auto where = path + "[" + std::to_string(i) + "]";
        if (!in[i].is_array() || in[i].size() != 2)
          return bad(where, "expected a [key, value] pair");
        typename T::key_type key{};
        typename T::mapped_type mapped{};
        if (auto problem = read(in[i][0], key, where + "[0]"))
          return problem;
        if (auto problem = read(in[i][1], mapped, where + "[1]"))
          return problem;
        if (!out.emplace(std::move(key), std::move(mapped)).second)
          return bad(where, "a key given twice");
      }
    }
  } else {
    static_assert(has_fields<T>, "a field type the codec does not support");
    return read_struct(in, out, path);
  }
  return std::nullopt;
}

} // namespace detail

/// Whether `T` can cross JSON: it lists its fields and names each.
template <class T>
concept json_struct = detail::names_fields<T>;

/// Returns `fields` (a struct that lists and names its fields) as a JSON
/// object, one member per field. Cannot fail.
template <class T>
value to_json(const T& fields) {
  return detail::write(fields);
}

/// Reads a `T` (a struct that lists and names its fields) from the JSON
/// object `in`. Errors: ec::invalid_argument naming the field and what is
/// wrong with it (missing, not the struct's, wrong type, out of range).
template <class T>
result<T> from_json(const value& in) {
  T out{};
  if (auto problem = detail::read_struct(in, out, ""))
    return std::move(*problem);
  return out;
}

/// Returns the alternative `message` holds (a command or event variant) as
/// {"type": its type name, ...its fields}. Cannot fail.
template <class... Alternatives>
value variant_to_json(const std::variant<Alternatives...>& message) {
  return std::visit(
    [](const auto& alternative) {
      using type = std::remove_cvref_t<decltype(alternative)>;
      auto out = value::object();
      out["type"] = std::string{type::type_name};
      out.update(to_json(alternative));
      return out;
    },
    message);
}

/// Reads the alternative of `Variant` (a command variant) named `type`
/// from the JSON object `fields` (which may also hold "type", ignored
/// here). Errors: ec::invalid_argument when no alternative is named `type`,
/// or as from_json.
template <class Variant>
result<Variant> variant_from_json(std::string_view type, const value& fields) {
  std::optional<result<Variant>> out;
  auto body = fields;
  if (body.is_object())
    body.erase("type");
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    auto try_one = [&]<std::size_t Index>() {
      using alternative = std::variant_alternative_t<Index, Variant>;
      if (out || type != alternative::type_name)
        return;
      auto read = from_json<alternative>(body);
      if (read)
        out.emplace(Variant{std::in_place_index<Index>, std::move(*read)});
      else
        out.emplace(std::move(read).error());
    };
    (try_one.template operator()<I>(), ...);
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
  if (!out)
    return failure::make(ec::invalid_argument, "unknown type '" + std::string{type} + "'");
  return std::move(*out);
}

} // namespace cafes::json
