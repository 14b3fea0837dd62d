#include "cafes/storage/rocksdb_layout.hpp"

#include "cafes/domain/bytes.hpp"

namespace cafes::rocksdb_layout {

namespace {

void append_big_endian(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(value >> shift));
}

std::string prefixed_entity(char prefix, const entity_id& entity, std::size_t extra) {
  std::string key;
  key.reserve(entity_prefix_size + extra);
  key.push_back(prefix);
  append_big_endian(key, entity.high);
  append_big_endian(key, entity.low);
  return key;
}

} // namespace

std::string event_key(const entity_id& entity, std::uint64_t version) {
  auto key = prefixed_entity(event_prefix, entity, 8);
  append_big_endian(key, version);
  return key;
}

std::string event_key_prefix(const entity_id& entity) {
  return prefixed_entity(event_prefix, entity, 0);
}

std::string head_key(const entity_id& entity) {
  return prefixed_entity(head_prefix, entity, 0);
}

std::string log_key(std::uint64_t position) {
  auto key = log_key_prefix();
  append_big_endian(key, position);
  return key;
}

std::string log_key_prefix() {
  return prefixed_entity(log_prefix, entity_id{}, 8);
}

std::string position_key() {
  return prefixed_entity(position_prefix, entity_id{}, 0);
}

std::string command_key(const entity_id& entity, const uuid& command) {
  auto key = prefixed_entity(command_prefix, entity, 16);
  append_big_endian(key, command.high);
  append_big_endian(key, command.low);
  return key;
}

uuid view_id(std::string_view name) {
  // The name space of cafes views (a random UUID, fixed forever).
  static constexpr uuid views{0x6d1f3c2a9b8e4f70ULL, 0x8a5c0e7d3b2f1a49ULL};
  return uuid::name_based(views, name);
}

std::string view_checkpoint_key(const uuid& view) {
  return prefixed_entity(view_checkpoint_prefix, view, 0);
}

std::string view_row_key(const uuid& view, std::uint64_t generation, std::string_view key) {
  auto out = prefixed_entity(view_row_prefix, view, 8 + key.size());
  append_big_endian(out, generation);
  out.append(key);
  return out;
}

std::string view_rows_prefix(const uuid& view) {
  return prefixed_entity(view_row_prefix, view, 8);
}

std::string view_generation_prefix(const uuid& view, std::uint64_t generation) {
  auto out = view_rows_prefix(view);
  append_big_endian(out, generation);
  return out;
}

std::string encode_view_checkpoint(std::string_view name, const view_checkpoint& checkpoint) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(1 + 4 + 8 + 8 + name.size());
  byte_writer writer{bytes};
  writer.write(view_checkpoint_format);
  writer.write(checkpoint.version);
  writer.write(checkpoint.position);
  writer.write(checkpoint.generation);
  writer.write_raw(reinterpret_cast<const std::uint8_t*>(name.data()), name.size());
  return std::string{bytes.begin(), bytes.end()};
}

result<stored_view_checkpoint> decode_view_checkpoint(std::string_view value) {
  stored_view_checkpoint out;
  byte_reader reader{reinterpret_cast<const std::uint8_t*>(value.data()), value.size()};
  auto fail = [&](std::string_view why) {
    return failure::make(ec::decode_failure,
                         "corrupt view checkpoint: " + std::string{why});
  };
  std::uint8_t format = 0;
  if (!reader.read(format))
    return fail("empty value");
  if (format != view_checkpoint_format)
    return fail("unknown checkpoint format " + std::to_string(format));
  if (!reader.read(out.checkpoint.version) || !reader.read(out.checkpoint.position)
      || !reader.read(out.checkpoint.generation))
    return fail("truncated");
  auto name = reader.read_rest();
  out.name.assign(name.begin(), name.end());
  if (out.name.empty())
    return fail("no view name");
  return out;
}

std::string encode_log_entry(const log_entry& entry) {
  std::vector<std::uint8_t> bytes;
  bytes.reserve(1 + 16 + 8 + 8 + entry.aggregate.size() + entry.type.size());
  byte_writer writer{bytes};
  writer.write(log_entry_format);
  writer.write(entry.entity);
  writer.write_big_endian(entry.version);
  writer.write(entry.aggregate);
  writer.write(entry.type);
  return std::string{bytes.begin(), bytes.end()};
}

result<log_entry> decode_log_entry(std::uint64_t position, std::string_view value) {
  log_entry entry;
  byte_reader reader{reinterpret_cast<const std::uint8_t*>(value.data()), value.size()};
  auto fail = [&](std::string_view why) {
    return failure::make(ec::decode_failure, "corrupt global log entry at position "
                                               + std::to_string(position) + ": "
                                               + std::string{why});
  };
  std::uint8_t format = 0;
  if (!reader.read(format))
    return fail("empty value");
  if (format != log_entry_format)
    return fail("unknown entry format " + std::to_string(format));
  if (!reader.read(entry.entity) || !reader.read_big_endian(entry.version)
      || !reader.read(entry.aggregate) || !reader.read(entry.type))
    return fail("truncated");
  if (reader.remaining() != 0)
    return fail("trailing bytes");
  if (entry.version == 0)
    return fail("version 0");
  return entry;
}

std::string encode_version(std::uint64_t version) {
  std::string out;
  append_big_endian(out, version);
  return out;
}

bool decode_version(std::string_view bytes, std::uint64_t& version) {
  if (bytes.size() != 8)
    return false;
  version = 0;
  for (char c : bytes)
    version = (version << 8) | static_cast<std::uint8_t>(c);
  return true;
}

std::string encode_event_value(const event_record& record) {
  return encode_event_value(record, record.position);
}

std::string encode_event_value(const event_record& record, std::uint64_t position) {
  std::vector<std::uint8_t> bytes;
  bool versioned = record.schema_version != 1;
  bytes.reserve(1 + 16 + 8 + 8 + 3 * 16 + (versioned ? 4 : 0) + 4 + record.type.size()
                + record.payload.size());
  byte_writer writer{bytes};
  writer.write(versioned ? event_format_versioned : event_format);
  writer.write(record.id);
  writer.write(record.timestamp_ns);
  writer.write(position);
  writer.write(record.command_id);
  writer.write(record.correlation_id);
  writer.write(record.causation_id);
  if (versioned)
    writer.write(record.schema_version);
  writer.write(record.type);
  writer.write_raw(record.payload.data(), record.payload.size());
  return std::string{bytes.begin(), bytes.end()};
}

result<event_record> decode_event_value(const entity_id& entity,
                                        std::uint64_t version,
                                        std::string_view value) {
  event_record record;
  record.entity = entity;
  record.version = version;
  byte_reader reader{reinterpret_cast<const std::uint8_t*>(value.data()),
                     value.size()};
  std::uint8_t format = 0;
  auto fail = [&](std::string_view why) {
    return failure::make(ec::decode_failure,
                         "corrupt record of entity " + to_string(entity)
                           + " at version " + std::to_string(version) + ": "
                           + std::string{why});
  };
  if (!reader.read(format))
    return fail("empty value");
  if (format != event_format && format != event_format_versioned)
    return fail("unknown record format " + std::to_string(format));
  if (!reader.read(record.id) || !reader.read(record.timestamp_ns)
      || !reader.read(record.position) || !reader.read(record.command_id)
      || !reader.read(record.correlation_id) || !reader.read(record.causation_id))
    return fail("truncated header");
  if (format == event_format_versioned) {
    if (!reader.read(record.schema_version))
      return fail("truncated header");
    // Versions 0 and 1 never take format 3: such a value is damage, and
    // refusing it keeps one value per record.
    if (record.schema_version < 2)
      return fail("format 3 at schema version " + std::to_string(record.schema_version));
  }
  if (!reader.read(record.type))
    return fail("truncated header");
  record.payload = reader.read_rest();
  return record;
}

std::optional<parsed_key> parse_key(std::string_view key) {
  if (key.empty())
    return std::nullopt;
  parsed_key parsed;
  switch (key.front()) {
    case event_prefix: parsed.kind = key_kind::event; break;
    case head_prefix: parsed.kind = key_kind::head; break;
    case log_prefix: parsed.kind = key_kind::log_entry; break;
    case position_prefix: parsed.kind = key_kind::position; break;
    case command_prefix: parsed.kind = key_kind::command; break;
    case view_checkpoint_prefix: parsed.kind = key_kind::view_checkpoint; break;
    case view_row_prefix: parsed.kind = key_kind::view_row; break;
    default: return std::nullopt;
  }
  byte_reader reader{reinterpret_cast<const std::uint8_t*>(key.data()) + 1,
                     key.size() - 1};
  if (!reader.read(parsed.entity))
    return std::nullopt;
  bool global = parsed.kind == key_kind::log_entry || parsed.kind == key_kind::position;
  if (global && !parsed.entity.is_nil())
    return std::nullopt;
  if (parsed.kind == key_kind::event
      && (!reader.read_big_endian(parsed.version) || parsed.version == 0))
    return std::nullopt;
  if (parsed.kind == key_kind::log_entry
      && (!reader.read_big_endian(parsed.position) || parsed.position == 0))
    return std::nullopt;
  if (parsed.kind == key_kind::command
      && (!reader.read(parsed.command) || parsed.command.is_nil()))
    return std::nullopt;
  if (parsed.kind == key_kind::view_row) {
    if (!reader.read_big_endian(parsed.generation) || reader.remaining() == 0)
      return std::nullopt;
    auto rest = reader.read_rest();
    parsed.row_key.assign(rest.begin(), rest.end());
  }
  if (reader.remaining() != 0)
    return std::nullopt;
  return parsed;
}

} // namespace cafes::rocksdb_layout
