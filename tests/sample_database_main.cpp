// sample_database: writes the sample database (tests/sample_database.hpp) for
// the cafes-admin CTest entries, optionally damaged.
//   sample_database --db DIR                   three entities, seven events
//   sample_database --db DIR --damage NAME     then one kind of damage
//   sample_database --db DIR --damaged-wal     a write-ahead log broken mid-way
// DIR is replaced when it exists and is a cafes database. Exit codes: 0 done,
// 1 failed, 2 bad usage.

#include <cstdio>
#include <filesystem>
#include <string>

#include "sample_database.hpp"

using namespace cafes;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::string db, damage;
  bool damaged_wal = false;
  bool usage = false;
  for (int i = 1; i < argc && !usage; ++i) {
    std::string arg = argv[i];
    if (arg == "--db" && i + 1 < argc)
      db = argv[++i];
    else if (arg == "--damage" && i + 1 < argc)
      damage = argv[++i];
    else if (arg == "--damaged-wal")
      damaged_wal = true;
    else
      usage = true;
  }
  if (usage || db.empty()) {
    std::fprintf(stderr, "usage: sample_database --db DIR [--damage NAME | --damaged-wal]\n");
    return 2;
  }
  try {
    if (fs::exists(db)) {
      if (!fs::exists(fs::path{db} / "CAFES"))
        throw std::runtime_error("'" + db + "' exists and is not a cafes database");
      fs::remove_all(db);
    }
    if (auto parent = fs::path{db}.parent_path(); !parent.empty())
      fs::create_directories(parent);
    if (damaged_wal) {
      testing::sample::write_damaged_wal(db);
      return 0;
    }
    {
      rocksdb_options options;
      options.path = db;
      auto store = rocksdb_store::open(options);
      if (!store)
        throw std::runtime_error(to_string(store.error()));
      testing::sample::write(**store);
    }
    if (!damage.empty())
      testing::sample::write_damage(db, damage);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
