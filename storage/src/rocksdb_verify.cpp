#include "cafes/storage/rocksdb_verify.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <tuple>
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
  if (!problem.entity && problem.position != 0)
    return "position " + std::to_string(problem.position) + ": " + problem.what;
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

/// The reason in a decode failure's message, without what it starts with
/// ("... at version 7: truncated header" -> "truncated header"): `marker` is
/// "version" or "position".
std::string reason_of(const failure& error, std::uint64_t at_number,
                      std::string_view marker = "version") {
  auto text = "at " + std::string{marker} + " " + std::to_string(at_number) + ": ";
  auto at = error.message.find(text);
  return at == std::string::npos ? error.message : error.message.substr(at + text.size());
}

std::string entity_version(const entity_id& entity, std::uint64_t version) {
  return "entity " + to_string(entity) + " version " + std::to_string(version);
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
    else if (parsed->kind == layout::key_kind::log_entry)
      log_entry(key, parsed->position, value);
    else if (parsed->kind == layout::key_kind::position)
      last_position(key, value);
    else if (parsed->kind == layout::key_kind::command)
      command(key, parsed->entity, parsed->command, value);
    else if (parsed->kind == layout::key_kind::view_checkpoint)
      view_checkpoint(key, parsed->entity, value);
    else if (parsed->kind == layout::key_kind::view_row)
      view_row(key, parsed->entity, parsed->generation);
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
    // After a read error the keys the log is checked against were not all
    // read: every event would look like one outside the log.
    if (report_.complete) {
      check_log_ends();
      check_commands();
      check_views();
    }
    logged_ = {};
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

  /// A command key seen (checked against the runs at the end).
  struct recorded_command {
    entity_id entity;
    uuid id;
    std::uint64_t version;
  };
  std::vector<recorded_command> commands_;

  /// Where an event id was seen.
  struct id_use {
    event_id id;
    entity_id entity;
    std::uint64_t version = 0;
    auto operator<=>(const id_use&) const = default;
  };

  /// An event as the global log check needs it. Event keys sort before the
  /// log's ('e' < 'g'), so the scan has every event (in entity and version
  /// order) before the first log entry, which finds its event by binary
  /// search. 40 bytes per event: the check's memory.
  struct logged_event {
    entity_id entity;
    std::uint64_t version = 0;
    std::uint64_t position = 0; // as stored; 0 when the record does not decode
    std::uint32_t type = 0;     // index into type_names_
    bool decoded = false;
    bool in_log = false;   // the entry at its position points back at it
    bool reported = false; // a problem already names it: not outside the log too
  };

  void report_progress() {
    progress_.keys = report_.keys;
    progress_.problems = report_.problem_count;
    if (options_.progress)
      options_.progress(progress_);
  }

  void problem(std::string key, std::optional<entity_id> entity, std::uint64_t version,
               std::string what) {
    problem(std::move(key), entity, version, 0, std::move(what));
  }

  void problem(std::string key, std::optional<entity_id> entity, std::uint64_t version,
               std::uint64_t position, std::string what) {
    ++report_.problem_count;
    if (report_.problems.size() < options_.max_problems)
      report_.problems.push_back(
        {std::move(key), entity, version, position, std::move(what)});
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
    logged_.push_back({entity, version}); // completed below if it decodes
    auto record = layout::decode_event_value(entity, version, value);
    if (!record) {
      problem(std::string{key}, entity, version,
              "the record does not decode: " + reason_of(record.error(), version));
      return;
    }
    logged_.back() = {entity, version, record->position, type_index(record->type), true};
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

  std::uint32_t type_index(const std::string& type) {
    auto [it, added] = type_indices_.try_emplace(type, type_names_.size());
    if (added)
      type_names_.push_back(type);
    return it->second;
  }

  /// One entry of the global log, in position order (after every event).
  void log_entry(std::string_view key, std::uint64_t position, std::string_view value) {
    ++report_.log_entries;
    auto expected = last_logged_ + 1;
    last_logged_ = position;
    if (position != expected)
      problem(std::string{key}, std::nullopt, 0, position,
              "a gap in the global log: "
                + (expected + 1 == position
                     ? "position " + std::to_string(expected) + " is missing"
                     : "positions " + std::to_string(expected) + ".."
                         + std::to_string(position - 1) + " are missing"));
    auto entry = layout::decode_log_entry(position, value);
    if (!entry) {
      undecodable_entries_.push_back(position); // in order: the keys are
      problem(std::string{key}, std::nullopt, 0, position,
              "the log entry does not decode: "
                + reason_of(entry.error(), position, "position"));
      return;
    }
    auto points_at = "its log entry points at " + entity_version(entry->entity, entry->version);
    auto found = std::lower_bound(
      logged_.begin(), logged_.end(), std::pair{entry->entity, entry->version},
      [](const logged_event& event, const std::pair<entity_id, std::uint64_t>& wanted) {
        return std::pair{event.entity, event.version} < wanted;
      });
    if (found == logged_.end() || found->entity != entry->entity
        || found->version != entry->version) {
      problem(std::string{key}, std::nullopt, 0, position,
              points_at + ", which is not stored");
      return;
    }
    if (!found->decoded)
      return; // the event's own problem says it all
    if (found->position != position) {
      // One problem for both ends: the event is not reported again as
      // outside the log.
      found->reported = true;
      problem(std::string{key}, std::nullopt, 0, position,
              points_at + ", whose record says position "
                + std::to_string(found->position));
      return;
    }
    found->in_log = true;
    const auto& type = type_names_[found->type];
    if (type != entry->type)
      problem(std::string{key}, std::nullopt, 0, position,
              points_at + " as type '" + entry->type + "', but the event is of type '"
                + type + "'");
  }

  /// The global log's last-position record.
  /// A command key: the version it names must be one of its entity's
  /// events (checked once they are scanned: command keys sort first).
  void command(std::string_view key, const entity_id& entity, const uuid& id,
               std::string_view value) {
    ++report_.commands;
    std::uint64_t version = 0;
    if (!layout::decode_version(value, version) || version == 0) {
      problem(std::string{key}, entity, 0,
              "the record of command " + to_string(id) + " does not decode ("
                + std::to_string(value.size()) + " bytes, a version of 1 or more expected)");
      return;
    }
    commands_.push_back({entity, id, version});
  }

  /// Each command key names a version its entity has.
  void check_commands() {
    for (const auto& c : commands_) {
      auto found = std::lower_bound(runs_.begin(), runs_.end(), c.entity,
                                    [](const run& r, const entity_id& e) { return r.entity < e; });
      if (found == runs_.end() || found->entity != c.entity || found->last < c.version)
        problem(layout::command_key(c.entity, c.id), c.entity, c.version,
                "command " + to_string(c.id) + " is recorded at version "
                  + std::to_string(c.version) + ", which the entity does not have");
    }
    commands_ = {};
  }

  /// Checkpoints ('k') sort before rows ('r'): each row's view is known
  /// when the row comes.
  void view_checkpoint(std::string_view key, const uuid& view, std::string_view value) {
    ++report_.views;
    auto stored = layout::decode_view_checkpoint(value);
    if (!stored) {
      problem(std::string{key}, std::nullopt, 0, stored.error().message);
      return;
    }
    if (layout::view_id(stored->name) != view) {
      problem(std::string{key}, std::nullopt, 0,
              "the checkpoint of view '" + stored->name + "' is stored under another "
              "view's key");
      return;
    }
    views_.emplace(view, std::pair{std::string{key}, *stored});
  }

  void view_row(std::string_view key, const uuid& view, std::uint64_t generation) {
    ++report_.view_rows;
    auto found = views_.find(view);
    if (found == views_.end()) {
      if (!(last_view_without_checkpoint_ == view))
        problem(std::string{key}, std::nullopt, 0,
                "a view row whose view has no (intact) checkpoint");
      last_view_without_checkpoint_ = view;
      return;
    }
    const auto& stored = found->second.second;
    if (generation > stored.checkpoint.generation)
      problem(std::string{key}, std::nullopt, 0,
              "a row of generation " + std::to_string(generation) + " of view '"
                + stored.name + "', which is at generation "
                + std::to_string(stored.checkpoint.generation));
  }

  /// A view's checkpoint past the end of the log was not written by this
  /// store's log (rows of older generations are leftovers of an
  /// interrupted reset, not damage: the next reset deletes them).
  void check_views() {
    if (!last_position_decoded_)
      return;
    for (const auto& [view, stored] : views_)
      if (stored.second.checkpoint.position > report_.last_position)
        problem(stored.first, std::nullopt, 0,
                "view '" + stored.second.name + "' has projected up to position "
                  + std::to_string(stored.second.checkpoint.position)
                  + ", past the end of the global log ("
                  + std::to_string(report_.last_position) + ")");
  }

  void last_position(std::string_view key, std::string_view value) {
    has_last_position_ = true;
    if (!layout::decode_version(value, report_.last_position)) {
      report_.last_position = 0;
      last_position_decoded_ = false;
      problem(std::string{key}, std::nullopt, 0,
              "the global log's last-position record does not decode ("
                + std::to_string(value.size()) + " bytes, 8 expected)");
    }
  }

  /// What only the whole scan can tell about the global log: where it ends,
  /// and the events no entry points at.
  void check_log_ends() {
    auto key = layout::position_key();
    if (!has_last_position_ && (report_.events > 0 || report_.log_entries > 0))
      problem(key, std::nullopt, 0,
              "the global log's last-position record is missing, but its entries end "
              "at position " + std::to_string(last_logged_) + " ("
                + std::to_string(report_.events) + " events are stored)");
    else if (has_last_position_ && last_position_decoded_
             && report_.last_position != last_logged_)
      problem(key, std::nullopt, 0,
              "the global log's last position says "
                + std::to_string(report_.last_position) + " but its entries end at "
                + (last_logged_ == 0 ? "none" : "position " + std::to_string(last_logged_)));
    // Events outside the log, in position order. Events that share a
    // position are named with the one the log points at (or the first).
    std::sort(logged_.begin(), logged_.end(),
              [](const logged_event& a, const logged_event& b) {
                return std::tie(a.position, a.entity, a.version)
                       < std::tie(b.position, b.entity, b.version);
              });
    for (auto first = logged_.begin(); first != logged_.end();) {
      auto last = std::find_if(first, logged_.end(), [&](const logged_event& event) {
        return event.position != first->position;
      });
      auto logged = std::find_if(first, last, [](const auto& event) { return event.in_log; });
      for (auto event = first; event != last; ++event) {
        if (!event->decoded || event->in_log || event->reported
            || std::binary_search(undecodable_entries_.begin(),
                                  undecodable_entries_.end(), event->position))
          continue; // nothing to say, or said at the entry
        auto other = logged != last ? logged : std::find_if(first, last, [&](const auto& o) {
          return o.decoded && &o != &*event;
        });
        auto says = "its record says position " + std::to_string(event->position);
        problem(layout::event_key(event->entity, event->version), event->entity,
                event->version,
                other != last ? says + ", as does " + entity_version(other->entity, other->version)
                                  + "'s: two events at one position"
                              : says + ", but no global log entry points at it");
      }
      first = last;
    }
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
  std::vector<logged_event> logged_; // every event, in key order until the end
  std::unordered_map<std::string, std::uint32_t> type_indices_;
  std::vector<std::string> type_names_; // each stored type once
  std::uint64_t last_logged_ = 0;        // the last log entry's position
  std::vector<std::uint64_t> undecodable_entries_; // their positions, ascending
  /// Intact view checkpoints by view id: their key and contents.
  std::map<uuid, std::pair<std::string, layout::stored_view_checkpoint>> views_;
  uuid last_view_without_checkpoint_{};
  bool has_last_position_ = false;
  bool last_position_decoded_ = true;
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
