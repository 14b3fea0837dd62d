#pragma once
// A small database of the sample aggregates (three entities, seven events)
// and the kinds of damage written into it with plain RocksDB, as another
// program or a failing disk would. Shared by the Catch2 tests and the
// `sample_database` program that the cafes-admin CTest entries run; no Catch2
// here: failures throw std::runtime_error.

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <rocksdb/db.h>

#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/storage/rocksdb_layout.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes_samples/bank_account.hpp"
#include "cafes_samples/example.hpp"
#include "cafes_samples/tally.hpp"

namespace cafes::testing::sample {

namespace bank = cafes_samples::bank;
namespace example = cafes_samples::example;

// Fixed ids, so that CTest entries can name them and problems come in a
// known order.
inline const entity_id account = *uuid::parse("10000000-0000-4000-8000-000000000001");
inline const entity_id widget = *uuid::parse("20000000-0000-4000-8000-000000000002");
inline const entity_id tally = *uuid::parse("30000000-0000-4000-8000-000000000003");
/// An entity the sample database does not hold.
inline const entity_id stranger = *uuid::parse("40000000-0000-4000-8000-000000000004");
inline constexpr std::uint64_t entities = 3;
inline constexpr std::uint64_t events = 7;

/// The aggregates of the sample database.
inline std::vector<std::shared_ptr<const erased_aggregate>> aggregates() {
  return {erase<bank::account>(), erase<example::entity>(), erase<cafes_samples::tally::counter>()};
}

/// Returns a stored record of one domain event (an alternative of `Event`,
/// an aggregate's event variant). The id is random unless given.
template <class Event>
event_record record(const Event& event, uuid id = uuid::random()) {
  auto encoded = cafes::encode(event);
  event_record out;
  out.id = id;
  out.type = std::move(encoded.type);
  out.payload = std::move(encoded.payload);
  out.timestamp_ns = 1'700'000'000'000'000'000 + static_cast<std::int64_t>(id.low % 1000);
  return out;
}

/// Appends the sample histories: `account` 3 events, `widget` 2, `tally` 2,
/// at global positions 1..7 in that order, each with its aggregate's name.
inline void write(event_store& store) {
  using bank_event = bank::account::event;
  using example_event = example::entity::event;
  using tally_event = cafes_samples::tally::counter::event;
  std::vector<append_request> requests{
    {account, 0,
     {record(bank_event{bank::opened{"ada"}}), record(bank_event{bank::deposited{100}}),
      record(bank_event{bank::withdrawn{30}})},
     std::string{bank::account::name}},
    {widget, 0,
     {record(example_event{example::created{"bar"}}),
      record(example_event{example::attribute_changed{"foo", "baz"}})},
     std::string{example::entity::name}},
    {tally, 0,
     {record(tally_event{cafes_samples::tally::added{uuid::random(), 5}}),
      record(tally_event{cafes_samples::tally::added{uuid::random(), 7}})},
     std::string{cafes_samples::tally::counter::name}},
  };
  // The account's second event carries a command, correlation and causation
  // id, so that tools show and move them.
  requests[0].events[1].command_id = *uuid::parse("c0000000-0000-4000-8000-00000000000c");
  requests[0].events[1].correlation_id = *uuid::parse("c0000000-0000-4000-8000-0000000000cc");
  requests[0].events[1].causation_id = requests[0].events[0].id;
  for (const auto& request : requests)
    if (auto appended = store.append(request); !appended)
      throw std::runtime_error(to_string(appended.error()));
}

/// Opens `path` with plain RocksDB (default options, as another program
/// would).
inline std::unique_ptr<rocksdb::DB> open_raw(const std::string& path, bool create = false) {
  rocksdb::Options options;
  options.create_if_missing = create;
  rocksdb::DB* db = nullptr;
  auto status = rocksdb::DB::Open(options, path, &db);
  if (!status.ok())
    throw std::runtime_error("cannot open '" + path + "' with RocksDB: " + status.ToString());
  return std::unique_ptr<rocksdb::DB>{db};
}

/// One kind of damage and what `verify` must say about it: exactly one
/// problem, about `entity` (none for a foreign key or the global log) at
/// `version` (0: not about one event) or at the log's `position` (0: not
/// about a log entry), whose text contains `says`.
struct damage {
  std::string name;
  std::optional<entity_id> entity;
  std::uint64_t version = 0;
  std::string says;
  std::uint64_t position = 0;
};

/// Every kind of damage `write_damage` knows that is one problem. (Damage
/// to the global log is often two true problems, one at each end: see
/// verify_test.cpp.) Events these add go into the global log, as a store
/// would write them, so that each damage stays one problem.
inline std::vector<damage> damages() {
  return {
    {"foreign-key", std::nullopt, 0, "not a key cafes writes"},
    {"short-event-key", std::nullopt, 0, "not a key cafes writes"},
    {"undecodable-event", account, 2, "the record does not decode: unknown record format 7"},
    {"gap", account, 5, "a gap: version 4 is missing"},
    {"missing-first", stranger, 2, "starts at version 2, not 1"},
    {"head-past-end", account, 0, "head says version 5 but its events end at version 3"},
    {"orphan-head", stranger, 0, "no events (an orphan head)"},
    {"headless", tally, 0, "events up to version 2 but no head record"},
    {"undecodable-head", widget, 0, "the head record does not decode"},
    {"unknown-type", tally, 3, "unknown event type 'tally.subtracted'"},
    {"bad-payload", account, 4, "the payload of 'bank.deposited' does not decode"},
    {"mixed-aggregates", account, 4,
     "an event of aggregate 'tally' in a history of aggregate 'bank_account'"},
    {"duplicate-id", widget, 1, "is also the id of entity " + to_string(account) + " version 4"},
    // The global log (positions 1..7: account 1-3, widget 4-5, tally 6-7).
    {"log-dangling-entry", std::nullopt, 0,
     "its log entry points at entity " + to_string(stranger) + " version 1, which is not stored",
     8},
    {"log-position-mismatch", std::nullopt, 0,
     "its log entry points at entity " + to_string(account)
       + " version 2, whose record says position 9",
     2},
    {"log-type-mismatch", std::nullopt, 0,
     "as type 'bank.closed', but the event is of type 'bank.opened'", 1},
    {"log-undecodable-entry", std::nullopt, 0,
     "the log entry does not decode: unknown entry format 9", 5},
    {"log-last-position", std::nullopt, 0,
     "the global log's last position says 9 but its entries end at position 7"},
    {"log-missing-position", std::nullopt, 0,
     "the global log's last-position record is missing, but its entries end at position 7"},
    {"log-duplicate-position", stranger, 1,
     "its record says position 3, as does entity " + to_string(account)
       + " version 3's: two events at one position"},
    {"log-event-outside", stranger, 1,
     "its record says position 8, but no global log entry points at it"},
    // Commands with ids: the account's deposit (version 2) has one.
    {"command-past-history", account, 7,
     "command c0000000-0000-4000-8000-0000000000dd is recorded at version 7, which the "
     "entity does not have"},
    {"command-undecodable", account, 0,
     "the record of command c0000000-0000-4000-8000-00000000000c does not decode"},
  };
}

/// Writes the damage called `name` into the closed sample database at
/// `path`. Throws std::invalid_argument for an unknown name.
inline void write_damage(const std::string& path, const std::string& name) {
  namespace layout = rocksdb_layout;
  auto db = open_raw(path);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  auto check = [](const rocksdb::Status& status) {
    if (!status.ok())
      throw std::runtime_error(status.ToString());
  };
  auto put = [&](const std::string& key, const std::string& value) {
    check(db->Put(sync, key, value));
  };
  // Appends `event` as `entity`'s version `version` at the next global
  // position, with its log entry, the head and the last position moved
  // along, as the store would.
  auto append = [&](const entity_id& entity, std::uint64_t version,
                    const event_record& event) {
    std::string value;
    check(db->Get({}, layout::position_key(), &value));
    std::uint64_t position = 0;
    if (!layout::decode_version(value, position))
      throw std::runtime_error("the sample database's last position does not decode");
    ++position;
    put(layout::event_key(entity, version), layout::encode_event_value(event, position));
    put(layout::log_key(position), layout::encode_log_entry({entity, version, "", event.type}));
    put(layout::head_key(entity), layout::encode_version(version));
    put(layout::position_key(), layout::encode_version(position));
  };
  if (name == "foreign-key") {
    put("x", "someone else's value");
  } else if (name == "short-event-key") {
    put(layout::event_key_prefix(account), "no version");
  } else if (name == "undecodable-event") {
    put(layout::event_key(account, 2), "\x07garbage");
  } else if (name == "gap") {
    // Version 5 after 3: a history with a hole, the global log intact.
    append(account, 5, record(bank::account::event{bank::deposited{1}}));
  } else if (name == "missing-first") {
    append(stranger, 2, record(bank::account::event{bank::opened{"eve"}}));
  } else if (name == "head-past-end") {
    put(layout::head_key(account), layout::encode_version(5));
  } else if (name == "orphan-head") {
    put(layout::head_key(stranger), layout::encode_version(2));
  } else if (name == "headless") {
    check(db->Delete(sync, layout::head_key(tally)));
  } else if (name == "undecodable-head") {
    put(layout::head_key(widget), "abc");
  } else if (name == "unknown-type") {
    auto event = record(cafes_samples::tally::counter::event{cafes_samples::tally::added{uuid::random(), 1}});
    event.type = "tally.subtracted";
    append(tally, 3, event);
  } else if (name == "bad-payload") {
    auto event = record(bank::account::event{bank::deposited{1}});
    event.payload.resize(3);
    append(account, 4, event);
  } else if (name == "mixed-aggregates") {
    append(account, 4,
           record(cafes_samples::tally::counter::event{cafes_samples::tally::added{uuid::random(), 1}}));
  } else if (name == "duplicate-id") {
    std::string value;
    check(db->Get({}, layout::event_key(widget, 1), &value));
    auto first = layout::decode_event_value(widget, 1, value);
    if (!first)
      throw std::runtime_error(to_string(first.error()));
    append(account, 4, record(bank::account::event{bank::deposited{1}}, first->id));
  } else if (name == "log-dangling-entry") {
    put(layout::log_key(8), layout::encode_log_entry({stranger, 1, "", "bank.opened"}));
    put(layout::position_key(), layout::encode_version(8));
  } else if (name == "log-position-mismatch" || name == "log-duplicate-position"
             || name == "log-event-outside") {
    // An event whose record names a position its log entry does not have
    // (account 2 says 9), or an event no entry points at (at position 3,
    // account 3's, or 8, past the end).
    auto [entity, version, position] = name == "log-position-mismatch"
                                         ? std::tuple{account, std::uint64_t{2}, 9}
                                         : std::tuple{stranger, std::uint64_t{1},
                                                      name == "log-event-outside" ? 8 : 3};
    auto event = record(bank::account::event{bank::opened{"eve"}});
    if (entity == account) { // the same event, only its position changed
      std::string value;
      check(db->Get({}, layout::event_key(account, 2), &value));
      auto stored = layout::decode_event_value(account, 2, value);
      if (!stored)
        throw std::runtime_error(to_string(stored.error()));
      event = *stored;
    }
    put(layout::event_key(entity, version),
        layout::encode_event_value(event, static_cast<std::uint64_t>(position)));
    if (entity == stranger)
      put(layout::head_key(entity), layout::encode_version(version));
  } else if (name == "log-type-mismatch") {
    put(layout::log_key(1), layout::encode_log_entry({account, 1, "", "bank.closed"}));
  } else if (name == "log-undecodable-entry") {
    put(layout::log_key(5), "\x09garbage");
  } else if (name == "log-last-position") {
    put(layout::position_key(), layout::encode_version(9));
  } else if (name == "log-missing-position") {
    check(db->Delete(sync, layout::position_key()));
  } else if (name == "command-past-history") {
    put(layout::command_key(account, *uuid::parse("c0000000-0000-4000-8000-0000000000dd")),
        layout::encode_version(7));
  } else if (name == "command-undecodable") {
    put(layout::command_key(account, *uuid::parse("c0000000-0000-4000-8000-00000000000c")),
        "\x01");
  } else if (name == "log-entry-missing") {
    // Not one problem: a gap at position 4 and account 3 outside the log.
    check(db->Delete(sync, layout::log_key(3)));
  } else {
    throw std::invalid_argument("unknown damage '" + name + "'");
  }
}

/// Leaves at `path` what a crash leaves of the sample database with `extra`
/// more tally events (each its own synced append, so each its own log
/// record), then breaks one byte in the middle of its write-ahead log: a log
/// damaged before its end, which a normal open refuses. `path` must not
/// exist; `path + ".writing"` is used and removed.
inline void write_damaged_wal(const std::string& path, std::uint64_t extra = 200) {
  namespace fs = std::filesystem;
  const auto writing = path + ".writing";
  fs::remove_all(writing);
  {
    rocksdb_options options;
    options.path = writing;
    auto store = rocksdb_store::open(options);
    if (!store)
      throw std::runtime_error(to_string(store.error()));
    write(**store);
    for (std::uint64_t i = 0; i < extra; ++i) {
      auto event = record(cafes_samples::tally::counter::event{cafes_samples::tally::added{uuid::random(), 1}});
      if (auto appended = (*store)->append({tally, 2 + i, {event}}); !appended)
        throw std::runtime_error(to_string(appended.error()));
    }
    fs::copy(writing, path, fs::copy_options::recursive); // while still open
  }
  fs::remove_all(writing);
  std::vector<fs::path> logs;
  for (const auto& entry : fs::directory_iterator{path})
    if (entry.path().extension() == ".log")
      logs.push_back(entry.path());
  if (logs.size() != 1)
    throw std::runtime_error("expected one write-ahead log in '" + path + "', found "
                             + std::to_string(logs.size()));
  std::fstream file{logs.front(), std::ios::in | std::ios::out | std::ios::binary};
  auto middle = static_cast<std::streamoff>(fs::file_size(logs.front()) / 2);
  file.seekg(middle);
  char byte = 0;
  file.get(byte);
  file.seekp(middle);
  file.put(static_cast<char>(byte ^ 0x5A));
}

} // namespace cafes::testing::sample
