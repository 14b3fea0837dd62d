#include "cafes/storage/rocksdb_verify.hpp"

#include <algorithm>
#include <filesystem>
#include <unordered_map>

#include "cafes/storage/rocksdb_layout.hpp"

namespace cafes {

namespace layout = rocksdb_layout;

std::string to_hex(std::string_view bytes, std::size_t max_bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  auto shown = std::min(bytes.size(), max_bytes);
  out.reserve(2 * shown + 24);
  for (std::size_t i = 0; i < shown; ++i) {
    auto byte = static_cast<unsigned char>(bytes[i]);
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0xf]);
  }
  if (shown < bytes.size())
    out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

std::string to_string(const verify_problem& problem) {
  if (!problem.entity)
    return problem.key.empty() ? problem.what
                               : "key " + to_hex(problem.key) + ": " + problem.what;
  auto out = "entity " + to_string(*problem.entity);
  if (problem.version != 0)
    out += " version " + std::to_string(problem.version);
  return out + ": " + problem.what;
}

std::uint64_t directory_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::uint64_t total = 0;
  std::error_code error;
  for (fs::recursive_directory_iterator it{path, error}, end; !error && it != end;
       it.increment(error)) {
    std::error_code failed;
    if (!it->is_regular_file(failed))
      continue;
    auto size = it->file_size(failed);
    if (!failed)
      total += size;
  }
  return total;
}

namespace {

/// The reason in a decode failure's message, without the entity and version
/// it starts with ("... at version 7: truncated header" -> "truncated header").
std::string reason_of(const failure& error, std::uint64_t version) {
  auto marker = "at version " + std::to_string(version) + ": ";
  auto at = error.message.find(marker);
  return at == std::string::npos ? error.message
                                 : error.message.substr(at + marker.size());
}

/// One pass over the keys, in key order; see `verify`.
class verifier {
public:
  verifier(const verify_options& options, std::uint64_t estimated_keys)
    : options_(options) {
    progress_.estimated_keys = estimated_keys;
    for (const auto& aggregate : options.aggregates)
      for (auto type : aggregate->event_types())
        types_.emplace(type, aggregate.get()); // the first declaration wins
  }

  void visit(std::string_view key, std::string_view value) {
    ++report_.keys;
    last_key_.assign(key);
    auto parsed = layout::parse_key(key);
    if (!parsed)
      problem(std::string{key}, std::nullopt, 0,
              "not a key cafes writes (" + std::to_string(key.size())
                + (key.size() == 1 ? " byte)" : " bytes)"));
    else if (parsed->kind == layout::key_kind::event)
      event(key, parsed->entity, parsed->version, value);
    else
      head(key, parsed->entity, value);
    if (options_.progress && options_.progress_every != 0
        && report_.keys % options_.progress_every == 0)
      report_progress();
  }

  /// A read error ended the scan early.
  void stopped(const failure& error) {
    report_.complete = false;
    problem(last_key_, std::nullopt, 0,
            (last_key_.empty() ? "the scan stopped before the first key: "
                               : "the scan stopped after this key: ")
              + error.message + "; the keys after it were not checked");
  }

  verify_report finish() {
    close_run();
    for (; cursor_ < runs_.size(); ++cursor_)
      missing_head(runs_[cursor_]);
    if (options_.check_event_ids)
      duplicate_ids();
    report_.entities = runs_.size() + orphan_heads_;
    report_progress();
    return std::move(report_);
  }

private:
  /// An entity's events as the scan found them.
  struct run {
    entity_id entity;
    std::uint64_t last = 0; // the last version stored
  };

  /// Where an event id was seen.
  struct id_use {
    event_id id;
    entity_id entity;
    std::uint64_t version = 0;
    auto operator<=>(const id_use&) const = default;
  };

  void report_progress() {
    progress_.keys = report_.keys;
    progress_.problems = report_.problem_count;
    if (options_.progress)
      options_.progress(progress_);
  }

  void problem(std::string key, std::optional<entity_id> entity, std::uint64_t version,
               std::string what) {
    ++report_.problem_count;
    if (report_.problems.size() < options_.max_problems)
      report_.problems.push_back({std::move(key), entity, version, std::move(what)});
  }

  void close_run() {
    if (current_)
      runs_.push_back(*current_);
    current_.reset();
    aggregate_ = nullptr;
  }

  void event(std::string_view key, const entity_id& entity, std::uint64_t version,
             std::string_view value) {
    ++report_.events;
    if (!current_ || current_->entity != entity) {
      close_run();
      current_ = run{entity, 0};
    }
    auto expected = current_->last + 1;
    if (version != expected) {
      auto missing = expected + 1 == version
                       ? "version " + std::to_string(expected) + " is missing"
                       : "versions " + std::to_string(expected) + ".."
                           + std::to_string(version - 1) + " are missing";
      problem(std::string{key}, entity, version,
              expected == 1 ? "the history starts at version " + std::to_string(version)
                                + ", not 1 (" + missing + ")"
                            : "a gap: " + missing);
    }
    current_->last = version;
    auto record = layout::decode_event_value(entity, version, value);
    if (!record) {
      problem(std::string{key}, entity, version,
              "the record does not decode: " + reason_of(record.error(), version));
      return;
    }
    if (options_.check_event_ids)
      ids_.push_back({record->id, entity, version});
    if (types_.empty())
      return;
    auto known = types_.find(record->type);
    if (known == types_.end()) {
      problem(std::string{key}, entity, version,
              "unknown event type '" + record->type + "' (no known aggregate has it)");
      return;
    }
    const auto* aggregate = known->second;
    if (auto decoded = aggregate->decode(*record); !decoded)
      problem(std::string{key}, entity, version,
              "the payload of '" + record->type
                + "' does not decode: " + reason_of(decoded.error(), version));
    if (aggregate_ == nullptr) {
      aggregate_ = aggregate;
      aggregate_since_ = version;
    } else if (aggregate_ != aggregate) {
      problem(std::string{key}, entity, version,
              "an event of aggregate '" + std::string{aggregate->name()}
                + "' in a history of aggregate '" + std::string{aggregate_->name()}
                + "' (since version " + std::to_string(aggregate_since_) + ")");
    }
  }

  void head(std::string_view key, const entity_id& entity, std::string_view value) {
    ++report_.heads;
    close_run();
    // Heads sort after every event key: walk the entities with events
    // alongside, in the same order.
    while (cursor_ < runs_.size() && runs_[cursor_].entity < entity)
      missing_head(runs_[cursor_++]);
    const run* events = nullptr;
    if (cursor_ < runs_.size() && runs_[cursor_].entity == entity)
      events = &runs_[cursor_++];
    else
      ++orphan_heads_;
    std::uint64_t version = 0;
    if (!layout::decode_version(value, version)) {
      problem(std::string{key}, entity, 0,
              "the head record does not decode (" + std::to_string(value.size())
                + " bytes, 8 expected)");
      return;
    }
    if (events == nullptr)
      problem(std::string{key}, entity, 0,
              "its head says version " + std::to_string(version)
                + " but it has no events (an orphan head)");
    else if (events->last != version)
      problem(std::string{key}, entity, 0,
              "its head says version " + std::to_string(version)
                + " but its events end at version " + std::to_string(events->last));
  }

  void missing_head(const run& events) {
    problem(layout::event_key(events.entity, events.last), events.entity, 0,
            "it has events up to version " + std::to_string(events.last)
              + " but no head record");
  }

  void duplicate_ids() {
    std::sort(ids_.begin(), ids_.end());
    for (std::size_t i = 1; i < ids_.size(); ++i) {
      const auto& first = ids_[i - 1];
      const auto& again = ids_[i];
      if (again.id == first.id)
        problem(layout::event_key(again.entity, again.version), again.entity,
                again.version,
                "event id " + to_string(again.id) + " is also the id of entity "
                  + to_string(first.entity) + " version "
                  + std::to_string(first.version));
    }
    ids_ = {};
  }

  const verify_options& options_;
  verify_report report_;
  verify_progress progress_;
  std::unordered_map<std::string_view, const erased_aggregate*> types_;
  std::optional<run> current_;
  const erased_aggregate* aggregate_ = nullptr; // of the current run
  std::uint64_t aggregate_since_ = 0;
  std::vector<run> runs_; // every entity with events, in id order
  std::size_t cursor_ = 0; // the first run no head has been matched with yet
  std::uint64_t orphan_heads_ = 0;
  std::vector<id_use> ids_;
  std::string last_key_;
};

} // namespace

verify_report verify(rocksdb_store& store, const verify_options& options) {
  verifier check{options, options.progress ? store.estimated_keys() : 0};
  auto scanned = store.scan([&](std::string_view key, std::string_view value) {
    check.visit(key, value);
    return true;
  });
  if (!scanned)
    check.stopped(scanned.error());
  auto report = check.finish();
  if (!store.options().in_memory)
    report.bytes = directory_bytes(store.options().path);
  return report;
}

} // namespace cafes
