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
#include <vector>

#include <rocksdb/db.h>

#include "cafes/domain/bank_account.hpp"
#include "cafes/domain/erased_aggregate.hpp"
#include "cafes/domain/example.hpp"
#include "cafes/domain/tally.hpp"
#include "cafes/storage/rocksdb_layout.hpp"
#include "cafes/storage/rocksdb_store.hpp"

namespace cafes::testing::sample {

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
  return {erase<bank::account>(), erase<example::entity>(), erase<cafes::tally::counter>()};
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

/// Appends the sample histories: `account` 3 events, `widget` 2, `tally` 2.
inline void write(event_store& store) {
  using bank_event = bank::account::event;
  using example_event = example::entity::event;
  using tally_event = cafes::tally::counter::event;
  std::vector<append_request> requests{
    {account, 0,
     {record(bank_event{bank::opened{"ada"}}), record(bank_event{bank::deposited{100}}),
      record(bank_event{bank::withdrawn{30}})}},
    {widget, 0,
     {record(example_event{example::created{"bar"}}),
      record(example_event{example::attribute_changed{"foo", "baz"}})}},
    {tally, 0,
     {record(tally_event{cafes::tally::added{uuid::random(), 5}}),
      record(tally_event{cafes::tally::added{uuid::random(), 7}})}},
  };
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
/// problem, about `entity` (none for a foreign key) at `version` (0: not
/// about one event), whose text contains `says`.
struct damage {
  std::string name;
  std::optional<entity_id> entity;
  std::uint64_t version = 0;
  std::string says;
};

/// Every kind of damage `write_damage` knows.
inline std::vector<damage> damages() {
  return {
    {"foreign-key", std::nullopt, 0, "not a key cafes writes"},
    {"short-event-key", std::nullopt, 0, "not a key cafes writes"},
    {"undecodable-event", account, 2, "the record does not decode: unknown record format 7"},
    {"gap", account, 3, "a gap: version 2 is missing"},
    {"missing-first", widget, 2, "starts at version 2, not 1"},
    {"head-past-end", account, 0, "head says version 5 but its events end at version 3"},
    {"orphan-head", stranger, 0, "no events (an orphan head)"},
    {"headless", tally, 0, "events up to version 2 but no head record"},
    {"undecodable-head", widget, 0, "the head record does not decode"},
    {"unknown-type", tally, 3, "unknown event type 'tally.subtracted'"},
    {"bad-payload", account, 4, "the payload of 'bank.deposited' does not decode"},
    {"mixed-aggregates", account, 4,
     "an event of aggregate 'tally' in a history of aggregate 'bank_account'"},
    {"duplicate-id", widget, 1, "is also the id of entity " + to_string(account) + " version 4"},
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
  // Appends `event` as `entity`'s version `version`, with the head moved along.
  auto append = [&](const entity_id& entity, std::uint64_t version,
                    const event_record& event) {
    put(layout::event_key(entity, version), layout::encode_event_value(event));
    put(layout::head_key(entity), layout::encode_version(version));
  };
  if (name == "foreign-key") {
    put("x", "someone else's value");
  } else if (name == "short-event-key") {
    put(layout::event_key_prefix(account), "no version");
  } else if (name == "undecodable-event") {
    put(layout::event_key(account, 2), "\x07garbage");
  } else if (name == "gap") {
    check(db->Delete(sync, layout::event_key(account, 2)));
  } else if (name == "missing-first") {
    check(db->Delete(sync, layout::event_key(widget, 1)));
  } else if (name == "head-past-end") {
    put(layout::head_key(account), layout::encode_version(5));
  } else if (name == "orphan-head") {
    put(layout::head_key(stranger), layout::encode_version(2));
  } else if (name == "headless") {
    check(db->Delete(sync, layout::head_key(tally)));
  } else if (name == "undecodable-head") {
    put(layout::head_key(widget), "abc");
  } else if (name == "unknown-type") {
    auto event = record(cafes::tally::counter::event{cafes::tally::added{uuid::random(), 1}});
    event.type = "tally.subtracted";
    append(tally, 3, event);
  } else if (name == "bad-payload") {
    auto event = record(bank::account::event{bank::deposited{1}});
    event.payload.resize(3);
    append(account, 4, event);
  } else if (name == "mixed-aggregates") {
    append(account, 4,
           record(cafes::tally::counter::event{cafes::tally::added{uuid::random(), 1}}));
  } else if (name == "duplicate-id") {
    std::string value;
    check(db->Get({}, layout::event_key(widget, 1), &value));
    auto first = layout::decode_event_value(widget, 1, value);
    if (!first)
      throw std::runtime_error(to_string(first.error()));
    append(account, 4, record(bank::account::event{bank::deposited{1}}, first->id));
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
      auto event = record(cafes::tally::counter::event{cafes::tally::added{uuid::random(), 1}});
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
