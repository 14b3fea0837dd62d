#include "cafes/storage/memory_store.hpp"

#include <algorithm>

namespace cafes {

result<std::uint64_t> memory_store::append_locked(const append_request& request) {
  if (auto refused = check_append(request))
    return std::move(*refused);
  auto& stream = streams_[request.entity];
  auto actual = static_cast<std::uint64_t>(stream.size());
  if (actual != request.expected_version) {
    if (stream.empty())
      streams_.erase(request.entity);
    auto refused = failure::conflict(request.entity, request.expected_version, actual);
    if (actual > request.expected_version
        && actual - request.expected_version <= request.missed_events_cap)
      refused.missed_events.assign(
        stream.begin() + static_cast<std::ptrdiff_t>(request.expected_version), stream.end());
    return refused;
  }
  auto commands = commands_of(request);
  if (!commands.empty()) {
    auto& applied = commands_[request.entity];
    for (const auto& [command, version] : commands)
      if (auto found = applied.find(command); found != applied.end()) {
        if (stream.empty())
          streams_.erase(request.entity);
        return duplicate_command(request.entity, command, found->second);
      }
    for (const auto& [command, version] : commands)
      applied.emplace(command, version);
  }
  for (const auto& event : request.events) {
    auto& stored = stream.emplace_back(event);
    stored.entity = request.entity;
    stored.version = static_cast<std::uint64_t>(stream.size());
    stored.position = log_.size() + 1;
    log_.push_back({request.entity, stored.version, request.aggregate});
  }
  return static_cast<std::uint64_t>(stream.size());
}

result<std::uint64_t> memory_store::append(const append_request& request) {
  std::lock_guard guard{mutex_};
  return append_locked(request);
}

std::vector<result<std::uint64_t>>
memory_store::append_batch(std::span<const append_request> requests) {
  std::lock_guard guard{mutex_};
  std::vector<result<std::uint64_t>> results;
  results.reserve(requests.size());
  for (const auto& request : requests)
    results.push_back(append_locked(request));
  return results;
}

result<std::vector<event_record>>
memory_store::read(const entity_id& entity, std::uint64_t from,
                   std::uint64_t to) {
  std::lock_guard guard{mutex_};
  std::vector<event_record> out;
  auto found = streams_.find(entity);
  if (found == streams_.end())
    return out;
  const auto& stream = found->second;
  from = std::max<std::uint64_t>(from, 1);
  to = std::min<std::uint64_t>(to, stream.size());
  for (auto version = from; version <= to; ++version)
    out.push_back(stream[version - 1]);
  return out;
}

result<std::uint64_t> memory_store::head(const entity_id& entity) {
  std::lock_guard guard{mutex_};
  auto found = streams_.find(entity);
  return found == streams_.end()
           ? std::uint64_t{0}
           : static_cast<std::uint64_t>(found->second.size());
}

} // namespace cafes

namespace cafes {

result<std::vector<entity_id>>
memory_store::list_entities(std::optional<entity_id> after, std::size_t limit) {
  std::lock_guard guard{mutex_};
  std::vector<entity_id> out;
  for (const auto& [id, stream] : streams_)
    if (!stream.empty() && (!after || id > *after))
      out.push_back(id);
  auto keep = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep),
                    out.end());
  out.resize(keep);
  return out;
}

} // namespace cafes

namespace cafes {

result<log_page> memory_store::read_all(std::uint64_t after, std::size_t limit,
                                        const log_filter& filter) {
  std::lock_guard guard{mutex_};
  log_page page;
  page.next_after = after;
  std::size_t looked = 0;
  for (auto position = after + 1;
       position <= log_.size() && page.events.size() < limit && looked < max_log_scan;
       ++position, ++looked) {
    const auto& entry = log_[position - 1];
    const auto& record = streams_.at(entry.entity)[entry.version - 1];
    if (filter.allows(entry.aggregate, record.type))
      page.events.push_back(record);
    page.next_after = position;
  }
  return page;
}

result<std::optional<std::uint64_t>> memory_store::find_command(const entity_id& entity,
                                                                const uuid& command) {
  std::lock_guard guard{mutex_};
  std::optional<std::uint64_t> out;
  if (auto applied = commands_.find(entity); applied != commands_.end())
    if (auto found = applied->second.find(command); found != applied->second.end())
      out = found->second;
  return out;
}

result<std::uint64_t> memory_store::last_position() {
  std::lock_guard guard{mutex_};
  return static_cast<std::uint64_t>(log_.size());
}

result<std::optional<view_checkpoint>> memory_store::read_view_checkpoint(std::string_view view) {
  if (auto bad = check_view_name(view))
    return *bad;
  std::lock_guard guard{mutex_};
  std::optional<view_checkpoint> out;
  if (auto found = views_.find(view); found != views_.end())
    out = found->second.checkpoint;
  return out;
}

result<view_checkpoint> memory_store::reset_view(std::string_view view, std::uint32_t version,
                                                 const std::optional<view_checkpoint>& expected) {
  if (auto bad = check_view_name(view))
    return *bad;
  std::lock_guard guard{mutex_};
  auto found = views_.find(view);
  std::optional<view_checkpoint> actual;
  if (found != views_.end())
    actual = found->second.checkpoint;
  if (actual != expected)
    return view_moved(view, expected, actual);
  if (found == views_.end())
    found = views_.emplace(std::string{view}, view_state{}).first;
  auto& state = found->second;
  state.rows.clear();
  state.checkpoint = view_checkpoint{version, 0, state.checkpoint.generation + 1};
  return state.checkpoint;
}

result<view_checkpoint> memory_store::commit_view(std::string_view view,
                                                  const view_checkpoint& expected,
                                                  std::uint64_t position,
                                                  std::span<const view_change> changes) {
  // The request is checked before the stored state, as the RocksDB store does.
  if (auto bad = check_view_commit(view, changes))
    return *bad;
  std::lock_guard guard{mutex_};
  auto found = views_.find(view);
  if (found == views_.end() || found->second.checkpoint != expected)
    return view_moved(view, expected,
                      found == views_.end()
                        ? std::nullopt
                        : std::optional<view_checkpoint>{found->second.checkpoint});
  if (position < expected.position || position > log_.size())
    return failure::make(ec::invalid_argument,
                         "view '" + std::string{view} + "' cannot move from position "
                           + std::to_string(expected.position) + " to "
                           + std::to_string(position) + ": the global log ends at "
                           + std::to_string(log_.size()));
  auto& state = found->second;
  for (const auto& change : changes) {
    if (change.value)
      state.rows.insert_or_assign(change.key, *change.value);
    else
      state.rows.erase(change.key);
  }
  state.checkpoint.position = position;
  return state.checkpoint;
}

result<std::optional<std::vector<std::uint8_t>>> memory_store::read_view(std::string_view view,
                                                                         std::string_view key) {
  if (auto bad = check_view_name(view))
    return *bad;
  std::lock_guard guard{mutex_};
  std::optional<std::vector<std::uint8_t>> out;
  if (auto found = views_.find(view); found != views_.end())
    if (auto row = found->second.rows.find(key); row != found->second.rows.end())
      out = row->second;
  return out;
}

result<std::vector<view_row>> memory_store::scan_view(std::string_view view,
                                                      std::string_view prefix,
                                                      std::string_view after,
                                                      std::size_t limit) {
  if (auto bad = check_view_name(view))
    return *bad;
  std::lock_guard guard{mutex_};
  std::vector<view_row> out;
  auto found = views_.find(view);
  if (found == views_.end())
    return out;
  const auto& rows = found->second.rows;
  auto it = after < prefix ? rows.lower_bound(prefix) : rows.upper_bound(after);
  for (; it != rows.end() && out.size() < limit && it->first.starts_with(prefix); ++it)
    out.push_back(view_row{it->first, it->second});
  return out;
}

} // namespace cafes
