#pragma once
// One fixture per store, so the contract suite runs against every store.

#include <memory>

#include <catch2/catch.hpp>

#include "cafes/storage/memory_store.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "temp_dir.hpp"

namespace cafes::testing {

inline event_record make_event(std::string type, std::string body) {
  event_record record;
  record.id = uuid::random();
  record.type = std::move(type);
  record.payload.assign(body.begin(), body.end());
  record.timestamp_ns = now_ns();
  return record;
}

inline append_request make_append(const entity_id& entity, std::uint64_t expected,
                                  std::size_t count = 1) {
  append_request request{entity, expected, {}};
  for (std::size_t i = 0; i < count; ++i)
    request.events.push_back(
      make_event("test.happened", "event " + std::to_string(expected + i + 1)));
  return request;
}

/// Opens a RocksDB store at `path` (in memory when empty), read-only if
/// asked; fails the test with the reason when it cannot.
inline std::unique_ptr<rocksdb_store> open_rocksdb(const std::string& path,
                                                   bool read_only = false) {
  rocksdb_options options;
  options.in_memory = path.empty();
  options.path = path;
  options.read_only = read_only;
  auto store = rocksdb_store::open(options);
  INFO((store ? "" : to_string(store.error())));
  REQUIRE(store.ok());
  return std::move(*store);
}

struct memory_fixture {
  std::shared_ptr<event_store> store = std::make_shared<memory_store>();
};

struct rocksdb_memory_fixture {
  std::shared_ptr<event_store> store = [] {
    rocksdb_options options;
    options.in_memory = true;
    return std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))};
  }();
};

struct rocksdb_disk_fixture {
  temp_dir dir;
  std::shared_ptr<event_store> store = [this] {
    rocksdb_options options;
    options.path = dir.sub("db");
    options.sync = false; // durability itself is covered by the reopen test
    auto opened = rocksdb_store::open(options);
    if (!opened)
      throw std::runtime_error(to_string(opened.error()));
    return std::shared_ptr<event_store>{std::move(*opened)};
  }();
};

} // namespace cafes::testing
