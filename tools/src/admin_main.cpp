// cafes-admin: inspect, verify, export, import and recover a cafes database.
// Exit codes: 0 ok, 1 problems found or a data error, 2 bad usage, 3 the
// database cannot be opened. Every command but import and recover opens the
// database read-only (no lock: it may run beside a writer).

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "cafes/storage/rocksdb_verify.hpp"
#include "cafes/tools/admin.hpp"
#include "cafes/tools/admin_transfer.hpp"
#include "cafes/tools/cli.hpp"

using namespace cafes;
using admin::counted;
using tools::with_commas;

namespace {

using tools::exit_ok;
using tools::exit_unavailable;
using tools::exit_usage;
constexpr int exit_problems = tools::exit_failed;

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

result<std::unique_ptr<rocksdb_store>> open_read_only(const std::string& path) {
  rocksdb_options options;
  options.path = path;
  options.read_only = true;
  return rocksdb_store::open(options);
}

std::string size_text(std::uint64_t bytes) {
  char mib[32];
  std::snprintf(mib, sizeof mib, "%.1f", static_cast<double>(bytes) / (1 << 20));
  return with_commas(bytes) + " bytes (" + mib + " MiB)";
}

/// "2023-11-14T22:13:20.000000001Z"
std::string utc_text(std::int64_t ns) {
  auto seconds = static_cast<std::time_t>(ns / 1'000'000'000);
  auto fraction = ns % 1'000'000'000;
  if (fraction < 0) {
    fraction += 1'000'000'000;
    --seconds;
  }
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[64];
  auto length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(text + length, sizeof text - length, ".%09lldZ",
                static_cast<long long>(fraction));
  return text;
}

int run_verify(rocksdb_store& store, std::size_t max_problems, bool check_ids) {
  admin::progress_line line{stderr_is_terminal()};
  verify_options options;
  options.aggregates = admin::known_aggregates();
  options.max_problems = max_problems;
  options.check_event_ids = check_ids;
  options.progress = [&](const verify_progress& at) {
    line.update([&] {
      auto text = "verify: " + with_commas(at.keys) + " keys";
      if (at.estimated_keys > 0)
        text += " of about " + with_commas(at.estimated_keys);
      return text + ", " + with_commas(at.problems) + " problems";
    });
  };
  auto report = verify(store, options);
  line.finish();
  for (const auto& problem : report.problems)
    std::printf("problem: %s\n", to_string(problem).c_str());
  if (report.problem_count > report.problems.size())
    std::printf("... and %s (--max-problems shows more)\n",
                counted(report.problem_count - report.problems.size(), "more problem",
                        "more problems")
                  .c_str());
  std::printf("%s, %s, %s, %s, %s\n",
              counted(report.entities, "entity", "entities").c_str(),
              counted(report.events, "event", "events").c_str(),
              counted(report.log_entries, "log entry", "log entries").c_str(),
              counted(report.keys, "key", "keys").c_str(), size_text(report.bytes).c_str());
  if (report.ok()) {
    std::printf("verify: no problems\n");
    return exit_ok;
  }
  std::printf("verify: %s%s\n", counted(report.problem_count, "problem", "problems").c_str(),
              report.complete ? "" : "; the scan stopped early");
  return exit_problems;
}

int run_stats(rocksdb_store& store) {
  admin::progress_line line{stderr_is_terminal()};
  auto found = admin::stats(store, [&](std::uint64_t keys) {
    line.update([&] { return "stats: " + with_commas(keys) + " keys"; });
  });
  line.finish();
  if (!found)
    return fail(exit_problems, found.error().message);
  auto row = [](const char* name, const std::string& value) {
    std::printf("%-18s %s\n", name, value.c_str());
  };
  row("entities", with_commas(found->entities));
  row("events", with_commas(found->events));
  row("longest history", with_commas(found->longest_history));
  row("log entries", with_commas(found->log_entries));
  row("commands with ids", with_commas(found->commands));
  row("views", with_commas(found->views));
  row("view rows", with_commas(found->view_rows));
  row("last position", with_commas(found->last_position));
  row("other keys", with_commas(found->other_keys));
  row("size", size_text(found->bytes));
  row("database id", to_string(store.database_id()));
  std::printf("events by type:\n");
  for (const auto& [type, count] : found->events_by_type)
    std::printf("  %-30s %s\n", type.c_str(), with_commas(count).c_str());
  if (found->other_keys > 0)
    std::printf("(other keys are not cafes data: cafes-admin verify lists them)\n");
  return exit_ok;
}

int run_entities(rocksdb_store& store) {
  std::optional<entity_id> after;
  constexpr std::size_t page = admin::list_page;
  for (;;) {
    auto entities = store.list_entities(after, page);
    if (!entities)
      return fail(exit_problems, entities.error().message);
    for (const auto& entity : *entities) {
      auto version = store.head(entity);
      if (!version)
        return fail(exit_problems, version.error().message);
      std::printf("%s %llu\n", to_string(entity).c_str(),
                  static_cast<unsigned long long>(*version));
    }
    if (entities->size() < page)
      return exit_ok;
    after = entities->back();
  }
}

int run_history(rocksdb_store& store, const entity_id& entity, bool json) {
  auto events = store.read(entity);
  if (!events)
    return fail(exit_problems, events.error().message);
  if (events->empty())
    return fail(exit_problems, "entity " + to_string(entity) + " has no events");
  for (const auto& event : *events) {
    if (json) {
      auto line = admin::to_json_line(event);
      if (!line)
        return fail(exit_problems, line.error().message);
      std::printf("%s\n", line->c_str());
      continue;
    }
    std::string payload{event.payload.begin(), event.payload.end()};
    // The ids a writer may leave out follow only when given.
    std::string ids;
    if (event.schema_version != 1)
      ids += "  schema version " + std::to_string(event.schema_version);
    for (auto [name, id] : {std::pair{"command", &event.command_id},
                            std::pair{"correlation", &event.correlation_id},
                            std::pair{"causation", &event.causation_id}})
      if (!id->is_nil())
        ids += std::string{"  "} + name + " " + to_string(*id);
    std::printf("%6llu  @%-8llu %s  %-28s %s  %zu bytes %s%s\n",
                static_cast<unsigned long long>(event.version),
                static_cast<unsigned long long>(event.position),
                utc_text(event.timestamp_ns).c_str(), event.type.c_str(),
                to_string(event.id).c_str(), event.payload.size(),
                to_hex(payload, 32).c_str(), ids.c_str());
  }
  return exit_ok;
}

int run_export(rocksdb_store& store, const std::string& out_path) {
  std::ofstream file;
  if (!out_path.empty()) {
    file.open(out_path, std::ios::out | std::ios::trunc | std::ios::binary);
    if (!file)
      return fail(exit_usage, "cannot write '" + out_path + "'");
  }
  std::ostream& out = out_path.empty() ? std::cout : file;
  admin::progress_line line{stderr_is_terminal()};
  auto exported = admin::export_store(store, out, [&](const admin::export_report& at) {
    line.update([&] {
      return "export: " + counted(at.entities, "entity", "entities") + ", "
             + counted(at.events, "event", "events");
    });
  });
  line.finish();
  if (!exported)
    return fail(exit_problems, exported.error().message
                                 + " (the export is incomplete; cafes-admin verify "
                                   "lists every damaged entity)");
  // The summary goes where the data does not.
  std::fprintf(out_path.empty() ? stderr : stdout, "exported %s, %s\n",
               counted(exported->entities, "entity", "entities").c_str(),
               counted(exported->events, "event", "events").c_str());
  return exit_ok;
}

int run_import(const std::string& path, const std::string& in_path) {
  std::ifstream file;
  if (!in_path.empty()) {
    file.open(in_path, std::ios::in | std::ios::binary);
    if (!file)
      return fail(exit_usage, "cannot read '" + in_path + "'");
  }
  std::istream& in = in_path.empty() ? std::cin : file;
  rocksdb_options options;
  options.path = path;
  auto store = rocksdb_store::open(options);
  if (!store)
    return fail(exit_unavailable, store.error().message);
  admin::progress_line line{stderr_is_terminal()};
  admin::import_options import_options;
  import_options.progress = [&](std::uint64_t lines, std::uint64_t events) {
    line.update([&] {
      return "import: " + with_commas(lines) + " lines, " + with_commas(events) + " events";
    });
  };
  auto report = admin::import_store(**store, in, import_options);
  line.finish();
  store->reset(); // closing flushes
  auto counts = counted(report.entities, "entity", "entities") + ", "
                + counted(report.events, "event", "events");
  if (!report.error) {
    std::printf("imported %s from %s into %s\n", counts.c_str(),
                counted(report.lines, "line", "lines").c_str(), path.c_str());
    return exit_ok;
  }
  if (report.error->code == ec::invalid_argument)
    return fail(exit_usage, report.error->message);
  std::fprintf(stderr, "error: %s\n", report.error->message.c_str());
  std::fprintf(stderr, "imported %s before it; they stay in %s\n", counts.c_str(),
               path.c_str());
  return exit_problems;
}

int run_recover(const std::string& path, bool yes) {
  if (!yes)
    return fail(exit_usage,
                "recover opens the database at the last intact record of its "
                "write-ahead log: every event after the damage is lost for good. Copy "
                "the directory first (cp -a '" + path + "' '" + path
                  + ".copy'), then run cafes-admin recover --db '" + path + "' --yes");
  auto recovered = admin::recover(path);
  if (!recovered)
    return fail(exit_unavailable, recovered.error().message);
  auto counts = counted(recovered->entities, "entity", "entities") + ", "
                + counted(recovered->events, "event", "events");
  if (!recovered->recovered)
    std::printf("%s opens normally: nothing to recover, nothing changed (%s)\n",
                path.c_str(), counts.c_str());
  else
    std::printf("recovered %s at the last intact record of its write-ahead log: kept "
                "%s; the events after the damage are gone. Check it: cafes-admin "
                "verify --db '%s'\n",
                path.c_str(), counts.c_str(), path.c_str());
  return exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App cli{"cafes-admin: inspect, verify, export, import and recover a cafes "
               "database.\nExit codes: 0 ok, 1 problems found or a data error, "
               "2 bad usage, 3 the database cannot be opened."};
  cli.require_subcommand(1);
  std::string db;
  auto with_db = [&](CLI::App* command, const char* what) {
    command->add_option("--db", db, what)->required();
    return command;
  };
  auto* verify = with_db(cli.add_subcommand("verify", "check every key, record, payload, "
                                                      "head and the global log; exit 1 "
                                                      "on any problem"),
                         "database directory (opened read-only)");
  std::size_t max_problems = 1'000;
  bool skip_event_ids = false;
  verify->add_option("--max-problems", max_problems, "problems listed (all are counted)")
    ->capture_default_str();
  verify->add_flag("--skip-event-ids", skip_event_ids,
                   "do not check that event ids are unique (saves ~40 bytes of memory "
                   "per event)");
  auto* stats = with_db(cli.add_subcommand("stats", "count entities, events, the global "
                                                    "log, types and bytes"),
                        "database directory (opened read-only)");
  auto* entities = with_db(cli.add_subcommand("entities", "list every entity id and its "
                                                          "version, in id order"),
                           "database directory (opened read-only)");
  auto* history = with_db(cli.add_subcommand("history", "print one entity's events"),
                          "database directory (opened read-only)");
  std::string id_text;
  bool history_json = false;
  history->add_option("ID", id_text, "the entity id")->required();
  history->add_flag("--json", history_json, "one JSON line per event, as export writes");
  auto* export_command = with_db(
    cli.add_subcommand("export", "write every event as JSON lines, in global log "
                                 "position order"),
    "database directory (opened read-only)");
  std::string out_path;
  export_command->add_option("--out", out_path, "file to write (default: stdout)");
  auto* import_command = with_db(
    cli.add_subcommand("import", "append an export's JSON lines to a new or empty database"),
    "database directory (created when missing)");
  std::string in_path;
  import_command->add_option("--in", in_path, "file to read (default: stdin)");
  auto* recover = with_db(
    cli.add_subcommand("recover", "open a database whose write-ahead log is damaged at "
                                  "its last intact record (drops what follows)"),
    "database directory");
  bool yes = false;
  recover->add_flag("--yes", yes, "agree that events after the damage are lost");

  if (auto done = tools::parse(cli, argc, argv))
    return *done;

  if (import_command->parsed())
    return run_import(db, in_path);
  if (recover->parsed())
    return run_recover(db, yes);
  std::optional<entity_id> entity;
  if (history->parsed()) {
    entity = uuid::parse(id_text);
    if (!entity)
      return fail(exit_usage, "'" + id_text
                                + "' is not an entity id "
                                  "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
  }
  auto store = open_read_only(db);
  if (!store)
    return fail(exit_unavailable, store.error().message);
  if (verify->parsed())
    return run_verify(**store, max_problems, !skip_event_ids);
  if (stats->parsed())
    return run_stats(**store);
  if (entities->parsed())
    return run_entities(**store);
  if (history->parsed())
    return run_history(**store, *entity, history_json);
  return run_export(**store, out_path);
}
