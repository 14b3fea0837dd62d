#pragma once
// What defines a projection (a read model): the events it reads, the rows
// of its view, and a pure `project` that folds one event into the view.
// Nothing else: cafes keeps the view in the store and runs it (see
// cafes/actors/projection.hpp).
//
//   struct accounts_by_owner {
//     static constexpr std::string_view name = "bank.accounts_by_owner";
//     // Bump when `project` changes: the view is then rebuilt from position 0.
//     static constexpr std::uint32_t version = 1;
//     using event = std::variant<bank::opened, bank::deposited>;
//     // Rows: structs with a type_name and fields(), like events.
//     using row = std::variant<account_row, totals_row>;
//     static void project(view<row>& view, const event& e, const event_record& meta);
//   };
//
// `project` reads and writes rows by key (`get`, `put`, `erase`); it sees
// its own earlier writes. It may throw: the event is then not applied, and
// the projection stops before it (see projection.hpp).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "cafes/domain/codec.hpp"
#include "cafes/domain/event_record.hpp"
#include "cafes/domain/result.hpp"

namespace cafes {

namespace detail {

/// Whether no row struct of the variant `Row` declares a schema version or
/// an upcaster: rows are not stored with one. A projection whose rows change
/// bumps its `version` instead, and its view is rebuilt.
template <class Row>
struct unversioned_rows;

template <class... Rows>
struct unversioned_rows<std::variant<Rows...>> {
  static constexpr bool value = ((schema_version_of<Rows>() == 1 && !upcasting<Rows>) && ...);
};

} // namespace detail

/// A row's stored bytes: its type name (u32 LE length, then the bytes), then
/// its payload, as the event codec encodes it.
template <class Row>
std::vector<std::uint8_t> encode_row(const Row& row) {
  static_assert(detail::unversioned_rows<Row>::value,
                "rows have no schema versions: bump the projection's version instead");
  auto encoded = encode(row);
  std::vector<std::uint8_t> out;
  byte_writer writer{out};
  writer.write(encoded.type);
  writer.write_raw(encoded.payload.data(), encoded.payload.size());
  return out;
}

/// Decodes a row stored at `key` of view `view_name`. Errors:
/// `ec::decode_failure` naming the view and key (an unknown row type, a
/// malformed payload).
template <class Row>
result<Row> decode_row(std::string_view view_name, std::string_view key,
                       const std::vector<std::uint8_t>& bytes) {
  static_assert(detail::unversioned_rows<Row>::value,
                "rows have no schema versions: bump the projection's version instead");
  byte_reader reader{bytes.data(), bytes.size()};
  event_record record;
  auto fail = [&](const std::string& why) {
    return failure::make(ec::decode_failure, "row '" + std::string{key} + "' of view '"
                                               + std::string{view_name} + "': " + why);
  };
  if (!reader.read(record.type))
    return fail("truncated type name");
  record.payload = reader.read_rest();
  auto row = decode<Row>(record);
  if (!row) {
    // The codec names an entity and version, which a row has not.
    auto message = row.error().message;
    if (auto at = message.find(" of entity "); at != std::string::npos)
      message = message.substr(0, at);
    return fail(message);
  }
  return row;
}

/// A projection's view as `project` sees it: rows of type `Row` (a variant
/// of row structs) by string key. Reads go to the changes made so far in
/// this batch, then to the store.
template <class Row>
class view {
public:
  /// Reads one stored row (what the batch has not changed); may throw.
  using loader = std::function<std::optional<Row>(std::string_view key)>;

  explicit view(loader load) : load_(std::move(load)) {}

  /// Returns the row at `key`, or nothing.
  std::optional<Row> get(std::string_view key) const {
    if (auto found = event_.find(key); found != event_.end())
      return found->second;
    if (auto found = batch_.find(key); found != batch_.end())
      return found->second;
    return load_(key);
  }

  /// Puts `row` at `key` (not empty).
  void put(std::string key, Row row) { event_.insert_or_assign(std::move(key), std::move(row)); }

  /// Removes the row at `key`, if any.
  void erase(std::string key) { event_.insert_or_assign(std::move(key), std::nullopt); }

  // -- for the runner -------------------------------------------------------

  /// Keeps the changes of the event just projected.
  void keep_event() {
    for (auto& [key, row] : event_)
      batch_.insert_or_assign(key, std::move(row));
    event_.clear();
  }

  /// Drops the changes of the event just projected (it failed).
  void drop_event() { event_.clear(); }

  /// Returns the kept changes, in key order; the view is empty after.
  std::map<std::string, std::optional<Row>, std::less<>> take_changes() {
    auto out = std::move(batch_);
    batch_.clear();
    return out;
  }

private:
  loader load_;
  std::map<std::string, std::optional<Row>, std::less<>> batch_;
  std::map<std::string, std::optional<Row>, std::less<>> event_;
};

template <class P>
concept projection = requires(view<typename P::row>& rows, const typename P::event& event,
                              const event_record& meta) {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::version } -> std::convertible_to<std::uint32_t>;
  P::project(rows, event, meta);
};

/// What projecting a batch of events gave: the rows to write and how far it
/// got.
struct projected_batch {
  /// The changes of every event applied, in key order (empty value: erase).
  std::vector<std::pair<std::string, std::optional<std::vector<std::uint8_t>>>> changes;
  /// Events applied, from the first: all of them unless `failed`.
  std::size_t applied = 0;
  /// Why the event after the applied ones could not be (it threw, or did not
  /// decode): nothing of it is in `changes`.
  std::optional<failure> failed;
};

/// Reads one stored row's bytes (nothing when absent); throws row_read_error
/// when the store cannot be read.
using row_reader = std::function<std::optional<std::vector<std::uint8_t>>(std::string_view)>;

/// Thrown by a `row_reader` when the store cannot be read: the batch stops
/// with that failure.
struct row_read_error {
  failure reason;
};

/// A type-erased view of a projection, so that one compiled runner serves
/// every projection. Users never implement this: `erase_projection<P>()`
/// adapts any type that satisfies the `projection` concept.
class erased_projection {
public:
  virtual ~erased_projection() = default;

  virtual std::string_view name() const = 0;
  virtual std::uint32_t version() const = 0;

  /// The stored type names of the events the projection reads.
  virtual std::vector<std::string> event_types() const = 0;

  /// Projects `events` in order onto the rows `read` gives, until one fails.
  virtual projected_batch project(const row_reader& read,
                                  std::span<const event_record> events) const = 0;
};

template <projection P>
class erased_projection_impl final : public erased_projection {
public:
  using row_type = typename P::row;
  using event_type = typename P::event;

  std::string_view name() const override { return P::name; }
  std::uint32_t version() const override { return P::version; }

  std::vector<std::string> event_types() const override {
    auto names = type_names<event_type>();
    return {names.begin(), names.end()};
  }

  projected_batch project(const row_reader& read,
                          std::span<const event_record> events) const override {
    projected_batch out;
    view<row_type> rows{[&](std::string_view key) -> std::optional<row_type> {
      auto bytes = read(key);
      if (!bytes)
        return std::nullopt;
      auto row = decode_row<row_type>(P::name, key, *bytes);
      if (!row)
        throw row_read_error{std::move(row).error()};
      return std::move(*row);
    }};
    for (const auto& record : events) {
      auto event = decode<event_type>(record);
      if (!event) {
        out.failed = std::move(event).error();
        break;
      }
      try {
        P::project(rows, *event, record);
      } catch (const row_read_error& error) {
        out.failed = error.reason;
      } catch (const std::exception& error) {
        out.failed = failure::make(ec::rejected, what_failed(record, error.what()));
      } catch (...) {
        out.failed = failure::make(ec::rejected, what_failed(record, "an unknown exception"));
      }
      if (out.failed) {
        rows.drop_event();
        break;
      }
      rows.keep_event();
      ++out.applied;
    }
    for (auto& [key, row] : rows.take_changes())
      out.changes.emplace_back(key, row ? std::optional{encode_row(*row)} : std::nullopt);
    return out;
  }

private:
  static std::string what_failed(const event_record& record, std::string_view what) {
    return "projection '" + std::string{P::name} + "' threw on event '" + record.type
           + "' of entity " + to_string(record.entity) + " at version "
           + std::to_string(record.version) + " (position " + std::to_string(record.position)
           + "): " + std::string{what};
  }
};

/// Returns the shared type-erased view of projection `P`.
template <projection P>
std::shared_ptr<const erased_projection> erase_projection() {
  static const auto instance = std::make_shared<erased_projection_impl<P>>();
  return instance;
}

} // namespace cafes
