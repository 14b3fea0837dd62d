#pragma once
// Schema versions of events, and the upcasters that let new code read the
// events old code stored.
//
// An event struct may say which version of its schema it is (absent: 1).
// Every stored event keeps the version it was written with. When a struct
// changes, it names the struct it replaces and converts from it:
//
//   struct deposited_v1 {                    // what version 1 stored, kept
//     static constexpr std::string_view type_name = "bank.deposited";
//     std::int64_t amount = 0;
//     auto fields() const { return std::tie(amount); }
//   };
//   struct deposited {                       // the current struct
//     static constexpr std::string_view type_name = "bank.deposited";
//     static constexpr std::uint32_t schema_version = 2;
//     using upcasts_from = deposited_v1;
//     static deposited upcast(deposited_v1 old) { return {old.amount * 100, "EUR"}; }
//     std::int64_t cents = 0;
//     std::string currency;
//     auto fields() const { return std::tie(cents, currency); }
//   };
//
// Only the current struct goes into the event variant. Decoding a stored
// version-1 event decodes `deposited_v1` and upcasts it; a version-3 struct
// upcasts from `deposited` and so on, so a chain of any length reads every
// version it lists. An older struct may have another `type_name` (a renamed
// event). Encoding always writes the current struct and its version.
//
// `upcast` is pure, like `evolve`: it fills what the old struct lacks and
// must not throw (a replay that throws ends its entity's actor).
//
// Checked at compile time: an older struct lists its fields like any event,
// its version is lower, and `upcast` takes it and returns the newer struct.

#include <concepts>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace cafes {

/// A struct usable as an event (see codec.hpp).
template <class T>
concept event_type = requires(const T& event) {
  { T::type_name } -> std::convertible_to<std::string_view>;
  event.fields();
};

/// Returns `E::schema_version`, or 1 when `E` does not declare one.
template <class E>
constexpr std::uint32_t schema_version_of() {
  if constexpr (requires { E::schema_version; })
    return static_cast<std::uint32_t>(E::schema_version);
  else
    return 1;
}

/// An event struct that replaces an older one and converts from it.
template <class E>
concept upcasting = requires { typename E::upcasts_from; };

namespace detail {

/// Checks `E`'s chain of older structs at compile time; returns true.
template <class E>
constexpr bool check_chain() {
  static_assert(schema_version_of<E>() >= 1, "schema versions start at 1");
  if constexpr (upcasting<E>) {
    using older = typename E::upcasts_from;
    static_assert(event_type<older>,
                  "upcasts_from must name an event struct (type_name and fields())");
    static_assert(schema_version_of<older>() < schema_version_of<E>(),
                  "an older struct must have a lower schema_version");
    static_assert(requires(older old) {
      { E::upcast(std::move(old)) } -> std::same_as<E>;
    }, "a struct with upcasts_from needs `static E upcast(older)`");
    return check_chain<older>();
  }
  return true;
}

/// Adds the schema versions that `E`'s chain can read of events stored as
/// `type` to `out`.
template <class E>
void add_known_versions(std::string_view type, std::vector<std::uint32_t>& out) {
  if (type == E::type_name)
    out.push_back(schema_version_of<E>());
  if constexpr (upcasting<E>)
    add_known_versions<typename E::upcasts_from>(type, out);
}

/// Adds the type names of `E`'s chain that `out` does not hold yet.
template <class E>
void add_chain_names(std::vector<std::string_view>& out) {
  std::string_view name = E::type_name;
  bool known = false;
  for (auto listed : out)
    known = known || listed == name;
  if (!known)
    out.push_back(name);
  if constexpr (upcasting<E>)
    add_chain_names<typename E::upcasts_from>(out);
}

} // namespace detail

} // namespace cafes
