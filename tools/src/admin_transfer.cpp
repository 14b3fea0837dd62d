#include "cafes/tools/admin_transfer.hpp"

#include <algorithm>
#include <array>
#include <istream>
#include <limits>
#include <ostream>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace cafes::admin {

namespace {

/// The fields every line has (all an export of format 1 wrote).
constexpr std::array<std::string_view, 6> fields{
  "entity", "version", "id", "type", "payload_base64", "timestamp_ns"};
/// The fields a line may have: written since the global log (format 2)
/// when known, nil ids and an empty aggregate left out; "schema_version"
/// since schema versions, when not 1.
constexpr std::array<std::string_view, 6> optional_fields{
  "position", "command_id", "correlation_id", "causation_id", "aggregate", "schema_version"};

failure bad_line(const std::string& why) {
  return failure::make(ec::decode_failure, why);
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r';
  });
}

} // namespace

result<std::string> to_json_line(const event_record& record, std::string_view aggregate) {
  nlohmann::ordered_json line;
  line["entity"] = to_string(record.entity);
  line["version"] = record.version;
  if (record.position != 0)
    line["position"] = record.position;
  line["id"] = to_string(record.id);
  line["type"] = record.type;
  if (record.schema_version != 1)
    line["schema_version"] = record.schema_version;
  line["payload_base64"] = to_base64(record.payload);
  line["timestamp_ns"] = record.timestamp_ns;
  if (!record.command_id.is_nil())
    line["command_id"] = to_string(record.command_id);
  if (!record.correlation_id.is_nil())
    line["correlation_id"] = to_string(record.correlation_id);
  if (!record.causation_id.is_nil())
    line["causation_id"] = to_string(record.causation_id);
  if (!aggregate.empty())
    line["aggregate"] = aggregate;
  try {
    return line.dump();
  } catch (const nlohmann::json::exception&) {
    return failure::make(ec::decode_failure,
                         "entity " + to_string(record.entity) + " version "
                           + std::to_string(record.version)
                           + ": its type or aggregate name is not valid UTF-8, which "
                             "JSON cannot hold");
  }
}

result<json_event> parse_json_line(std::string_view line) {
  auto json = nlohmann::json::parse(line, nullptr, false);
  if (json.is_discarded())
    return bad_line("not valid JSON");
  if (!json.is_object())
    return bad_line("not a JSON object");
  for (const auto& [key, value] : json.items())
    if (std::find(fields.begin(), fields.end(), key) == fields.end()
        && std::find(optional_fields.begin(), optional_fields.end(), key)
             == optional_fields.end())
      return bad_line("unexpected field '" + key + "'");
  for (auto field : fields)
    if (!json.contains(field))
      return bad_line("the field '" + std::string{field} + "' is missing");
  json_event parsed_line;
  auto& record = parsed_line.record;
  auto id_field = [&](const char* name, uuid& out) -> std::optional<failure> {
    if (!json.contains(name))
      return std::nullopt; // an optional id left out: nil
    const auto& value = json[name];
    std::optional<uuid> parsed;
    if (value.is_string())
      parsed = uuid::parse(value.get_ref<const std::string&>());
    if (!parsed)
      return bad_line(std::string{"'"} + name + "' is not a UUID");
    out = *parsed;
    return std::nullopt;
  };
  if (auto wrong = id_field("entity", record.entity))
    return *wrong;
  if (auto wrong = id_field("id", record.id))
    return *wrong;
  if (auto wrong = id_field("command_id", record.command_id))
    return *wrong;
  if (auto wrong = id_field("correlation_id", record.correlation_id))
    return *wrong;
  if (auto wrong = id_field("causation_id", record.causation_id))
    return *wrong;
  if (json.contains("position")) {
    const auto& position = json["position"];
    if (!position.is_number_unsigned() || position.get<std::uint64_t>() == 0)
      return bad_line("'position' is not a whole number of 1 or more");
    record.position = position.get<std::uint64_t>();
  }
  if (json.contains("aggregate")) {
    const auto& aggregate = json["aggregate"];
    if (!aggregate.is_string())
      return bad_line("'aggregate' is not a string");
    parsed_line.aggregate = aggregate.get<std::string>();
  }
  const auto& version = json["version"];
  if (!version.is_number_unsigned() || version.get<std::uint64_t>() == 0)
    return bad_line("'version' is not a whole number of 1 or more");
  record.version = version.get<std::uint64_t>();
  const auto& type = json["type"];
  if (!type.is_string() || type.get_ref<const std::string&>().empty())
    return bad_line("'type' is not a non-empty string");
  record.type = type.get<std::string>();
  if (json.contains("schema_version")) {
    const auto& schema = json["schema_version"];
    if (!schema.is_number_unsigned() || schema.get<std::uint64_t>() == 0
        || schema.get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
      return bad_line("'schema_version' is not a whole number from 1 to 4294967295");
    record.schema_version = static_cast<std::uint32_t>(schema.get<std::uint64_t>());
  }
  const auto& payload = json["payload_base64"];
  std::optional<std::vector<std::uint8_t>> bytes;
  if (payload.is_string())
    bytes = from_base64(payload.get_ref<const std::string&>());
  if (!bytes)
    return bad_line("'payload_base64' is not base64");
  record.payload = std::move(*bytes);
  const auto& timestamp = json["timestamp_ns"];
  if (!timestamp.is_number_integer()
      || (timestamp.is_number_unsigned()
          && timestamp.get<std::uint64_t>()
               > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())))
    return bad_line("'timestamp_ns' is not a 64-bit integer");
  record.timestamp_ns = timestamp.get<std::int64_t>();
  return parsed_line;
}

result<export_report>
export_store(event_store& store, std::ostream& out,
             const std::function<void(const export_report&)>& progress) {
  export_report report;
  // Position order keeps the relative order of every entity's events on
  // re-import (the store gives positions in import order). read_all checks
  // the log itself; each entity's versions are checked here (its last one:
  // about 50 bytes of memory per entity, a hash node) and against its head
  // at the end, as `read` would.
  std::unordered_map<entity_id, std::uint64_t> versions;
  auto damaged = [](const entity_id& entity, const std::string& what) {
    return failure::make(ec::decode_failure, "entity " + to_string(entity) + ": " + what);
  };
  std::uint64_t after = 0;
  for (;;) {
    auto page = store.read_all(after, list_page);
    if (!page)
      return std::move(page).error();
    for (const auto& event : page->events) {
      auto [last, added] = versions.try_emplace(event.entity, 0);
      if (event.version != last->second + 1)
        return damaged(event.entity,
                       "version " + std::to_string(event.version) + " at position "
                         + std::to_string(event.position) + " follows version "
                         + std::to_string(last->second) + " in the global log");
      last->second = event.version;
      auto line = to_json_line(event);
      if (!line)
        return std::move(line).error();
      out << *line << '\n';
      report.entities += added ? 1 : 0;
      ++report.events;
    }
    if (!out)
      return failure::make(ec::storage_failure,
                           "writing the export failed after "
                             + std::to_string(report.events) + " events");
    if (progress && !page->events.empty())
      progress(report);
    if (page->next_after == after)
      break;
    after = page->next_after;
  }
  // Every entity's events must all have been in the log: its head is the
  // last version exported.
  std::optional<entity_id> entity_after;
  for (;;) {
    auto entities = store.list_entities(entity_after, list_page);
    if (!entities)
      return std::move(entities).error();
    for (const auto& entity : *entities) {
      auto head = store.head(entity);
      if (!head)
        return std::move(head).error();
      auto exported = versions.find(entity);
      auto last = exported == versions.end() ? 0 : exported->second;
      if (*head != last)
        return damaged(entity, "its head says version " + std::to_string(*head)
                                 + " but the global log holds its events up to version "
                                 + std::to_string(last));
    }
    if (entities->size() < list_page)
      break;
    entity_after = entities->back();
  }
  out.flush();
  if (!out)
    return failure::make(ec::storage_failure, "writing the export failed at its end");
  return report;
}

import_report import_store(event_store& store, std::istream& in,
                           const import_options& options) {
  import_report report;
  if (auto any = store.list_entities(std::nullopt, 1); !any) {
    report.error = std::move(any).error();
    return report;
  } else if (!any->empty()) {
    report.error = failure::make(
      ec::invalid_argument, "the store already holds entities (" + to_string(any->front())
                              + " is one): import only into a new or empty database");
    return report;
  }
  // Per entity: the last version read from the input, and the version the
  // store acknowledged.
  struct versions {
    std::uint64_t read = 0;
    std::uint64_t stored = 0;
  };
  std::unordered_map<entity_id, versions> imported;
  std::vector<append_request> pending;
  std::vector<std::uint64_t> first_line; // of each pending request
  std::size_t pending_events = 0;
  std::uint64_t appended = 0;
  auto flush = [&] {
    if (pending.empty())
      return;
    auto results = store.append_batch(pending);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i]) {
        appended += pending[i].events.size();
        imported[pending[i].entity].stored = *results[i];
      } else if (!report.error) {
        report.error = failure::make(results[i].error().code,
                                     "line " + std::to_string(first_line[i]) + ": "
                                       + results[i].error().message);
      }
    }
    pending.clear();
    first_line.clear();
    pending_events = 0;
    if (options.progress)
      options.progress(report.lines, appended);
  };
  std::string text;
  while (!report.error && std::getline(in, text)) {
    ++report.lines;
    if (is_blank(text))
      continue;
    auto line = "line " + std::to_string(report.lines) + ": ";
    auto parsed = parse_json_line(text);
    if (!parsed) {
      report.error = failure::make(ec::decode_failure, line + parsed.error().message);
      break;
    }
    auto& record = parsed->record;
    auto& version = imported[record.entity].read;
    if (record.version != version + 1) {
      report.error = failure::make(
        ec::decode_failure,
        line + "entity " + to_string(record.entity) + " version "
          + std::to_string(record.version) + " where version "
          + std::to_string(version + 1)
          + " was expected (an export lists each entity's versions from 1, in order)");
      break;
    }
    version = record.version;
    // The store gives each event its position (in line order): the file's,
    // if any, is not kept.
    record.position = 0;
    if (!pending.empty() && pending.back().entity == record.entity
        && pending.back().aggregate == parsed->aggregate) {
      pending.back().events.push_back(std::move(record));
    } else {
      // A group commit gives positions in request order, so lines of many
      // entities, interleaved, share one commit and keep their order.
      auto entity = record.entity;
      pending.push_back({entity, version - 1, {std::move(record)}, std::move(parsed->aggregate)});
      first_line.push_back(report.lines);
    }
    if (++pending_events >= options.batch_events)
      flush();
  }
  if (!report.error && in.bad())
    report.error = failure::make(ec::storage_failure,
                                 "reading the input failed after line "
                                   + std::to_string(report.lines));
  flush(); // everything before a bad line is imported
  // Read back: every entity must be at the version its appends returned.
  // (Point reads: the store was empty and this process holds its lock, so
  // no other entity can be there; listing it would copy RocksDB's hashed
  // memtable on every page.)
  for (const auto& [entity, version] : imported) {
    if (version.stored == 0)
      continue;
    auto head = store.head(entity);
    if (!head || *head != version.stored) {
      if (!report.error)
        report.error =
          head ? failure::make(ec::storage_failure,
                               "entity " + to_string(entity) + " is at version "
                                 + std::to_string(*head) + " after the import, not "
                                 + std::to_string(version.stored))
               : std::move(head).error();
      continue;
    }
    ++report.entities;
    report.events += *head;
  }
  if (report.events != appended && !report.error)
    report.error = failure::make(ec::storage_failure,
                                 "the store holds " + std::to_string(report.events)
                                   + " imported events, but "
                                   + std::to_string(appended) + " were appended");
  return report;
}

} // namespace cafes::admin
