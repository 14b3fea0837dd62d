#include "cafes/tools/admin.hpp"

#include <cstdio>
#include <filesystem>

#include "cafes/storage/rocksdb_layout.hpp"
#include "cafes/storage/rocksdb_verify.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes_samples/bank_account.hpp"
#include "cafes_samples/example.hpp"
#include "cafes_samples/tally.hpp"

namespace cafes::admin {

namespace layout = rocksdb_layout;
using tools::with_commas;

std::vector<std::shared_ptr<const erased_aggregate>> known_aggregates() {
  return {erase<cafes_samples::bank::account>(), erase<cafes_samples::example::entity>(),
          erase<cafes_samples::tally::counter>()};
}

result<store_stats> stats(rocksdb_store& store,
                          const std::function<void(std::uint64_t)>& progress) {
  store_stats out;
  std::optional<entity_id> entity; // of the current run of event keys
  std::uint64_t run = 0;
  std::uint64_t keys = 0;
  auto scanned = store.scan([&](std::string_view key, std::string_view value) {
    ++keys;
    if (progress && keys % 65'536 == 0)
      progress(keys);
    auto parsed = layout::parse_key(key);
    if (!parsed) {
      ++out.other_keys;
      return true;
    }
    switch (parsed->kind) {
      case layout::key_kind::head: ++out.entities; return true;
      case layout::key_kind::log_entry: ++out.log_entries; return true;
      case layout::key_kind::command: ++out.commands; return true;
      case layout::key_kind::view_checkpoint: ++out.views; return true;
      case layout::key_kind::view_row: ++out.view_rows; return true;
      case layout::key_kind::position:
        // A damaged record counts as none: verify names it.
        if (!layout::decode_version(value, out.last_position))
          out.last_position = 0;
        return true;
      case layout::key_kind::event: break;
    }
    ++out.events;
    run = entity == parsed->entity ? run + 1 : 1;
    entity = parsed->entity;
    out.longest_history = std::max(out.longest_history, run);
    auto record = layout::decode_event_value(parsed->entity, parsed->version, value);
    ++out.events_by_type[record ? record->type : "(undecodable)"];
    return true;
  });
  if (!scanned)
    return std::move(scanned).error();
  if (!store.options().in_memory)
    out.bytes = directory_bytes(store.options().path);
  return out;
}

result<recover_report> recover(const std::string& path) {
  recover_report report;
  rocksdb_options options;
  options.path = path;
  options.read_only = true;
  auto intact = rocksdb_store::open(options);
  std::unique_ptr<rocksdb_store> store;
  if (intact) {
    store = std::move(*intact);
  } else {
    // Only an existing cafes database is recovered: a writable open would
    // create one in a missing or empty directory.
    namespace fs = std::filesystem;
    std::error_code error;
    if (!fs::exists(fs::path{path} / "CAFES", error)
        || !fs::exists(fs::path{path} / "CURRENT", error))
      return std::move(intact).error();
    options.read_only = false;
    options.recover_to_last_intact = true;
    auto recovered = rocksdb_store::open(options);
    if (!recovered)
      return std::move(recovered).error();
    store = std::move(*recovered);
    report.recovered = true;
  }
  auto counted = stats(*store);
  store.reset(); // closing flushes what was kept; the damaged log goes
  if (!counted)
    return std::move(counted).error();
  report.entities = counted->entities;
  report.events = counted->events;
  return report;
}

void progress_line::update(const std::function<std::string()>& make) {
  if (!enabled_)
    return;
  auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < std::chrono::milliseconds{200})
    return;
  last_ = now;
  shown_ = true;
  std::fprintf(stderr, "\r%s\x1b[K", make().c_str());
  std::fflush(stderr);
}

void progress_line::finish() {
  if (!shown_)
    return;
  shown_ = false;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
}

std::string counted(std::uint64_t value, const char* one, const char* many) {
  return with_commas(value) + " " + (value == 1 ? one : many);
}

} // namespace cafes::admin
