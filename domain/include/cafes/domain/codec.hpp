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
// Supported field types: integers, bool, enums, double, std::string,
// cafes::uuid, std::optional, std::vector (a byte string is a
// std::vector<std::uint8_t>), std::map, and nested structs that list their
// own fields() (no type_name needed). Decoding rebuilds the struct by
// aggregate initialisation from the decoded fields, so `fields()` must list
// every member in declaration order: a struct whose fields() lists fewer
// members than it has does not compile (nor does one whose listed types do
// not fit its members in order).
//
// Events that change keep their old structs and convert from them: see
// schema.hpp (schema versions and upcasters).

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "cafes/domain/bytes.hpp"
#include "cafes/domain/event_record.hpp"
#include "cafes/domain/result.hpp"
#include "cafes/domain/schema.hpp"

namespace cafes {

/// An event's stored type name, payload and schema version, before it has
/// an entity version.
struct encoded_event {
  std::string type;
  std::vector<std::uint8_t> payload;
  /// The schema version of the struct that wrote the payload (schema.hpp).
  std::uint32_t schema_version = 1;
};

namespace detail {

template <class Tuple>
struct values_of;

template <class... Ts>
struct values_of<std::tuple<Ts...>> {
  using type = std::tuple<std::remove_cvref_t<Ts>...>;
};

/// The tuple of values that `T::fields()` lists (it returns references).
template <class T>
using decoded_fields_t =
  typename values_of<decltype(std::declval<const T&>().fields())>::type;

/// Converts to anything: stands for one more member in a brace-init test.
struct any_member {
  template <class T>
  operator T() const;
};

/// A struct that lists its fields: an event, a row, or a nested value.
template <class T>
concept has_fields = requires(const T& value) { value.fields(); };

/// Whether `T{fields...}` builds `T` from its listed fields in order (the
/// types fit, none narrows), and no member is left after them. (A left-over
/// member whose type takes any argument, such as std::optional, makes the
/// second test ambiguous and goes unseen; the first still holds.)
template <class T, class Fields>
struct lists_every_member_of;

template <class T, class... Fs>
struct lists_every_member_of<T, std::tuple<Fs...>> {
  static constexpr bool fits = requires { T{std::declval<Fs>()...}; };
  static constexpr bool more = requires { T{std::declval<Fs>()..., any_member{}}; };
  static constexpr bool value = !std::is_aggregate_v<T> || (fits && !more);
};

/// Checks at compile time that `fields()` lists every member of `T`.
template <class T>
inline constexpr bool lists_every_member = lists_every_member_of<T, decoded_fields_t<T>>::value;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};

template <class T>
void write_field(byte_writer& writer, const T& value);

template <class T>
[[nodiscard]] bool read_field(byte_reader& reader, T& value);

template <class T>
void write_field(byte_writer& writer, const T& value) {
  if constexpr (std::is_same_v<T, double>) {
    writer.write(std::bit_cast<std::uint64_t>(value));
  } else if constexpr (std::is_enum_v<T>) {
    writer.write(static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (is_optional<T>::value) {
    writer.write(value.has_value());
    if (value)
      write_field(writer, *value);
  } else if constexpr (is_vector<T>::value || is_map<T>::value) {
    writer.write(static_cast<std::uint32_t>(value.size()));
    for (const auto& element : value) {
      if constexpr (is_map<T>::value) {
        write_field(writer, element.first);
        write_field(writer, element.second);
      } else {
        write_field(writer, element);
      }
    }
  } else if constexpr (has_fields<T>) {
    static_assert(lists_every_member<T>, "fields() must list every member");
    std::apply([&](const auto&... field) { (write_field(writer, field), ...); },
               value.fields());
  } else {
    writer.write(value); // integers, bool, std::string, uuid
  }
}

template <class T>
[[nodiscard]] bool read_field(byte_reader& reader, T& value) {
  if constexpr (std::is_same_v<T, double>) {
    std::uint64_t bits = 0;
    if (!reader.read(bits))
      return false;
    value = std::bit_cast<double>(bits);
    return true;
  } else if constexpr (std::is_enum_v<T>) {
    std::underlying_type_t<T> raw{};
    if (!reader.read(raw))
      return false;
    value = static_cast<T>(raw);
    return true;
  } else if constexpr (is_optional<T>::value) {
    bool present = false;
    if (!reader.read(present))
      return false;
    if (!present) {
      value.reset();
      return true;
    }
    typename T::value_type inner{};
    if (!read_field(reader, inner))
      return false;
    value = std::move(inner);
    return true;
  } else if constexpr (is_vector<T>::value || is_map<T>::value) {
    std::uint32_t count = 0;
    // Every element takes at least one byte: a count beyond what is left
    // is damage, and must not make us allocate for it.
    if (!reader.read(count) || count > reader.remaining())
      return false;
    value.clear();
    for (std::uint32_t i = 0; i < count; ++i) {
      if constexpr (is_map<T>::value) {
        typename T::key_type key{};
        typename T::mapped_type mapped{};
        if (!read_field(reader, key) || !read_field(reader, mapped))
          return false;
        if (!value.emplace(std::move(key), std::move(mapped)).second)
          return false; // a key twice: not what write_field writes
      } else {
        typename T::value_type element{};
        if (!read_field(reader, element))
          return false;
        value.push_back(std::move(element));
      }
    }
    return true;
  } else if constexpr (has_fields<T>) {
    static_assert(lists_every_member<T>, "fields() must list every member");
    decoded_fields_t<T> fields;
    bool complete = std::apply(
      [&](auto&... field) { return (read_field(reader, field) && ... && true); }, fields);
    if (!complete)
      return false;
    value = std::apply([](auto&&... field) { return T{std::move(field)...}; },
                       std::move(fields));
    return true;
  } else {
    return reader.read(value);
  }
}

template <event_type Event>
std::vector<std::uint8_t> encode_payload(const Event& event) {
  static_assert(lists_every_member<Event>, "fields() must list every member");
  std::vector<std::uint8_t> out;
  byte_writer writer{out};
  std::apply([&](const auto&... field) { (write_field(writer, field), ...); },
             event.fields());
  return out;
}

/// Decodes `payload` as the fields of `T` (a struct that lists them) and
/// builds `out` from them. Returns false, says why in `why` and leaves
/// `out` unchanged when the payload is short, malformed or has bytes left
/// over. (An out parameter: GCC 12 warns of a maybe-uninitialized variant
/// when the value travels in a std::optional.)
template <has_fields T>
[[nodiscard]] bool decode_fields(const std::vector<std::uint8_t>& payload, T& out,
                                 std::string& why) {
  static_assert(lists_every_member<T>, "fields() must list every member");
  decoded_fields_t<T> fields;
  byte_reader reader{payload.data(), payload.size()};
  bool complete = std::apply(
    [&](auto&... field) { return (read_field(reader, field) && ... && true); },
    fields);
  if (!complete) {
    why = "payload truncated or malformed";
    return false;
  }
  if (reader.remaining() != 0) {
    why = std::to_string(reader.remaining()) + " unexpected trailing bytes in payload";
    return false;
  }
  // Braces, not std::make_from_tuple (see decode_payload).
  out = std::apply([](auto&&... field) { return T{std::move(field)...}; }, std::move(fields));
  return true;
}

/// Returns the payload bytes of `value`'s listed fields.
template <has_fields T>
std::vector<std::uint8_t> encode_fields(const T& value) {
  static_assert(lists_every_member<T>, "fields() must list every member");
  std::vector<std::uint8_t> out;
  byte_writer writer{out};
  std::apply([&](const auto&... field) { (write_field(writer, field), ...); },
             value.fields());
  return out;
}

template <event_type Event>
result<Event> decode_payload(const event_record& record) {
  static_assert(lists_every_member<Event>, "fields() must list every member");
  decoded_fields_t<Event> fields;
  byte_reader reader{record.payload.data(), record.payload.size()};
  bool complete = std::apply(
    [&](auto&... field) { return (read_field(reader, field) && ... && true); },
    fields);
  auto fail = [&](std::string_view what) {
    return failure::make(ec::decode_failure,
                         "cannot decode event '" + record.type + "' (schema version "
                           + std::to_string(record.schema_version) + ") of entity "
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

/// Whether `E` and every older struct of its chain (schema.hpp) list every
/// member in `fields()`.
template <class E>
constexpr bool chain_lists_every_member() {
  if constexpr (upcasting<E>)
    return lists_every_member<E> && chain_lists_every_member<typename E::upcasts_from>();
  else
    return lists_every_member<E>;
}

/// Decodes `record` as `E` or, through `E`'s upcasters, as the older struct
/// of `E`'s chain with the record's type name and schema version, then
/// upcasts it step by step to `E`. Returns nothing when no struct of the
/// chain has that type name and version; a failure when that struct's
/// payload does not decode.
template <event_type E>
std::optional<result<E>> decode_chain(const event_record& record) {
  if (record.type == E::type_name && record.schema_version == schema_version_of<E>())
    return decode_payload<E>(record);
  if constexpr (upcasting<E>) {
    auto older = decode_chain<typename E::upcasts_from>(record);
    if (!older)
      return std::nullopt;
    if (!*older)
      return result<E>{std::move(*older).error()};
    return result<E>{E::upcast(std::move(**older))};
  }
  return std::nullopt;
}

/// The decode_failure for `record`, which no alternative of `Variant` reads.
template <class Variant>
failure undecodable(const event_record& record) {
  std::vector<std::uint32_t> known;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (add_known_versions<std::variant_alternative_t<I, Variant>>(record.type, known), ...);
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
  auto where = " of entity " + to_string(record.entity) + " at version "
               + std::to_string(record.version);
  auto stored = " schema version " + std::to_string(record.schema_version);
  if (known.empty())
    return failure::make(ec::decode_failure,
                         "unknown event type '" + record.type + "' (" + stored.substr(1)
                           + ")" + where);
  std::sort(known.begin(), known.end());
  std::string versions;
  for (auto version : known)
    versions += (versions.empty() ? "" : ", ") + std::to_string(version);
  auto why = record.schema_version > known.back()
               ? " is newer than this code knows (a newer writer stored it)"
               : " has no struct (and upcaster) in this code";
  return failure::make(ec::decode_failure,
                       "event '" + record.type + "'" + where + ":" + stored + why
                         + "; it reads schema versions " + versions);
}

} // namespace detail

/// Returns the type name, payload bytes and schema version of `event` (one
/// alternative of an event variant): always the current struct's. Cannot
/// fail.
template <class... Events>
encoded_event encode(const std::variant<Events...>& event) {
  return std::visit(
    [](const auto& alternative) {
      using event_t = std::remove_cvref_t<decltype(alternative)>;
      return encoded_event{std::string{event_t::type_name},
                           detail::encode_payload(alternative),
                           schema_version_of<event_t>()};
    },
    event);
}

/// Decodes `record` into the variant alternative whose chain (the struct
/// and the older structs it upcasts from, see schema.hpp) holds a struct
/// with the record's type name and schema version; an older struct is
/// decoded, then upcast to the alternative. The first such alternative
/// wins. Errors: `ec::decode_failure` naming the type, the stored schema
/// version, the entity and its version when no alternative knows the type
/// name, when the schema version is newer than the code knows or older with
/// no struct to read it, when the payload is too short or malformed, or
/// when bytes are left over.
template <class Variant>
result<Variant> decode(const event_record& record) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) -> result<Variant> {
    static_assert((detail::check_chain<std::variant_alternative_t<I, Variant>>() && ...));
    static_assert(
      (detail::chain_lists_every_member<std::variant_alternative_t<I, Variant>>() && ...),
      "fields() must list every member, in the older structs of a chain too");
    std::optional<result<Variant>> out;
    auto try_one = [&]<std::size_t Index>() {
      using event_t = std::variant_alternative_t<Index, Variant>;
      if (out)
        return;
      auto decoded = detail::decode_chain<event_t>(record);
      if (!decoded)
        return;
      if (*decoded)
        out.emplace(Variant{std::in_place_index<Index>, std::move(**decoded)});
      else
        out.emplace(std::move(*decoded).error());
    };
    (try_one.template operator()<I>(), ...);
    if (out)
      return std::move(*out);
    return detail::undecodable<Variant>(record);
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
}

/// Returns the stored type names of `Variant`'s alternatives (event or row
/// structs), in order, each followed by the other names of its chain (a
/// renamed event's old names, see schema.hpp) that are not listed yet: what
/// a reader filters the log by. The views point to static strings.
template <class Variant>
std::vector<std::string_view> type_names() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    std::vector<std::string_view> out;
    (detail::add_chain_names<std::variant_alternative_t<I, Variant>>(out), ...);
    return out;
  }(std::make_index_sequence<std::variant_size_v<Variant>>{});
}

} // namespace cafes
