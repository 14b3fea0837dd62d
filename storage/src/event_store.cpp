#include "cafes/storage/event_store.hpp"

#include <algorithm>

namespace cafes {

bool log_filter::allows(std::string_view aggregate, std::string_view type) const {
  auto listed = [](const std::vector<std::string>& names, std::string_view name) {
    return names.empty() || std::find(names.begin(), names.end(), name) != names.end();
  };
  return listed(aggregates, aggregate) && listed(event_types, type);
}

std::vector<result<std::vector<event_record>>>
event_store::read_batch(std::span<const read_request> requests) {
  std::vector<result<std::vector<event_record>>> out;
  out.reserve(requests.size());
  for (const auto& request : requests)
    out.push_back(read(request.entity, request.from, request.to));
  return out;
}

result<std::optional<std::vector<std::uint8_t>>>
event_store::read_view_by_scan(std::string_view view, std::string_view key) {
  auto rows = scan_view(view, key, {}, 1);
  if (!rows)
    return std::move(rows).error();
  std::optional<std::vector<std::uint8_t>> out;
  if (!rows->empty() && rows->front().key == key)
    out = std::move(rows->front().value);
  return out;
}

std::optional<failure> check_view_commit(std::string_view view,
                                         std::span<const view_change> changes) {
  if (auto bad = check_view_name(view))
    return bad;
  for (const auto& change : changes)
    if (change.key.empty())
      return failure::make(ec::invalid_argument,
                           "view '" + std::string{view} + "': a row needs a key");
  return std::nullopt;
}

std::vector<std::pair<uuid, std::uint64_t>> commands_of(const append_request& request) {
  std::vector<std::pair<uuid, std::uint64_t>> out;
  auto version = request.expected_version;
  for (const auto& event : request.events) {
    ++version;
    if (event.command_id.is_nil())
      continue;
    auto known = std::find_if(out.begin(), out.end(), [&](const auto& entry) {
      return entry.first == event.command_id;
    });
    if (known == out.end())
      out.emplace_back(event.command_id, version);
    else
      known->second = version;
  }
  return out;
}

std::optional<failure> check_append(const append_request& request) {
  auto refuse = [&](const std::string& why) {
    return failure::make(ec::invalid_argument,
                         "append to entity " + to_string(request.entity) + " " + why);
  };
  if (request.events.empty())
    return refuse("has no events");
  for (std::size_t i = 0; i < request.events.size(); ++i)
    if (request.events[i].schema_version == 0)
      return refuse("has an event (the " + std::to_string(i + 1) + ". of "
                    + std::to_string(request.events.size()) + ", type '"
                    + request.events[i].type + "') at schema version 0; versions start at 1");
  return std::nullopt;
}

failure duplicate_command(const entity_id& entity, const uuid& command,
                          std::uint64_t version) {
  auto f = failure::make(ec::duplicate_command,
                         "entity " + to_string(entity) + " already applied command "
                           + to_string(command) + " (its events got version "
                           + std::to_string(version) + "); nothing was written");
  f.actual_version = version;
  f.entity = entity;
  return f;
}

std::optional<failure> check_view_name(std::string_view name) {
  if (name.empty())
    return failure::make(ec::invalid_argument, "a view needs a name");
  if (name.size() > max_view_name)
    return failure::make(ec::invalid_argument,
                         "view name of " + std::to_string(name.size())
                           + " bytes is longer than " + std::to_string(max_view_name));
  return std::nullopt;
}

failure view_moved(std::string_view view, const std::optional<view_checkpoint>& expected,
                   const std::optional<view_checkpoint>& actual) {
  auto describe = [](const std::optional<view_checkpoint>& c) {
    if (!c)
      return std::string{"no checkpoint"};
    return "position " + std::to_string(c->position) + " of generation "
           + std::to_string(c->generation) + " (version " + std::to_string(c->version) + ")";
  };
  auto f = failure::make(ec::conflict, "view '" + std::string{view} + "' is at "
                                         + describe(actual) + ", not at " + describe(expected)
                                         + " as its writer expected: another runner of it "
                                           "moved it");
  f.expected_version = expected ? expected->position : 0;
  f.actual_version = actual ? actual->position : 0;
  return f;
}

} // namespace cafes
