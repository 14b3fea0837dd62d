#pragma once
// Typed reads of a projection's stored view: the query side of a
// projection (see cafes/domain/projection.hpp). Safe from any thread; each
// call reads one consistent state of the view.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cafes/domain/projection.hpp"
#include "cafes/storage/event_store.hpp"

namespace cafes {

template <projection P>
class view_reader {
public:
  using row = typename P::row;

  explicit view_reader(std::shared_ptr<event_store> store) : store_(std::move(store)) {}

  /// Returns the row at `key`, or nothing. Errors: `ec::decode_failure` for
  /// a row that does not decode (naming view and key); those of
  /// `event_store::read_view`: `ec::invalid_argument` when `P::name` is
  /// not a valid view name (see check_view_name), `ec::decode_failure`,
  /// `ec::storage_failure`, `ec::storage_unavailable`.
  result<std::optional<row>> get(std::string_view key) const {
    auto bytes = store_->read_view(P::name, key);
    if (!bytes)
      return std::move(bytes).error();
    std::optional<row> out;
    if (!*bytes)
      return out;
    auto decoded = decode_row<row>(P::name, key, **bytes);
    if (!decoded)
      return std::move(decoded).error();
    out = std::move(*decoded);
    return out;
  }

  /// Returns up to `limit` rows whose keys start with `prefix`, after key
  /// `after`, in key order. Errors: as `get` (the store's are those of
  /// `event_store::scan_view`).
  result<std::vector<std::pair<std::string, row>>> scan(std::string_view prefix,
                                                        std::string_view after = {},
                                                        std::size_t limit = 1'000) const {
    auto rows = store_->scan_view(P::name, prefix, after, limit);
    if (!rows)
      return std::move(rows).error();
    std::vector<std::pair<std::string, row>> out;
    out.reserve(rows->size());
    for (auto& stored : *rows) {
      auto decoded = decode_row<row>(P::name, stored.key, stored.value);
      if (!decoded)
        return std::move(decoded).error();
      out.emplace_back(std::move(stored.key), std::move(*decoded));
    }
    return out;
  }

  /// Returns the view's checkpoint (how far it is projected, by which
  /// version), or nothing before its runner first started. Errors: those of
  /// `event_store::read_view_checkpoint`.
  result<std::optional<view_checkpoint>> checkpoint() const {
    return store_->read_view_checkpoint(P::name);
  }

private:
  std::shared_ptr<event_store> store_;
};

} // namespace cafes
