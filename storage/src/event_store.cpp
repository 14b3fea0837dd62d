#include "cafes/storage/event_store.hpp"

#include <algorithm>

namespace cafes {

bool log_filter::allows(std::string_view aggregate, std::string_view type) const {
  auto listed = [](const std::vector<std::string>& names, std::string_view name) {
    return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
  };
  return listed(aggregates, aggregate) && listed(event_types, type);
}

} // namespace cafes
