// The seed's optimistic-concurrency scenario on embedded RocksDB: two copies
// of one entity, a stale write refused with a concurrency error, a refreshed
// write accepted. Exit codes: 0 all as expected, 1 an outcome differed,
// 2 bad usage, 3 the database could not be opened.

#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cafes/actors/application.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes_samples/example.hpp"

using namespace cafes;
using namespace cafes_samples;
using example_copy = copy<example::entity>;

namespace {

// A fixed id, so that a second run on the same --db finds the first run's entity.
const entity_id demo_id = *uuid::parse("cafe0000-0000-4000-8000-000000000001");

int failures = 0;

void check(bool ok, const std::string& step) {
  std::printf("  %s %s\n", ok ? "ok  " : "FAIL", step.c_str());
  failures += ok ? 0 : 1;
}

void show(const char* name, const example_copy& c) {
  std::printf("  %s: version %llu, foo = %s\n", name,
              static_cast<unsigned long long>(c.version), c.state.foo.c_str());
}

/// Runs `change` expecting a concurrency error; returns true if one came.
template <class F>
bool refused(F change) {
  try {
    change();
  } catch (const concurrency_error& e) {
    std::printf("  -> concurrency error: expected version %llu, actual %llu\n",
                static_cast<unsigned long long>(e.expected_version()),
                static_cast<unsigned long long>(e.actual_version()));
    return true;
  }
  return false;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App cli{"cafes concurrency demo"};
  std::string db_path;
  bool expect_existing = false;
  cli.add_option("--db", db_path, "RocksDB directory (default: in memory)")
    ->check(tools::non_empty_path());
  cli.add_flag("--expect-existing", expect_existing,
               "fail unless the entity exists from an earlier run");
  if (auto code = tools::parse(cli, argc, argv))
    return *code;

  rocksdb_options options;
  options.in_memory = db_path.empty();
  options.path = db_path;
  auto store = rocksdb_store::open(options);
  if (!store) {
    std::fprintf(stderr, "error: %s\n", store.error().message.c_str());
    return 3;
  }
  std::printf("store: RocksDB %s\n", db_path.empty() ? "(in memory)" : db_path.c_str());
  try {
    application app{std::move(*store)};
    auto examples = app.entities<example::entity>();

    std::printf("1. create the entity with foo = bar1\n");
    example_copy entity;
    try {
      entity = examples.get(demo_id);
      std::printf("  found the entity of an earlier run\n");
      show("entity", entity);
    } catch (const cafes_error& e) {
      if (e.code() != ec::not_found)
        throw;
      check(!expect_existing, "the entity is new (--expect-existing not given)");
      entity = examples.create(demo_id, example::create{"bar1"});
      show("entity", entity);
      check(entity.version == 1 && entity.state.foo == "bar1", "created at version 1");
    }
    auto start = entity.version;

    std::printf("2. take two copies, a and b\n");
    auto a = examples.get(demo_id);
    auto b = examples.get(demo_id);
    show("a", a);
    show("b", b);

    std::printf("3. a sets foo = bar2\n");
    examples.execute(a, example::change_foo{"bar2"});
    show("a", a);
    check(a.version == start + 1 && a.state.foo == "bar2", "a is at the next version");

    std::printf("4. b (stale) sets foo = bar3\n");
    check(refused([&] { examples.execute(b, example::change_foo{"bar3"}); }),
          "b is refused with a concurrency error");
    check(examples.get(demo_id).state.foo == "bar2", "the store still has bar2");

    std::printf("5. refresh b, then b sets foo = bar3\n");
    b = examples.get(demo_id);
    check(b.state.foo == "bar2", "refreshed b sees bar2");
    examples.execute(b, example::change_foo{"bar3"});
    show("b", b);
    check(examples.get(demo_id).state.foo == "bar3", "the stored value is bar3");

    std::printf("6. a (now stale) sets foo = bar4\n");
    check(refused([&] { examples.execute(a, example::change_foo{"bar4"}); }),
          "a is refused with a concurrency error");
    auto final_state = examples.get(demo_id);
    show("stored", final_state);
    check(final_state.state.foo == "bar3" && final_state.version == start + 2,
          "history has exactly two new events");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf(failures == 0 ? "all outcomes as expected\n" : "%d outcome(s) differed\n",
              failures);
  return failures == 0 ? 0 : 1;
}
