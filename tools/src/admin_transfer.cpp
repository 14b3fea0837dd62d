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

constexpr char base64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The field names of one line, in the order they are written.
constexpr std::array<std::string_view, 6> fields{
  "entity", "version", "id", "type", "payload_base64", "timestamp_ns"};

failure bad_line(const std::string& why) {
  return failure::make(ec::decode_failure, why);
}

bool is_blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\r';
  });
}

} // namespace

std::string to_base64(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t group = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(base64_alphabet[(group >> shift) & 0x3f]);
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t group = bytes[i] << 16;
    if (rest == 2)
      group |= bytes[i + 1] << 8;
    out.push_back(base64_alphabet[(group >> 18) & 0x3f]);
    out.push_back(base64_alphabet[(group >> 12) & 0x3f]);
    out.push_back(rest == 2 ? base64_alphabet[(group >> 6) & 0x3f] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> from_base64(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      std::uint32_t value = 0;
      if (c == '=') {
        // Only the last one or two characters of the text may be padding.
        if (i + 4 != text.size() || j < 2)
          return std::nullopt;
        ++padding;
      } else {
        if (padding > 0)
          return std::nullopt;
        const char* found = std::find(base64_alphabet, base64_alphabet + 64, c);
        if (found == base64_alphabet + 64)
          return std::nullopt;
        value = static_cast<std::uint32_t>(found - base64_alphabet);
      }
      group = (group << 6) | value;
    }
    out.push_back(static_cast<std::uint8_t>(group >> 16));
    if (padding < 2)
      out.push_back(static_cast<std::uint8_t>(group >> 8));
    if (padding < 1)
      out.push_back(static_cast<std::uint8_t>(group));
    // Canonical form only: the bits the padding drops must be zero.
    if ((padding == 1 && (group & 0xff) != 0) || (padding == 2 && (group & 0xffff) != 0))
      return std::nullopt;
  }
  return out;
}

result<std::string> to_json_line(const event_record& record) {
  nlohmann::ordered_json line;
  line["entity"] = to_string(record.entity);
  line["version"] = record.version;
  line["id"] = to_string(record.id);
  line["type"] = record.type;
  line["payload_base64"] = to_base64(record.payload);
  line["timestamp_ns"] = record.timestamp_ns;
  try {
    return line.dump();
  } catch (const nlohmann::json::exception&) {
    return failure::make(ec::decode_failure,
                         "entity " + to_string(record.entity) + " version "
                           + std::to_string(record.version)
                           + ": its type name is not valid UTF-8, which JSON cannot hold");
  }
}

result<event_record> parse_json_line(std::string_view line) {
  auto json = nlohmann::json::parse(line, nullptr, false);
  if (json.is_discarded())
    return bad_line("not valid JSON");
  if (!json.is_object())
    return bad_line("not a JSON object");
  for (const auto& [key, value] : json.items())
    if (std::find(fields.begin(), fields.end(), key) == fields.end())
      return bad_line("unexpected field '" + key + "'");
  for (auto field : fields)
    if (!json.contains(field))
      return bad_line("the field '" + std::string{field} + "' is missing");
  event_record record;
  auto id_field = [&](const char* name, uuid& out) -> std::optional<failure> {
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
  const auto& version = json["version"];
  if (!version.is_number_unsigned() || version.get<std::uint64_t>() == 0)
    return bad_line("'version' is not a whole number of 1 or more");
  record.version = version.get<std::uint64_t>();
  const auto& type = json["type"];
  if (!type.is_string() || type.get_ref<const std::string&>().empty())
    return bad_line("'type' is not a non-empty string");
  record.type = type.get<std::string>();
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
  return record;
}

result<export_report>
export_store(event_store& store, std::ostream& out,
             const std::function<void(const export_report&)>& progress) {
  export_report report;
  std::optional<entity_id> after;
  constexpr std::size_t page = list_page;
  for (;;) {
    auto entities = store.list_entities(after, page);
    if (!entities)
      return std::move(entities).error();
    for (const auto& entity : *entities) {
      auto events = store.read(entity);
      if (!events)
        return std::move(events).error();
      for (const auto& event : *events) {
        auto line = to_json_line(event);
        if (!line)
          return std::move(line).error();
        out << *line << '\n';
      }
      if (!out)
        return failure::make(ec::storage_failure,
                             "writing the export failed after "
                               + std::to_string(report.events) + " events");
      ++report.entities;
      report.events += events->size();
      if (progress)
        progress(report);
    }
    if (entities->size() < page)
      break;
    after = entities->back();
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
    auto record = parse_json_line(text);
    if (!record) {
      report.error = failure::make(ec::decode_failure, line + record.error().message);
      break;
    }
    auto& version = imported[record->entity].read;
    if (record->version != version + 1) {
      report.error = failure::make(
        ec::decode_failure,
        line + "entity " + to_string(record->entity) + " version "
          + std::to_string(record->version) + " where version "
          + std::to_string(version + 1)
          + " was expected (an export lists each entity's versions from 1, in order)");
      break;
    }
    version = record->version;
    if (!pending.empty() && pending.back().entity == record->entity) {
      pending.back().events.push_back(std::move(*record));
    } else {
      auto entity = record->entity;
      pending.push_back({entity, version - 1, {std::move(*record)}});
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
