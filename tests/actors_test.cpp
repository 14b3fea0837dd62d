// Actors: entity actors, the registry, the storage actor and the facade.

#include <catch2/catch.hpp>

#include <atomic>
#include <numeric>
#include <thread>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes_samples/bank_account.hpp"
#include "cafes_samples/example.hpp"
#include "failing_sync.hpp"
#include "file_size_limit.hpp"
#include "gated_store.hpp"
#include "store_fixtures.hpp"

using namespace cafes;
using namespace cafes_samples;
using namespace cafes::testing;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<event_store> rocksdb_in_memory() {
  rocksdb_options options;
  options.in_memory = true;
  return std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))};
}

/// Asks `registry` to run an example command on `id`: a create when
/// `expected` is 0, else a change of foo to `foo` at version `expected`.
template <class Registry>
auto request_example(caf::scoped_actor& self, const Registry& registry, const entity_id& id,
                     std::uint64_t expected, std::string foo = "next") {
  example::entity::command command = example::change_foo{std::move(foo)};
  if (expected == 0)
    command = example::create{"bar1"};
  return self->request(registry, caf::infinite, execute_atom::value, id,
                       command_envelope{encode_command(command), expected});
}

/// An answer handler that checks the snapshot's version.
auto expect_version(std::uint64_t version) {
  return [version](entity_snapshot& s) { CHECK(s.version == version); };
}

/// An error handler for answers that must not be errors.
void unexpected(caf::error& err) {
  FAIL(to_string(to_failure(err)));
}

template <class F>
failure failure_of(F&& f) {
  try {
    f();
  } catch (const cafes_error& e) {
    return e.details();
  }
  FAIL("expected a cafes_error");
  return {};
}

} // namespace

TEST_CASE("a stale copy gets a concurrency error and writes nothing", "[actors]") {
  auto store = rocksdb_in_memory();
  application app{store};
  auto examples = app.entities<example::entity>();
  auto a = examples.create(example::create{"bar1"});
  auto b = examples.get(a.id);
  examples.execute(a, example::change_foo{"bar2"});
  CHECK(a.version == 2);
  try {
    examples.execute(b, example::change_foo{"bar3"});
    FAIL("stale copy was accepted");
  } catch (const concurrency_error& e) {
    CHECK(e.expected_version() == 1);
    CHECK(e.actual_version() == 2);
    CHECK_THAT(e.what(), Catch::Contains(to_string(a.id)));
  }
  CHECK(b.version == 1); // the copy is left as it was
  CHECK(*store->head(a.id) == 2);
  auto refreshed = examples.get(a.id);
  CHECK(refreshed.state.foo == "bar2");
  examples.execute(refreshed, example::change_foo{"bar3"});
  CHECK(examples.get(a.id).state.foo == "bar3");
  CHECK(store->read(a.id)->size() == 3);
}

TEST_CASE("an entity actor refuses a command of another aggregate and bytes that "
          "do not decode",
          "[actors]") {
  auto store = rocksdb_in_memory();
  application app{store};
  auto accounts = app.entities<bank::account>();
  auto ada = accounts.create(bank::open{"ada"});
  caf::scoped_actor self{app.system()};
  auto send = [&](encoded_command command) {
    std::optional<failure> refused;
    self->request(accounts.shard(ada.id), caf::infinite, execute_atom::value, ada.id,
                  command_envelope{std::move(command), ada.version})
      .receive([&](entity_snapshot&) {}, [&](caf::error& err) { refused = to_failure(err); });
    return refused;
  };
  auto foreign = send(encode_command(example::entity::command{example::discard{}}));
  REQUIRE(foreign);
  CHECK(foreign->code == ec::invalid_argument);
  CHECK_THAT(foreign->message, Catch::Contains("example.discard"));
  CHECK(foreign->entity == ada.id);
  auto garbage = encode_command(bank::account::command{bank::deposit{5}});
  garbage.payload.resize(3);
  auto damaged = send(garbage);
  REQUIRE(damaged);
  CHECK(damaged->code == ec::decode_failure);
  // The actor lives on: the next command is applied.
  accounts.execute(ada, bank::deposit{5});
  CHECK(ada.version == 2);
  CHECK(ada.state.balance == 5);
}

TEST_CASE("command envelopes and snapshots survive CAF's binary serialization",
          "[actors]") {
  auto store = rocksdb_in_memory();
  application app{store};
  command_envelope sent{encode_command(bank::account::command{bank::withdraw{7}}), 3,
                        uuid::random(), uuid::random(), uuid::random()};
  sent.await_timeout = std::chrono::milliseconds{1234};
  std::vector<char> bytes;
  caf::binary_serializer sink{app.system(), bytes};
  REQUIRE_FALSE(sink(sent));
  command_envelope received;
  caf::binary_deserializer source{app.system(), bytes};
  REQUIRE_FALSE(source(received));
  CHECK(received.command.type == "bank.withdraw");
  CHECK(received.command.payload == sent.command.payload);
  CHECK(received.expected_version == 3);
  CHECK(received.command_id == sent.command_id);
  CHECK(received.causation_id == sent.causation_id);
  CHECK(received.await_timeout == sent.await_timeout);
  auto decoded = erase<bank::account>()->decode_command(received.command);
  REQUIRE(decoded.ok());

  entity_snapshot snapshot{uuid::random(), 4,
                           encode_state(bank::state{true, false, "ada", 9}, "bank_account"), 4,
                           {}};
  std::vector<char> more;
  caf::binary_serializer out{app.system(), more};
  REQUIRE_FALSE(out(snapshot));
  entity_snapshot back;
  caf::binary_deserializer in{app.system(), more};
  REQUIRE_FALSE(in(back));
  auto copy = entity_ref<bank::account>::copy_of(back);
  REQUIRE(copy.ok());
  CHECK(copy->id == snapshot.id);
  CHECK(copy->version == 4);
  CHECK(copy->state.owner == "ada");
  CHECK(copy->state.balance == 9);

  // An answer that carries a command's events instead of the state.
  entity_snapshot with_events{snapshot.id, 5, {}, 5,
                              {encode(bank::account::event{bank::deposited{6}})}};
  std::vector<char> evented;
  caf::binary_serializer to{app.system(), evented};
  REQUIRE_FALSE(to(with_events));
  entity_snapshot evented_back;
  caf::binary_deserializer from{app.system(), evented};
  REQUIRE_FALSE(from(evented_back));
  CHECK_FALSE(evented_back.carries_state());
  auto moved = entity_ref<bank::account>::copy_of(evented_back, &copy.value());
  REQUIRE(moved.ok());
  CHECK(moved->version == 5);
  CHECK(moved->state.balance == 15);
}

TEST_CASE("a command sent with answer_with_events is answered with its events, which "
          "bring the sender's copy forward, and the state when the copy may be "
          "anywhere",
          "[actors]") {
  auto store = rocksdb_in_memory();
  application app{store};
  auto accounts = app.entities<bank::account>();
  auto ada = accounts.create(bank::open{"ada"});
  accounts.execute(ada, bank::deposit{10});
  auto ref = app.ref<bank::account>(ada.id);
  caf::scoped_actor self{app.system()};
  auto send = [&](command_envelope envelope) {
    std::optional<entity_snapshot> answer;
    ref.execute(self.ptr(), std::move(envelope))
      .receive([&](entity_snapshot& snapshot) { answer = std::move(snapshot); },
               [&](caf::error& err) { FAIL(to_string(to_failure(err))); });
    REQUIRE(answer);
    return std::move(*answer);
  };
  auto ask = [&](bank::account::command command, std::uint64_t expected, uuid id = {}) {
    command_envelope envelope{encode_command(command), expected, id};
    envelope.answer_with_events = true;
    return send(std::move(envelope));
  };

  auto answer = ask(bank::withdraw{3}, ada.version);
  CHECK_FALSE(answer.carries_state());
  CHECK(answer.state.payload.empty());
  REQUIRE(answer.events.size() == 1);
  CHECK(answer.events[0].type == "bank.withdrawn");
  CHECK(answer.version == 3);
  CHECK(answer.command_version == 3);
  auto moved = entity_ref<bank::account>::copy_of(answer, &ada);
  REQUIRE(moved.ok());
  CHECK(moved->version == 3);
  CHECK(moved->state.balance == 7);
  CHECK(moved->state.owner == "ada");
  // Without the copy it started from (or with one at another version), the
  // events cannot be applied: a clear error, not a wrong state.
  auto alone = entity_ref<bank::account>::copy_of(answer);
  REQUIRE_FALSE(alone.ok());
  CHECK(alone.error().code == ec::invalid_argument);
  CHECK(entity_ref<bank::account>::copy_of(answer, &moved.value()).error().code
        == ec::invalid_argument);

  // any_version: the sender's copy may be at any version, so the state.
  auto unversioned = ask(bank::deposit{1}, any_version);
  CHECK(unversioned.carries_state());
  CHECK(unversioned.events.empty());
  CHECK(entity_ref<bank::account>::copy_of(unversioned)->state.balance == 8);

  // A repeated command id: nothing applied, the current state.
  auto id = uuid::random();
  auto first = ask(bank::deposit{2}, 4, id);
  CHECK_FALSE(first.carries_state());
  auto again = ask(bank::deposit{2}, 4, id);
  CHECK(again.carries_state());
  CHECK(again.command_version == 5);
  CHECK(entity_ref<bank::account>::copy_of(again)->state.balance == 10);

  // Without the flag: the state, as before.
  auto plain = send(command_envelope{encode_command(bank::account::command{bank::deposit{1}}),
                                     5});
  CHECK(plain.carries_state());
  CHECK(entity_ref<bank::account>::copy_of(plain)->state.balance == 11);

  // The synchronous API asks for events and keeps its copies right.
  auto mine = accounts.get(ada.id);
  accounts.execute(mine, bank::withdraw{4});
  CHECK(mine.version == 7);
  CHECK(mine.state.balance == 7);
  CHECK(accounts.get(ada.id).state.balance == 7);
}

TEST_CASE("two applications over one store: the store refuses the stale one",
          "[actors]") {
  auto store = rocksdb_in_memory();
  application first{store};
  application second{store};
  auto in_first = first.entities<example::entity>();
  auto in_second = second.entities<example::entity>();
  auto a = in_first.create(example::create{"bar1"});
  auto b = in_second.get(a.id); // second's entity actor now holds version 1
  in_first.execute(a, example::change_foo{"bar2"});

  // second's actor still believes version 1, so only the store can refuse.
  auto conflict = failure_of([&] { in_second.execute(b, example::change_foo{"bar3"}); });
  CHECK(conflict.code == ec::conflict);
  CHECK(conflict.expected_version == 1);
  CHECK(conflict.actual_version == 2);
  CHECK(store->read(a.id)->size() == 2);

  // Having reloaded, second's actor serves the current state...
  auto refreshed = in_second.get(a.id);
  CHECK(refreshed.version == 2);
  CHECK(refreshed.state.foo == "bar2");
  in_second.execute(refreshed, example::change_foo{"bar3"});
  // ...and a command without an expected version catches up by itself.
  auto latest = in_first.execute(a.id, example::change_foo{"bar4"});
  CHECK(latest.version == 4);
  auto history = *store->read(a.id);
  REQUIRE(history.size() == 4);
  for (std::uint64_t v = 1; v <= 4; ++v)
    CHECK(history[v - 1].version == v);
}

TEST_CASE("unversioned commands from two applications all land: jittered backoff "
          "within a budget",
          "[actors]") {
  auto store = rocksdb_in_memory();
  application first{store};
  application second{store};
  auto id = first.entities<bank::account>().create(bank::open{"ada"}).id;
  constexpr int threads = 8;
  constexpr int per_thread = 250; // 2,000 increments in all
  std::atomic<int> failed{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      auto accounts = (t % 2 == 0 ? first : second).entities<bank::account>();
      for (int i = 0; i < per_thread; ++i) {
        try {
          accounts.execute(id, bank::deposit{1});
        } catch (const cafes_error&) {
          ++failed;
        }
      }
    });
  for (auto& worker : workers)
    worker.join();
  CHECK(failed == 0);
  auto history = store->read(id);
  REQUIRE(history.ok());
  CHECK(history->size() == 1 + threads * per_thread);
  // A fresh application folds the store (each application's actor knows
  // only its own writes until it meets a conflict).
  application third{store};
  CHECK(third.entities<bank::account>().get(id).state.balance == threads * per_thread);
}

TEST_CASE("an unversioned command whose retry budget runs out says so", "[actors]") {
  auto store = rocksdb_in_memory();
  application_config config;
  config.unversioned_retry.attempts = 1;
  application first{store, config};
  application second{store, config};
  auto id = first.entities<bank::account>().create(bank::open{"ada"}).id;
  auto in_first = first.entities<bank::account>();
  auto in_second = second.entities<bank::account>();
  in_second.get(id); // second's actor holds version 1
  in_first.execute(id, bank::deposit{1}); // the store moves to 2 behind it
  auto gave_up = failure_of([&] { in_second.execute(id, bank::deposit{1}); });
  CHECK(gave_up.code == ec::conflict);
  CHECK_THAT(gave_up.message, Catch::Contains("retries exhausted")
                                && Catch::Contains("without an expected version")
                                && Catch::Contains("1 attempts"));
  CHECK(store->read(id)->size() == 2);
  // Reloaded, the next one lands.
  CHECK(in_second.execute(id, bank::deposit{1}).version == 3);
}

TEST_CASE("entity actors replay the store after a restart", "[actors]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  entity_id id;
  {
    application app{std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))}};
    auto accounts = app.entities<bank::account>();
    auto account = accounts.create(bank::open{"ada"});
    accounts.execute(account, bank::deposit{500});
    accounts.execute(account, bank::withdraw{120});
    id = account.id;
  }
  application app{std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))}};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.get(id);
  CHECK(account.version == 3);
  CHECK(account.state.owner == "ada");
  CHECK(account.state.balance == 380);
  accounts.execute(account, bank::withdraw{380});
  CHECK(account.state.balance == 0);
}

TEST_CASE("an unknown entity is a clear not-found error", "[actors][bad-input]") {
  application app{std::make_shared<memory_store>()};
  auto examples = app.entities<example::entity>();
  auto unknown = uuid::random();
  auto on_get = failure_of([&] { examples.get(unknown); });
  CHECK(on_get.code == ec::not_found);
  CHECK_THAT(on_get.message, Catch::Contains(to_string(unknown)));
  auto on_change = failure_of([&] { examples.execute(unknown, example::change_foo{"x"}); });
  CHECK(on_change.code == ec::not_found);
  CHECK(*app.store()->head(unknown) == 0);
}

TEST_CASE("creating an existing id is a conflict", "[actors]") {
  application app{std::make_shared<memory_store>()};
  auto examples = app.entities<example::entity>();
  auto a = examples.create(example::create{"bar1"});
  auto again = failure_of([&] { examples.create(a.id, example::create{"other"}); });
  CHECK(again.code == ec::conflict);
  CHECK(again.actual_version == 1);
  CHECK(examples.get(a.id).state.foo == "bar1");
}

TEST_CASE("a domain rejection is reported and writes nothing", "[actors]") {
  application app{std::make_shared<memory_store>()};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{"ada"});
  accounts.execute(account, bank::deposit{10});
  auto refusal = failure_of([&] { accounts.execute(account, bank::withdraw{11}); });
  CHECK(refusal.code == ec::rejected);
  CHECK_THAT(refusal.message, Catch::Contains("insufficient funds"));
  CHECK(account.version == 2);
  CHECK(*app.store()->head(account.id) == 2);
  accounts.execute(account, bank::withdraw{10}); // the actor is still fine
  CHECK(account.state.balance == 0);
}

TEST_CASE("an undecodable stored event gives a decode error, not a crash",
          "[actors][bad-input]") {
  auto store = std::make_shared<memory_store>();
  auto id = uuid::random();
  auto opened = encode(bank::account::event{bank::opened{"ada"}});
  append_request request{id, 0, {make_event(opened.type, ""), make_event("bank.renamed", "?")}};
  request.events[0].payload = opened.payload;
  REQUIRE(store->append(request).ok());
  application app{store};
  auto accounts = app.entities<bank::account>();
  auto problem = failure_of([&] { accounts.get(id); });
  CHECK(problem.code == ec::decode_failure);
  CHECK_THAT(problem.message, Catch::Contains(to_string(id))
                                && Catch::Contains("version 2")
                                && Catch::Contains("bank.renamed"));
  // Commands are refused the same way; nothing is appended.
  auto on_command = failure_of([&] { accounts.execute(id, bank::deposit{1}); });
  CHECK(on_command.code == ec::decode_failure);
  CHECK(*store->head(id) == 2);
}

TEST_CASE("concurrent writers on one entity never lose an update", "[actors]") {
  application app{rocksdb_in_memory()};
  auto accounts = app.entities<bank::account>();
  auto id = accounts.create(bank::open{"ada"}).id;
  constexpr int writers = 4;
  constexpr int deposits = 25;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&] {
      for (int i = 0; i < deposits; ++i) {
        for (;;) { // optimistic read-modify-write
          auto copy = accounts.get(id);
          try {
            accounts.execute(copy, bank::deposit{1});
            break;
          } catch (const concurrency_error&) {
            ++conflicts;
          }
        }
      }
    });
  for (auto& t : threads)
    t.join();
  auto account = accounts.get(id);
  CHECK(account.state.balance == writers * deposits);
  CHECK(account.version == 1 + writers * deposits);
  CHECK(app.store()->read(id)->size() == account.version);
}

TEST_CASE("group commit: one conflicting append never fails its neighbours",
          "[actors][group-commit]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  application app{gate};
  auto storage = app.storage().front();
  auto busy = uuid::random();
  auto contested = uuid::random();
  REQUIRE(gate->append(make_append(contested, 0)).ok());
  caf::scoped_actor self{app.system()};

  // Hold the store thread on a first append so the next ones queue up.
  gate->close_gate();
  auto first = self->request(storage, caf::infinite, append_atom::value,
                             make_append(busy, 0));
  REQUIRE(gate->wait_for_waiting(1));
  std::vector<decltype(first)> queued;
  constexpr int fresh = 6;
  std::vector<entity_id> ids;
  for (int i = 0; i < fresh; ++i) {
    ids.push_back(uuid::random());
    queued.push_back(self->request(storage, caf::infinite, append_atom::value,
                                   make_append(ids.back(), 0)));
  }
  auto stale = self->request(storage, caf::infinite, append_atom::value,
                             make_append(contested, 0));
  auto current = self->request(storage, caf::infinite, append_atom::value,
                               make_append(contested, 1));
  gate->open_gate();

  int ok = 0;
  auto count_ok = [&](std::uint64_t version) { ok += version == 1 ? 1 : 0; };
  first.receive(count_ok, unexpected);
  for (auto& handle : queued)
    handle.receive(count_ok, unexpected);
  std::optional<failure> refused;
  stale.receive([&](std::uint64_t) { FAIL("stale append accepted"); },
                [&](caf::error& err) { refused = to_failure(err); });
  std::uint64_t contested_version = 0;
  current.receive([&](std::uint64_t version) { contested_version = version; },
                  unexpected);
  CHECK(ok == fresh + 1);
  REQUIRE(refused);
  CHECK(refused->code == ec::conflict);
  CHECK(refused->expected_version == 0);
  CHECK(refused->actual_version == 1); // it came before `current` in the batch
  CHECK(contested_version == 2);
  for (const auto& id : ids)
    CHECK(*gate->head(id) == 1);
  auto sizes = gate->batch_sizes();
  REQUIRE(sizes.size() == 2);
  CHECK(sizes[0] == 1);
  CHECK(sizes[1] == fresh + 2); // everything that queued went as one batch
}

TEST_CASE("a store that stops answering gives a timeout, not a hang",
          "[actors][bad-input]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  application_config config;
  config.request_timeout = 300ms;
  application app{gate, config};
  auto examples = app.entities<example::entity>();
  auto a = examples.create(example::create{"bar1"});
  gate->close_gate();
  auto problem = failure_of([&] { examples.execute(a, example::change_foo{"bar2"}); });
  CHECK(problem.code == ec::timeout);
  gate->open_gate();
  // The store is the truth: a late commit is seen after the actor reloads.
  auto after = examples.get(a.id);
  CHECK(after.version == *gate->head(a.id));
}

TEST_CASE("a store that fails to write gives a storage failure, and the entity "
          "recovers",
          "[actors][bad-input]") {
  // Through the storage actor, and appended directly by the entity actor.
  auto waits_for_device = GENERATE(true, false);
  CAPTURE(waits_for_device);
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>(), waits_for_device);
  application app{gate};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{"ada"});
  gate->fail_appends(true);
  auto problem = failure_of([&] { accounts.execute(account, bank::deposit{10}); });
  CHECK(problem.code == ec::storage_failure);
  CHECK_THAT(problem.message, Catch::Contains("disk full"));
  CHECK(account.version == 1); // the copy is untouched
  CHECK(*gate->head(account.id) == 1);
  CHECK(accounts.get(account.id).state.balance == 0); // the actor kept nothing
  gate->fail_appends(false);
  accounts.execute(account, bank::deposit{10});
  CHECK(account.version == 2);
  CHECK(accounts.get(account.id).state.balance == 10);
}

TEST_CASE("a full disk fails commands with a storage failure, then the application "
          "writes again once there is room and keeps every acknowledged event",
          "[actors][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  std::int64_t acknowledged = 0;
  entity_id id;
  {
    application app{std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))}};
    auto accounts = app.entities<bank::account>();
    auto account = accounts.create(bank::open{"ada"});
    id = account.id;
    std::optional<failure> refused;
    {
      file_size_limit limit{largest_file_size(options.path) + 16 * 1024};
      REQUIRE(limit.applied());
      for (int attempt = 0; attempt < 10'000 && !refused; ++attempt) {
        try {
          accounts.execute(account, bank::deposit{1});
          ++acknowledged;
        } catch (const cafes_error& e) {
          refused = e.details();
        }
      }
    }
    REQUIRE(refused.has_value());
    CHECK(refused->code == ec::storage_failure);
    CHECK(acknowledged > 0);
    CHECK(account.version == static_cast<std::uint64_t>(acknowledged) + 1);
    // Room again: the next command goes through without a restart.
    accounts.execute(account, bank::deposit{1});
    ++acknowledged;
    CHECK(accounts.get(id).state.balance == acknowledged);
  }
  application reopened{
    std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))}};
  auto after = reopened.entities<bank::account>().get(id);
  CHECK(after.state.balance == acknowledged);
  CHECK(after.version == static_cast<std::uint64_t>(acknowledged) + 1);
}

TEST_CASE("a failed sync reaches the caller as an unknown outcome, and the entity actor "
          "then follows the store",
          "[actors][bad-input]") {
  temp_dir dir;
  rocksdb_options options;
  options.path = dir.sub("db");
  options.sync = true;
  application app{std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))}};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{"ada"});
  std::optional<failure> outcome;
  {
    failing_sync failing;
    try {
      accounts.execute(account, bank::deposit{10});
    } catch (const concurrency_error&) {
      FAIL("an unknown outcome is not a conflict");
    } catch (const cafes_error& e) {
      outcome = e.details();
    }
  }
  REQUIRE(outcome.has_value());
  CHECK(outcome->code == ec::unknown_outcome);
  CHECK(account.version == 1); // the copy was not moved on a guess
  // What the caller does: read back. The deposit reached the log, so once
  // the store has reopened the entity shows it; an unversioned command
  // lands on top of it.
  auto after = accounts.execute(account.id, bank::deposit{5});
  CHECK(after.version == 3);
  CHECK(after.state.balance == 15);
}

TEST_CASE("idle entity actors passivate and come back with their state",
          "[actors][passivation]") {
  application_config config;
  config.idle_timeout = 20ms;
  application app{rocksdb_in_memory(), config};
  auto accounts = app.entities<bank::account>();
  std::vector<copy<bank::account>> copies;
  for (int i = 0; i < 20; ++i)
    copies.push_back(accounts.create(bank::open{"owner " + std::to_string(i)}));
  for (int round = 1; round <= 3; ++round) {
    std::this_thread::sleep_for(100ms); // every actor idles past the timeout
    for (auto& c : copies)
      accounts.execute(c, bank::deposit{round});
  }
  auto stats = app.stats();
  CHECK(stats.passivated >= 20);
  CHECK(stats.spawned > 20);
  for (auto& c : copies) {
    auto stored = accounts.get(c.id);
    CHECK(stored.version == 4);
    CHECK(stored.state.balance == 6);
  }
}

TEST_CASE("an id without history leaves no entity actor behind",
          "[actors][passivation]") {
  // Idle passivation is off (the default): only the missing history stops
  // these actors. Without that, every unknown id stayed resident for ever.
  application app{rocksdb_in_memory()};
  auto accounts = app.entities<bank::account>();
  constexpr int unknown = 2000;
  for (int i = 0; i < unknown; ++i) {
    auto answer = accounts.try_get(uuid::random());
    REQUIRE_FALSE(answer);
    CHECK(answer.error().code == ec::not_found);
  }
  // A refused create (no state would make it valid) keeps none either.
  auto refused = accounts.try_execute(uuid::random(), bank::deposit{5});
  REQUIRE_FALSE(refused);
  auto kept = accounts.create(bank::open{"ada"});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (app.stats().resident > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  auto stats = app.stats();
  CHECK(stats.resident == 1); // the account with a history stays
  CHECK(stats.passivated == unknown + 1);
  // A passivated unknown id answers as before, and can be created later.
  auto later = uuid::random();
  CHECK(accounts.try_get(later).error().code == ec::not_found);
  auto created = accounts.execute(later, bank::open{"bob"});
  CHECK(created.version == 1);
  CHECK(accounts.get(later).state.owner == "bob");
  CHECK(accounts.get(kept.id).version == 1);
}

TEST_CASE("errors render with their names and context", "[actors]") {
  caf::actor_system_config cfg;
  add_error_category(cfg);
  caf::actor_system sys{cfg};
  auto id = uuid::random();
  auto text = sys.render(to_caf_error(failure::conflict(id, 3, 5)));
  CHECK_THAT(text, Catch::Contains("conflict") && Catch::Contains(to_string(id))
                     && Catch::Contains("version 5"));
  auto back = to_failure(to_caf_error(failure::conflict(id, 3, 5)));
  CHECK(back.code == ec::conflict);
  CHECK(back.expected_version == 3);
  CHECK(back.actual_version == 5);
  CHECK(to_failure(caf::make_error(caf::sec::request_timeout)).code == ec::timeout);
  CHECK(to_failure(caf::make_error(caf::sec::request_receiver_down)).code == ec::closing);
  CHECK_THAT(sys.render(to_caf_error(failure::make(ec::closing, "the application is closing"))),
             Catch::Contains("closing"));
}

namespace {

struct outcomes {
  std::mutex mutex;
  std::vector<std::pair<entity_id, failure>> answers; // code none = acknowledged
};

/// Sends foo = bar2 at version 1 to every entity and records each answer.
void change_all(caf::event_based_actor* self, registry_actor registry,
                std::vector<entity_id> ids, std::shared_ptr<outcomes> seen) {
  for (const auto& id : ids) {
    command_envelope change{encode_command(example::entity::command{example::change_foo{"bar2"}}),
                            1};
    auto record = [=](failure f) {
      std::lock_guard guard{seen->mutex};
      seen->answers.emplace_back(id, std::move(f));
    };
    self->request(registry, caf::infinite, execute_atom::value, id, std::move(change))
      .then([=](entity_snapshot&) { record(failure{}); },
            [=](caf::error& err) { record(to_failure(err)); });
  }
}

} // namespace

TEST_CASE("closing the application answers every command and loses no "
          "acknowledged event",
          "[actors][shutdown]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  auto app = std::make_unique<application>(gate);
  auto examples = app->entities<example::entity>();
  std::vector<entity_id> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(examples.create(example::create{"bar1"}).id);

  auto seen = std::make_shared<outcomes>();
  gate->close_gate();
  app->system().spawn(change_all, app->registries<example::entity>().front(), ids, seen);
  REQUIRE(gate->wait_for_waiting(1)); // at least one append is held in the store
  // CAF 0.17 hangs when an actor system is destroyed on another thread than
  // the one that made it: close here, and open the gate from a helper.
  std::thread opener{[&] {
    std::this_thread::sleep_for(50ms); // let the close begin while appends wait
    gate->open_gate();
  }};
  app.reset();
  opener.join();

  REQUIRE(seen->answers.size() == ids.size()); // nobody is left without an answer
  int acknowledged = 0;
  for (const auto& [id, outcome] : seen->answers) {
    INFO(to_string(outcome));
    auto head = *gate->head(id);
    if (outcome.code == ec::none) {
      ++acknowledged;
      CHECK(head == 2); // acknowledged means stored
    } else {
      // Refused because the application was closing: nothing was written.
      CHECK(outcome.code == ec::closing);
      CHECK(head == 1);
    }
  }
  CHECK(acknowledged >= 1); // the append held at the gate completed
}

TEST_CASE("an entity actor appends directly when its store does not wait for a "
          "device and its shard is idle, and through the storage actor otherwise",
          "[actors][direct-appends]") {
  struct expectation {
    bool waits_for_device;
    bool allow_direct;
    bool direct;
  };
  auto [waits_for_device, allow_direct, direct]
    = GENERATE(expectation{false, true, true}, expectation{true, true, false},
               expectation{false, false, false});
  CAPTURE(waits_for_device, allow_direct);
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>(), waits_for_device);
  application_config config;
  config.allow_direct_appends = allow_direct;
  application app{gate, config};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{"ada"});
  accounts.execute(account, bank::deposit{5});
  auto stale = account;
  accounts.execute(account, bank::deposit{7});
  CHECK(failure_of([&] { accounts.execute(stale, bank::deposit{1}); }).code
        == ec::conflict);
  CHECK(account.version == 3);
  CHECK(accounts.get(account.id).state.balance == 12);
  CHECK(gate->single_appends() == (direct ? 3 : 0));
  CHECK(gate->batch_sizes().size() == (direct ? 0u : 3u));
}

TEST_CASE("while a direct append runs, the shard's other appends go to the "
          "storage actor, and once all are answered appends are direct again",
          "[actors][direct-appends]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>(), false);
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::cafes>();
  add_error_category(cfg);
  cfg.set("scheduler.max-threads", 4); // one is held in the store below
  caf::actor_system system{cfg};
  auto direct = std::make_shared<direct_appends>(gate);
  storage_actor_options options;
  options.direct = direct;
  auto storage = spawn_storage_actor(system, gate, options);
  auto registry = spawn_registry(system, erase<example::entity>(),
                                 {storage_shard{storage, direct}}, {});
  // Ends both actors however the test ends: the system waits for them.
  struct stop_on_exit {
    registry_actor registry;
    storage_actor storage;
    ~stop_on_exit() {
      caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(storage, caf::exit_reason::user_shutdown);
    }
  } stopper{registry, storage};
  caf::scoped_actor self{system};
  auto run = [&](const entity_id& id, std::uint64_t expected) {
    return request_example(self, registry, id, expected);
  };
  std::vector<entity_id> ids(5);
  for (auto& id : ids) {
    id = uuid::random();
    run(id, 0).receive(expect_version(1), unexpected);
  }
  REQUIRE(gate->single_appends() == 5); // one at a time: every one direct
  REQUIRE(gate->batch_sizes().empty());

  gate->close_gate();
  auto held_direct = run(ids[0], 1);
  REQUIRE(gate->wait_for_waiting(1)); // on a scheduler thread, in the store
  auto held_batch = run(ids[1], 1);
  REQUIRE(gate->wait_for_waiting(2)); // on the storage actor's thread, in the store
  std::vector<decltype(held_batch)> queued;
  for (std::size_t i = 2; i < ids.size(); ++i)
    queued.push_back(run(ids[i], 1));
  // Counted in before they are sent: 1 direct + 1 held + 3 queued.
  for (int polls = 0; direct->pending() < 5 && polls < 10'000; ++polls)
    std::this_thread::sleep_for(1ms);
  REQUIRE(direct->pending() == 5);
  gate->open_gate();
  held_direct.receive(expect_version(2), unexpected);
  held_batch.receive(expect_version(2), unexpected);
  for (auto& handle : queued)
    handle.receive(expect_version(2), unexpected);
  CHECK(gate->single_appends() == 6);
  auto sizes = gate->batch_sizes();
  REQUIRE(!sizes.empty());
  CHECK(sizes.front() == 1);
  CHECK(std::accumulate(sizes.begin(), sizes.end(), std::size_t{0}) == 4);
  CHECK(direct->pending() == 0);
  run(ids[0], 2).receive(expect_version(3), unexpected);
  CHECK(gate->single_appends() == 7); // the shard is idle again: direct
  for (const auto& id : ids)
    CHECK(*gate->head(id) == (id == ids[0] ? 3u : 2u));
}

TEST_CASE("requests that queued up while an entity appended are decided together "
          "and go to the storage actor as one append",
          "[actors][direct-appends]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>(), false);
  application_config config;
  config.scheduler_threads = 4; // one is held in the store below
  application app{gate, config};
  const auto& registries = app.registries<example::entity>();
  auto id = uuid::random();
  const auto& registry = registries[shard_of(id, registries.size())];
  caf::scoped_actor self{app.system()};
  auto run = [&](std::uint64_t expected) { return request_example(self, registry, id, expected); };
  run(0).receive(expect_version(1), unexpected);

  gate->close_gate();
  auto first = run(1);
  REQUIRE(gate->wait_for_waiting(1)); // the entity actor is in the store, appending
  std::vector<decltype(first)> queued;
  for (std::uint64_t expected = 2; expected <= 4; ++expected)
    queued.push_back(run(expected));
  // The registry answers in order: once it has, it has handed all three to
  // the entity actor's mailbox.
  self->request(registry, caf::infinite, stats_atom::value)
    .receive([](const registry_stats&) {}, unexpected);
  gate->open_gate();
  first.receive(expect_version(2), unexpected);
  for (std::uint64_t i = 0; i < queued.size(); ++i)
    queued[i].receive(expect_version(3 + i), unexpected);
  CHECK(gate->single_appends() == 2); // the create and the first change
  CHECK(gate->batch_sizes() == std::vector<std::size_t>{1}); // one append, 3 events
  CHECK(*gate->head(id) == 5);
}

TEST_CASE("events carry their command's id, correlation and causation", "[actors][metadata]") {
  auto store = std::make_shared<memory_store>();
  application app{store};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{"ada"}); // no ids given
  auto command = uuid::random();
  auto correlation = uuid::random();
  auto cause = uuid::random();
  accounts.execute(account, bank::deposit{5}, {command, correlation, cause});
  auto own = uuid::random();
  accounts.execute(account, bank::deposit{7}, {own, {}, {}});
  auto events = *store->read(account.id);
  REQUIRE(events.size() == 3);
  CHECK(events[0].command_id.is_nil());
  CHECK(events[0].correlation_id.is_nil());
  CHECK(events[0].causation_id.is_nil());
  CHECK(events[1].command_id == command);
  CHECK(events[1].correlation_id == correlation);
  CHECK(events[1].causation_id == cause);
  // A command from outside starts its conversation and causes itself.
  CHECK(events[2].command_id == own);
  CHECK(events[2].correlation_id == own);
  CHECK(events[2].causation_id == own);
  // The global log has the same records, with the aggregate's name.
  auto log = *store->read_all(0, 10, {{std::string{bank::account::name}}, {}});
  REQUIRE(log.events.size() == 3);
  CHECK(log.events[1] == events[1]);
  CHECK(store->read_all(0, 10, {{"no.such.aggregate"}, {}})->events.empty());
}

TEST_CASE("a command with an id is applied once, however often and however stale it "
          "is sent again, and the answer says the version it got",
          "[actors][idempotency]") {
  auto waits_for_device = GENERATE(false, true); // direct appends, storage actor
  CAPTURE(waits_for_device);
  auto store = std::make_shared<gated_store>(std::make_shared<memory_store>(), waits_for_device);
  application app{store};
  auto accounts = app.entities<bank::account>();
  auto account = accounts.create(bank::open{"ada"});
  auto stale = account;
  auto once = command_ids{uuid::random(), {}, {}};
  accounts.execute(account, bank::deposit{10}, once);
  CHECK(account.version == 2);
  CHECK(account.command_version == 2);
  accounts.execute(account, bank::deposit{1});
  // Again, from a stale copy (no conflict: it was applied) and unversioned.
  accounts.execute(stale, bank::deposit{10}, once);
  CHECK(stale.command_version == 2);
  CHECK(stale.version == 3); // the current state
  CHECK(stale.state.balance == 11);
  auto again = accounts.execute(account.id, bank::deposit{10}, once);
  CHECK(again.command_version == 2);
  CHECK(again.state.balance == 11);
  // A fresh application (a restart) knows it from the history.
  application restarted{store};
  auto later = restarted.entities<bank::account>().execute(account.id, bank::deposit{10}, once);
  CHECK(later.command_version == 2);
  CHECK(later.state.balance == 11);
  CHECK(*store->head(account.id) == 3);
}

TEST_CASE("one command sent 100 times at once from two applications over one store is "
          "stored once, and every sender gets the same version",
          "[actors][idempotency][concurrency]") {
  auto store = rocksdb_in_memory();
  application first{store};
  application second{store};
  auto id = first.entities<bank::account>().create(bank::open{"ada"}).id;
  auto command = command_ids{uuid::random(), {}, {}};
  std::vector<std::uint64_t> answers(100, 0);
  std::vector<std::thread> senders;
  constexpr std::size_t threads = 10;
  for (std::size_t t = 0; t < threads; ++t)
    senders.emplace_back([&, t] {
      auto& app = t % 2 == 0 ? first : second;
      auto accounts = app.entities<bank::account>();
      for (std::size_t i = t; i < answers.size(); i += threads) {
        if (i % 3 == 0) // some with the version they saw, some without
          accounts.execute(id, bank::deposit{1});
        auto copy = accounts.get(id);
        try {
          if (i % 2 == 0)
            accounts.execute(copy, bank::deposit{100}, command);
          else
            copy = accounts.execute(id, bank::deposit{100}, command);
          answers[i] = copy.command_version;
        } catch (const concurrency_error&) {
          // A versioned copy met another writer first and the command was
          // not applied yet: that sender tries again, unversioned.
          answers[i] = accounts.execute(id, bank::deposit{100}, command).command_version;
        }
      }
    });
  for (auto& sender : senders)
    sender.join();
  auto history = *store->read(id);
  int copies = 0;
  std::uint64_t stored_at = 0;
  std::int64_t total = 0;
  for (const auto& event : history) {
    if (event.command_id == command.command) {
      ++copies;
      stored_at = event.version;
    }
  }
  CHECK(copies == 1);
  for (auto answer : answers)
    CHECK(answer == stored_at);
  // Read through a fresh application: the two above each hold their own
  // actor for the entity, which learns of the other's writes only when it
  // meets them.
  application fresh{store};
  auto account = fresh.entities<bank::account>().get(id);
  for (std::size_t i = 0; i < answers.size(); i += 3)
    total += 1; // the plain deposits of 1
  CHECK(account.state.balance == 100 + total);
  CHECK(account.version == history.size());
}

TEST_CASE("a closing registry refuses new requests and waits for held commands",
          "[actors][shutdown]") {
  auto gate = std::make_shared<gated_store>(std::make_shared<memory_store>());
  caf::actor_system_config cfg;
  cfg.add_message_types<caf::id_block::cafes>();
  add_error_category(cfg);
  caf::actor_system system{cfg};
  auto storage = spawn_storage_actor(system, gate);
  auto registry = spawn_registry(system, erase<example::entity>(), {storage}, {});
  caf::scoped_actor self{system};
  auto id = uuid::random();
  request_example(self, registry, id, 0).receive(expect_version(1), unexpected);

  gate->close_gate();
  auto held = request_example(self, registry, id, 1, "bar2");
  REQUIRE(gate->wait_for_waiting(1)); // the append is in the store, not yet answered
  self->send_exit(registry, caf::exit_reason::user_shutdown);
  std::optional<failure> refused;
  self->request(registry, caf::infinite, caf::get_atom::value, id)
    .receive([](entity_snapshot&) { FAIL("a closing registry served a request"); },
             [&](caf::error& err) { refused = to_failure(err); });
  REQUIRE(refused);
  CHECK(refused->code == ec::closing);
  CHECK_THAT(refused->message, Catch::Contains("closing"));

  gate->open_gate();
  held.receive(expect_version(2), unexpected);
  self->wait_for(registry); // ends once its entity actor has ended
  CHECK(*gate->head(id) == 2);
  self->send_exit(storage, caf::exit_reason::user_shutdown);
}

TEST_CASE("an application refuses a thread count CAF refuses or that is absurd",
          "[actors][bad-input]") {
  auto store = std::make_shared<memory_store>();
  auto refusal = [&](application_config config) {
    return failure_of([&] { application app{store, config}; });
  };
  application_config threads;
  threads.scheduler_threads = max_application_threads + 1;
  auto problem = refusal(threads);
  CHECK(problem.code == ec::invalid_argument);
  CHECK_THAT(problem.message, Catch::Contains("scheduler_threads"));
  // CAF keeps options as int64: it refuses this one, and used to only print.
  threads.scheduler_threads = SIZE_MAX;
  CHECK(refusal(threads).code == ec::invalid_argument);
  application_config shards;
  shards.storage_shards = max_application_threads + 1;
  CHECK(refusal(shards).code == ec::invalid_argument);
  application_config polls;
  polls.poll_attempts = SIZE_MAX; // only CAF's refusal catches this one
  problem = refusal(polls);
  CHECK(problem.code == ec::invalid_argument);
  CHECK_THAT(problem.message, Catch::Contains("work-stealing"));
  application_config fine;
  fine.scheduler_threads = 2;
  application app{store, fine};
  CHECK(app.entities<bank::account>().create(bank::open{"ada"}).version == 1);
}
