// The etcd store beyond the shared contract: etcd's limits, many writers in
// many stores and processes over one cluster, and the faults of a real
// 3-member cluster (a member killed, the leader killed mid-stream, two of
// three killed, a member frozen). The fault tests start clusters of their
// own (scripts/etcd-cluster.sh, other ports) and stop them at the end.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <caf/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes_samples/bank_account.hpp"
#include "child_process.hpp"
#include "etcd_fixture.hpp"
#include "store_fixtures.hpp"
#include "temp_dir.hpp"

using namespace cafes;
using namespace cafes::testing;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// A 3-member cluster of the test's own (ports `port`..`port`+2, peers
/// +10), started by the script and stopped at the end.
class own_cluster {
public:
  /// `environment`: more variables for the script ("NAME=value ...").
  explicit own_cluster(int port, std::string environment = {})
    : port_(port), environment_(std::move(environment)) {
    auto out = script("start");
    INFO(out);
    REQUIRE(out.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
  }
  ~own_cluster() { script("stop"); }
  own_cluster(const own_cluster&) = delete;
  own_cluster& operator=(const own_cluster&) = delete;

  /// Runs `scripts/etcd-cluster.sh command` for this cluster; returns what
  /// it printed (stdout and stderr).
  std::string script(const std::string& command) {
    auto line = environment_ + " CAFES_ETCD_DIR=" + dir_.sub("etcd") + " CAFES_ETCD_PORT="
                + std::to_string(port_) + " " + CAFES_ETCD_CLUSTER_SCRIPT + " " + command
                + " 2>&1";
    std::string out;
    if (auto* pipe = ::popen(line.c_str(), "r")) {
      char buffer[512];
      while (auto n = std::fread(buffer, 1, sizeof buffer, pipe))
        out.append(buffer, n);
      last_status_ = ::pclose(pipe);
    }
    return out;
  }

  bool last_ok() const { return last_status_ == 0; }

  /// The member that leads now (1..3).
  int leader() {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto out = script("leader");
      if (last_ok())
        return std::stoi(out);
      std::this_thread::sleep_for(100ms);
    }
    FAIL("no member of the cluster leads");
    return 0;
  }

  std::vector<std::string> endpoints() const {
    return {"127.0.0.1:" + std::to_string(port_), "127.0.0.1:" + std::to_string(port_ + 1),
            "127.0.0.1:" + std::to_string(port_ + 2)};
  }

  std::string endpoint(int member) const {
    return "127.0.0.1:" + std::to_string(port_ + member - 1);
  }

  /// A file of the cluster's directory (the script's TLS files: "tls/...").
  std::string file(const std::string& name) const { return dir_.sub("etcd/" + name); }

private:
  int port_;
  std::string environment_;
  temp_dir dir_;
  int last_status_ = -1;
};

/// Returns `endpoints` as cafes-stress's --endpoints takes them.
std::string endpoint_list(const std::vector<std::string>& endpoints) {
  std::string list;
  for (const auto& endpoint : endpoints)
    list += (list.empty() ? "" : ",") + endpoint;
  return list;
}

/// Runs cafes-stress with `arguments` and checks that it exits 0 with its
/// verification passed.
void stress_passes(std::vector<std::string> arguments) {
  temp_dir dir;
  arguments.insert(arguments.begin(), CAFES_STRESS_PATH);
  arguments.insert(arguments.end(), {"--progress", "none"});
  child_process stress{arguments, {child_process::watch::out, dir.sub("err"), std::nullopt}};
  auto status = stress.wait();
  INFO(stress.text());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::regex_search(stress.text(), std::regex{"\nverification +passed\n"}));
}

/// What the writers of a fault test learned about their appends.
struct ledger {
  std::mutex mutex;
  /// Acknowledged: event id -> (entity, version).
  std::map<uuid, std::pair<entity_id, std::uint64_t>> acknowledged;
  /// Answered ec::unknown_outcome: may or may not be stored.
  std::set<uuid> unknown;
  std::map<ec, std::uint64_t> errors;
  std::vector<double> gaps_ms; // between consecutive acknowledgements, all writers
  steady::time_point last_ack = steady::now();
  std::uint64_t conflicts = 0;
};

/// Appends to `entities` from `threads` threads until `stop`, each at the
/// version it last saw, one event with a command id each; records every
/// outcome in `book`.
std::vector<std::thread> start_writers(event_store& store, const std::vector<entity_id>& entities,
                                       int threads, std::atomic<bool>& stop, ledger& book) {
  std::vector<std::thread> out;
  for (int t = 0; t < threads; ++t)
    out.emplace_back([&, t] {
      std::map<entity_id, std::uint64_t> known;
      std::size_t next = static_cast<std::size_t>(t);
      while (!stop.load()) {
        const auto& entity = entities[next++ % entities.size()];
        auto request = make_append(entity, known[entity]);
        request.events[0].command_id = uuid::random();
        auto id = request.events[0].id;
        auto appended = store.append(request);
        std::lock_guard guard{book.mutex};
        if (appended) {
          known[entity] = *appended;
          book.acknowledged[id] = {entity, *appended};
          auto now = steady::now();
          book.gaps_ms.push_back(
            std::chrono::duration<double, std::milli>(now - book.last_ack).count());
          book.last_ack = now;
        } else if (appended.error().code == ec::conflict) {
          known[entity] = appended.error().actual_version;
          ++book.conflicts;
        } else {
          ++book.errors[appended.error().code];
          if (appended.error().code == ec::unknown_outcome)
            book.unknown.insert(id);
          known.erase(entity); // read the head again next time
          auto head = store.head(entity);
          if (head)
            known[entity] = *head;
        }
      }
    });
  return out;
}

/// Writers of a fault test over `store`: started at once, stopped by
/// `finish` (or the destructor).
class writers_running {
public:
  writers_running(event_store& store, std::vector<entity_id> entities, int threads)
    : entities_(std::move(entities)) {
    threads_ = start_writers(store, entities_, threads, stop_, book);
  }
  ~writers_running() { finish(); }

  std::size_t acknowledged() {
    std::lock_guard guard{book.mutex};
    return book.acknowledged.size();
  }

  /// Waits until `count` appends are acknowledged (a minute at most: a
  /// bound against a hang).
  void wait_for(std::size_t count) {
    auto give_up = steady::now() + 60s;
    while (acknowledged() < count && steady::now() < give_up)
      std::this_thread::sleep_for(10ms);
    REQUIRE(acknowledged() >= count);
  }

  void finish() {
    stop_ = true;
    for (auto& thread : threads_)
      if (thread.joinable())
        thread.join();
  }

  const std::vector<entity_id>& entities() const { return entities_; }

  ledger book;

private:
  std::vector<entity_id> entities_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

/// Reads the whole store back and checks it: the global log 1..N without a
/// gap, each entry the event stored at its entity and version; each
/// entity's versions 1..n; event ids unique; every acknowledged append
/// stored once at its version; stored events are acknowledged or had an
/// unknown outcome. Returns N.
std::uint64_t verify_store(event_store& store, const ledger& book,
                           const std::vector<entity_id>& entities) {
  std::set<uuid> ids;
  std::uint64_t position = 0;
  for (;;) {
    auto page = store.read_all(position, 4'096);
    REQUIRE(page.ok());
    if (page->events.empty())
      break;
    for (const auto& event : page->events) {
      REQUIRE(event.position == position + 1);
      position = event.position;
      CHECK(ids.insert(event.id).second);
      auto ack = book.acknowledged.find(event.id);
      if (ack == book.acknowledged.end()) {
        INFO("an event nobody was told about, nor told 'unknown': " << to_string(event.id));
        CHECK(book.unknown.count(event.id) == 1);
      } else {
        CHECK(ack->second.first == event.entity);
        CHECK(ack->second.second == event.version);
      }
    }
  }
  CHECK(*store.last_position() == position);
  std::uint64_t events = 0;
  for (const auto& entity : entities) {
    auto history = store.read(entity);
    REQUIRE(history.ok());
    for (std::size_t i = 0; i < history->size(); ++i)
      REQUIRE((*history)[i].version == i + 1);
    events += history->size();
  }
  CHECK(events == position);
  for (const auto& [id, where] : book.acknowledged)
    CHECK(ids.count(id) == 1);
  return position;
}

std::vector<entity_id> some_entities(std::size_t count) {
  std::vector<entity_id> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(uuid::random());
  return out;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

/// A TCP proxy in front of one etcd member that can lose an answer: once
/// armed, the first HTTP/2 frame of a call's answer (HEADERS or DATA on a
/// stream) that the member sends back is dropped and both connections
/// closed, so the client never learns that its call went through (what a
/// member dying right after it committed looks like). Frames of the
/// connection itself (SETTINGS, PING, WINDOW_UPDATE) pass.
class answer_losing_proxy {
public:
  explicit answer_losing_proxy(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener_, 16) == 0);
    socklen_t size = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread{[this] { accept_loop(); }};
  }
  ~answer_losing_proxy() {
    stop_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    for (auto& pipe : pipes_)
      pipe.join();
  }

  int port() const { return port_; }
  void arm() { armed_ = true; }
  int answers_lost() const { return lost_; }

private:
  void accept_loop() {
    while (!stop_) {
      int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0)
        return;
      int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      address.sin_port = htons(static_cast<std::uint16_t>(target_port_));
      if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      pipes_.emplace_back([this, client, server] { relay(client, server); });
    }
  }

  void relay(int client, int server) {
    char buffer[65536];
    std::string from_server; // bytes of frames not yet complete
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    bool open = true;
    while (!stop_ && open) {
      if (::poll(fds, 2, 100) <= 0)
        continue;
      if (fds[0].revents != 0) {
        auto n = ::read(client, buffer, sizeof buffer);
        if (n <= 0 || ::write(server, buffer, static_cast<std::size_t>(n)) != n)
          break;
      }
      if (fds[1].revents != 0) {
        auto n = ::read(server, buffer, sizeof buffer);
        if (n <= 0)
          break;
        from_server.append(buffer, static_cast<std::size_t>(n));
        // Whole frames: a 9-byte header (24-bit length, type, flags,
        // stream id), then the payload.
        while (from_server.size() >= 9) {
          auto byte = [&](std::size_t i) { return static_cast<unsigned char>(from_server[i]); };
          std::size_t length = (std::size_t{byte(0)} << 16) | (std::size_t{byte(1)} << 8) | byte(2);
          if (from_server.size() < 9 + length)
            break;
          auto type = byte(3);
          auto stream = ((std::uint32_t{byte(5)} & 0x7f) << 24) | (std::uint32_t{byte(6)} << 16)
                        | (std::uint32_t{byte(7)} << 8) | byte(8);
          if ((type == 0 || type == 1) && stream != 0 && armed_.exchange(false)) {
            ++lost_;
            open = false; // the answer is dropped
            break;
          }
          auto frame = static_cast<ssize_t>(9 + length);
          if (::write(client, from_server.data(), static_cast<std::size_t>(frame)) != frame) {
            open = false;
            break;
          }
          from_server.erase(0, static_cast<std::size_t>(frame));
        }
      }
    }
    ::close(client);
    ::close(server);
  }

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int> lost_{0};
  std::thread acceptor_;
  std::vector<std::thread> pipes_;
};

} // namespace

TEST_CASE("etcd's limits give a clear error naming the limit, and nothing is written",
          "[etcd]") {
  auto store = open_etcd();
  auto entity = uuid::random();
  // One event per command id: 3 operations per append, 1 for the log's
  // last position and 1 per command id. 125 ids make 129: over
  // --max-txn-ops (128).
  auto commanded = [&](std::uint64_t expected, std::size_t ids) {
    auto request = make_append(entity, expected, ids);
    for (auto& event : request.events)
      event.command_id = uuid::random();
    return request;
  };
  auto many = store->append(commanded(0, 125));
  REQUIRE_FALSE(many.ok());
  CHECK(many.error().code == ec::invalid_argument);
  CHECK_THAT(many.error().message, Catch::Contains("--max-txn-ops"));
  CHECK(*store->head(entity) == 0);
  CHECK(*store->append(commanded(0, 124)) == 124);
  // Without command ids, events take no operations of their own.
  CHECK(*store->append(make_append(entity, 124, 2'000)) == 2'124);
  // 2 MiB of payload: over --max-request-bytes (1.5 MiB).
  auto big = make_append(entity, 2'124);
  big.events[0].payload.assign(2 * 1024 * 1024, 'x');
  auto refused = store->append(big);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ec::invalid_argument);
  CHECK_THAT(refused.error().message, Catch::Contains("--max-request-bytes"));
  CHECK(*store->head(entity) == 2'124);
  CHECK(*store->last_position() == 2'124);
  // A batch: the refused request takes nothing from the others.
  std::vector<append_request> batch{big, make_append(entity, 2'124)};
  auto results = store->append_batch(batch);
  CHECK(results[0].error().code == ec::invalid_argument);
  CHECK(*results[1] == 2'125);
  // A view commit over one transaction's worth of rows.
  auto checkpoint = store->reset_view("wide", 1, std::nullopt);
  REQUIRE(checkpoint.ok());
  std::vector<view_change> rows;
  for (std::size_t i = 0; i <= store->max_view_changes(); ++i)
    rows.push_back({"row" + std::to_string(i), std::vector<std::uint8_t>{1}});
  auto wide = store->commit_view("wide", *checkpoint, 0, rows);
  REQUIRE_FALSE(wide.ok());
  CHECK(wide.error().code == ec::invalid_argument);
  CHECK_THAT(wide.error().message, Catch::Contains("--max-txn-ops"));
  rows.pop_back();
  CHECK(store->commit_view("wide", *checkpoint, 0, rows).ok());
}

TEST_CASE("an etcd store that reaches no member fails within its call timeout",
          "[etcd]") {
  etcd_options options;
  options.endpoints = {"127.0.0.1:9"}; // nothing listens there
  options.call_timeout = 500ms;
  options.write_timeout = 1s;
  auto start = steady::now();
  auto store = etcd_store::open(options);
  auto took = steady::now() - start;
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ec::storage_unavailable);
  CHECK_THAT(store.error().message, Catch::Contains("127.0.0.1:9"));
  CHECK(took < 5s); // a bound on a hang, not a speed goal
  // Bad options are refused before any call.
  options.endpoints = {"127.0.0.1"};
  CHECK(etcd_store::open(options).error().code == ec::invalid_argument);
  options.endpoints = {};
  CHECK(etcd_store::open(options).error().code == ec::invalid_argument);
  CHECK(parse_endpoints("a:1,b:2")->size() == 2);
  CHECK(parse_endpoints("a:1,").error().code == ec::invalid_argument);
  CHECK(parse_endpoints("a:0").error().code == ec::invalid_argument);
}

TEST_CASE("an append whose answer was lost after it committed is found by its event id: "
          "success, stored once, never a conflict",
          "[etcd]") {
  auto endpoints = etcd_endpoints();
  auto port = [](const std::string& endpoint) {
    return std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
  };
  answer_losing_proxy proxy{port(endpoints[0])};
  // The proxy first: the store talks to it until it fails, then to the
  // next member.
  auto store = open_etcd({}, {"127.0.0.1:" + std::to_string(proxy.port()), endpoints[1],
                              endpoints[2]});
  auto entity = uuid::random();
  REQUIRE(*store->append(make_append(entity, 0)) == 1);
  auto request = make_append(entity, 1, 2);
  request.events[0].command_id = uuid::random();
  proxy.arm();
  auto appended = store->append(request);
  INFO((appended ? "" : to_string(appended.error())));
  REQUIRE(appended.ok());
  CHECK(*appended == 3);
  CHECK(store->stats().ambiguous == 1);
  CHECK(store->stats().confirmed == 1);
  auto history = *store->read(entity);
  REQUIRE(history.size() == 3);
  CHECK(history[1].id == request.events[0].id);
  CHECK(history[2].id == request.events[1].id);
  CHECK(*store->last_position() == 3);
  // The same command again is a duplicate, not a second copy.
  request.expected_version = 3;
  CHECK(store->append(request).error().code == ec::duplicate_command);
  CHECK(proxy.answers_lost() == 1);
}

TEST_CASE("two etcd stores (as two processes) race on the same entities: one history "
          "each, every loser told, the global log gapless",
          "[etcd]") {
  auto prefix = "test/" + to_string(uuid::random()) + "/";
  auto first = open_etcd(prefix);
  auto second = open_etcd(prefix);
  auto entities = some_entities(6);
  ledger book;
  std::atomic<bool> stop{false};
  auto writers = start_writers(*first, entities, 4, stop, book);
  auto more = start_writers(*second, entities, 4, stop, book);
  auto give_up = steady::now() + 120s; // a bound against a hang, not a speed goal
  while (steady::now() < give_up) {
    std::this_thread::sleep_for(50ms);
    std::lock_guard guard{book.mutex};
    if (book.acknowledged.size() >= 400 && book.conflicts >= 20)
      break;
  }
  stop = true;
  for (auto& writer : writers)
    writer.join();
  for (auto& writer : more)
    writer.join();
  CHECK(book.acknowledged.size() >= 400);
  CHECK(book.conflicts >= 20);
  CHECK(book.errors.empty());
  CHECK(book.unknown.empty());
  auto stored = verify_store(*first, book, entities);
  CHECK(stored == book.acknowledged.size());
  // A duplicate command id is refused across stores too.
  auto entity = entities[0];
  auto head = *second->head(entity);
  auto once = make_append(entity, head);
  once.events[0].command_id = uuid::random();
  REQUIRE(first->append(once).ok());
  once.expected_version = head + 1;
  once.events[0].id = uuid::random();
  auto again = second->append(once);
  CHECK(again.error().code == ec::duplicate_command);
  CHECK(again.error().actual_version == head + 1);
  auto stats = first->stats();
  std::printf("two stores: %zu appends, %llu conflicts; store 1: %llu transactions for "
              "%llu appends, %llu races for the log\n",
              book.acknowledged.size(), static_cast<unsigned long long>(book.conflicts),
              static_cast<unsigned long long>(stats.transactions),
              static_cast<unsigned long long>(stats.appends),
              static_cast<unsigned long long>(stats.log_races));
}

TEST_CASE("the leader killed mid-stream loses no acknowledged append and stores "
          "none twice, and the member restarts and catches up",
          "[etcd][fault]") {
  own_cluster cluster{24791};
  // The store talks to the first endpoint it is given while that one
  // answers: the leader, so that the kill cuts transactions in flight.
  auto leader = cluster.leader();
  etcd_options options;
  options.endpoints = {cluster.endpoint(leader)};
  for (int member = 1; member <= 3; ++member)
    if (member != leader)
      options.endpoints.push_back(cluster.endpoint(member));
  options.key_prefix = "fault/";
  auto opened = etcd_store::open(options);
  REQUIRE(opened.ok());
  auto& store = **opened;
  writers_running writers{store, some_entities(40), 16};
  auto& book = writers.book;
  writers.wait_for(300);
  // Leadership may have moved under load: kill whoever leads now.
  auto talked_to = leader;
  leader = cluster.leader();
  std::size_t before_kill = 0;
  {
    std::lock_guard guard{book.mutex};
    before_kill = book.gaps_ms.size();
  }
  cluster.script("kill " + std::to_string(leader));
  writers.wait_for(writers.acknowledged() + 300); // appends go on without it
  auto restarted = cluster.script("restart " + std::to_string(leader));
  INFO(restarted);
  REQUIRE(cluster.last_ok());
  writers.wait_for(writers.acknowledged() + 100);
  writers.finish();
  auto stored = verify_store(store, book, writers.entities());
  CHECK(stored >= book.acknowledged.size());
  CHECK(stored <= book.acknowledged.size() + book.unknown.size());
  double pause = 0;
  {
    std::lock_guard guard{book.mutex};
    for (std::size_t i = before_kill; i < book.gaps_ms.size(); ++i)
      pause = std::max(pause, book.gaps_ms[i]);
  }
  // The restarted member holds everything: read through it alone.
  etcd_options alone = options;
  alone.endpoints = {cluster.endpoint(leader)};
  auto through_it = etcd_store::open(alone);
  REQUIRE(through_it.ok());
  CHECK(*(*through_it)->last_position() == stored);
  auto stats = store.stats();
  std::printf("leader (member %d) killed: %zu acknowledged, %zu unknown, %llu answers lost "
              "and sent again, %llu of them found stored by their event id; longest pause "
              "between acknowledgements after the kill: %.0f ms (p50 gap %.2f ms)\n",
              leader, book.acknowledged.size(), book.unknown.size(),
              static_cast<unsigned long long>(stats.ambiguous),
              static_cast<unsigned long long>(stats.confirmed), pause,
              percentile(book.gaps_ms, 0.5));
  // Killing the member the store talks to cut a transaction in flight (one
  // is in flight nearly all the time): the ambiguous path ran.
  if (talked_to == leader)
    CHECK(stats.ambiguous > 0);
  else
    std::printf("  leadership moved from member %d before the kill\n", talked_to);
  for (const auto& [code, count] : book.errors)
    std::printf("  %s: %llu\n", std::string{to_string(code)}.c_str(), static_cast<unsigned long long>(count));
}

TEST_CASE("with two of three members killed, appends fail within the write timeout "
          "and none is acknowledged, and after a restart writes resume",
          "[etcd][fault]") {
  own_cluster cluster{24821};
  etcd_options options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = "fault/";
  options.call_timeout = 1s;
  options.write_timeout = 3s;
  auto opened = etcd_store::open(options);
  REQUIRE(opened.ok());
  auto& store = **opened;
  auto entity = uuid::random();
  REQUIRE(*store.append(make_append(entity, 0)) == 1);
  cluster.script("kill 1");
  cluster.script("kill 2");
  std::set<uuid> maybe;
  for (int i = 0; i < 3; ++i) {
    auto request = make_append(entity, 1);
    auto start = steady::now();
    auto refused = store.append(request);
    auto took = steady::now() - start;
    REQUIRE_FALSE(refused.ok());
    INFO(to_string(refused.error()));
    CHECK((refused.error().code == ec::storage_unavailable
           || refused.error().code == ec::unknown_outcome));
    if (refused.error().code == ec::unknown_outcome)
      maybe.insert(request.events[0].id);
    CHECK(took < options.write_timeout + 2s); // no hang: a bound, not a speed goal
    std::printf("two members down: %s after %lld ms\n", std::string{to_string(refused.error().code)}.c_str(),
                static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  }
  auto read = store.head(entity);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().code == ec::storage_unavailable);
  cluster.script("restart 1");
  REQUIRE(cluster.last_ok());
  cluster.script("restart 2");
  REQUIRE(cluster.last_ok());
  // Writes resume. An append that was unknown is stored at most once.
  auto head = store.head(entity);
  REQUIRE(head.ok());
  CHECK(*head <= 2);
  auto history = *store.read(entity);
  for (std::size_t i = 1; i < history.size(); ++i)
    CHECK(maybe.count(history[i].id) == 1);
  auto resumed = store.append(make_append(entity, *head));
  REQUIRE(resumed.ok());
  CHECK(*resumed == *head + 1);
}

TEST_CASE("a frozen member (SIGSTOP) does not stop appends, and resumed, it catches up",
          "[etcd][fault]") {
  own_cluster cluster{24851};
  etcd_options options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = "fault/";
  auto opened = etcd_store::open(options);
  REQUIRE(opened.ok());
  auto& store = **opened;
  writers_running writers{store, some_entities(20), 8};
  auto& book = writers.book;
  writers.wait_for(200);
  auto leader = cluster.leader();
  cluster.script("pause " + std::to_string(leader));
  REQUIRE(cluster.last_ok());
  writers.wait_for(writers.acknowledged() + 300);
  cluster.script("resume " + std::to_string(leader));
  writers.wait_for(writers.acknowledged() + 100);
  writers.finish();
  auto stored = verify_store(store, book, writers.entities());
  etcd_options alone = options;
  alone.endpoints = {cluster.endpoint(leader)};
  auto through_it = etcd_store::open(alone);
  REQUIRE(through_it.ok());
  CHECK(*(*through_it)->last_position() == stored);
  std::printf("leader (member %d) frozen: %zu acknowledged, %zu unknown, longest pause %.0f ms\n",
              leader, book.acknowledged.size(), book.unknown.size(),
              percentile(book.gaps_ms, 1.0));
}

TEST_CASE("two cafes-stress processes over one etcd cluster race on the same entities, "
          "and each one's subscribers see the other's events",
          "[etcd][processes]") {
  temp_dir dir;
  auto list = endpoint_list(etcd_endpoints());
  auto prefix = "test/" + to_string(uuid::random()) + "/";
  auto run = [&](const std::string& seed, const std::string& report) {
    return child_process{{CAFES_STRESS_PATH, "--store", "etcd", "--endpoints", list,
                          "--etcd-prefix", prefix, "--entities", "30", "--clients", "16",
                          "--commands", "40", "--stale", "0.1", "--seed", seed,
                          "--entity-seed", "77", "--shared", "--subscribers", "2",
                          "--progress", "none"},
                         {child_process::watch::out, report, std::nullopt}};
  };
  auto one = run("1", dir.sub("one.err"));
  auto two = run("2", dir.sub("two.err"));
  auto status_one = one.wait();
  auto status_two = two.wait();
  INFO(one.text());
  INFO(two.text());
  CHECK(WIFEXITED(status_one));
  CHECK(WEXITSTATUS(status_one) == 0);
  CHECK(WIFEXITED(status_two));
  CHECK(WEXITSTATUS(status_two) == 0);
  // Each verified its own commands: acknowledged ones stored once at their
  // version, refused ones not at all, stale ones refused.
  const std::regex passed{"\nverification +passed\n"};
  CHECK(std::regex_search(one.text(), passed));
  CHECK(std::regex_search(two.text(), passed));
  auto figure = [](const std::string& text, const std::string& row) {
    auto at = text.find("\n" + row + " ");
    REQUIRE(at != std::string::npos);
    return std::stoull(text.substr(at + 1 + row.size()));
  };
  // The one that verified last saw the other's events (both do when they
  // overlap, which their timing does not promise); both lost races (their
  // stale commands at least).
  CHECK(std::max(figure(one.text(), "of other processes"),
                 figure(two.text(), "of other processes")) > 0);
  CHECK(figure(one.text(), "conflicts") > 0);
  CHECK(figure(two.text(), "conflicts") > 0);
  auto acknowledged = figure(one.text(), "acknowledged") + figure(two.text(), "acknowledged");
  // One verification over the whole store: the log gapless, one history
  // per entity, each log entry the stored event.
  auto store = open_etcd(prefix);
  std::uint64_t position = 0;
  std::set<uuid> ids;
  std::map<entity_id, std::uint64_t> versions;
  for (;;) {
    auto page = store->read_all(position, 4'096);
    REQUIRE(page.ok());
    if (page->events.empty())
      break;
    for (const auto& event : page->events) {
      REQUIRE(event.position == ++position);
      CHECK(ids.insert(event.id).second);
      CHECK(event.version == ++versions[event.entity]); // in order, no gap
    }
  }
  CHECK(position == acknowledged); // every acknowledged command, nothing else
  for (const auto& [entity, version] : versions)
    CHECK(*store->head(entity) == version);
  CHECK(versions.size() == 30);
}

TEST_CASE("cafes-stress shards entities over two etcd clusters: each entity whole in one, "
          "every command verified",
          "[etcd][processes]") {
  own_cluster second{24881};
  auto prefix = "test/" + to_string(uuid::random()) + "/";
  stress_passes({"--store", "etcd", "--endpoints", endpoint_list(etcd_endpoints()),
                 "--endpoints", endpoint_list(second.endpoints()), "--etcd-prefix", prefix,
                 "--entities", "100", "--clients", "32", "--commands", "30", "--stale", "0.1"});
  // Each cluster holds a share of the entities, each whole, and its own log.
  auto one = open_etcd(prefix);
  auto two = open_etcd(prefix, second.endpoints());
  auto in_one = *one->list_entities(std::nullopt, 1'000);
  auto in_two = *two->list_entities(std::nullopt, 1'000);
  CHECK(in_one.size() > 10);
  CHECK(in_two.size() > 10);
  CHECK(in_one.size() + in_two.size() == 100);
  std::uint64_t events = 0;
  for (const auto& id : in_one) {
    CHECK(*two->head(id) == 0);
    events += one->read(id)->size();
  }
  CHECK(*one->last_position() == events);
}

TEST_CASE("a full etcd (its space quota) refuses appends with a clear error and keeps "
          "everything acknowledged",
          "[etcd][fault]") {
  // A 16 MiB quota, filled with 512 KiB events (history counts too).
  own_cluster cluster{24911, "CAFES_ETCD_QUOTA_BYTES=16777216"};
  etcd_options options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = "full/";
  auto opened = etcd_store::open(options);
  REQUIRE(opened.ok());
  auto& store = **opened;
  auto entity = uuid::random();
  std::vector<event_id> acknowledged;
  std::optional<failure> refused;
  for (std::uint64_t version = 0; version < 100 && !refused; ++version) {
    auto request = make_append(entity, version);
    request.events[0].payload.assign(512 * 1024, static_cast<std::uint8_t>(version));
    auto appended = store.append(request);
    if (appended)
      acknowledged.push_back(request.events[0].id);
    else
      refused = appended.error();
  }
  REQUIRE(refused.has_value());
  INFO(to_string(*refused));
  CHECK(refused->code == ec::storage_failure);
  CHECK_THAT(refused->message, Catch::Contains("database space exceeded"));
  // Reads go on, and hold exactly the acknowledged appends.
  auto history = store.read(entity);
  REQUIRE(history.ok());
  REQUIRE(history->size() == acknowledged.size());
  for (std::size_t i = 0; i < acknowledged.size(); ++i)
    CHECK((*history)[i].id == acknowledged[i]);
  CHECK(*store.last_position() == acknowledged.size());
  // A small append is refused too (the alarm stops every write), the same way.
  auto small = store.append(make_append(uuid::random(), 0));
  REQUIRE_FALSE(small.ok());
  CHECK(small.error().code == ec::storage_failure);
}

namespace {

/// Collects what a subscription delivers.
struct delivered {
  std::mutex mutex;
  std::vector<event_record> events;
  std::size_t count() {
    std::lock_guard guard{mutex};
    return events.size();
  }
};

subscriber_actor::behavior_type collect(subscriber_actor::pointer,
                                        std::shared_ptr<delivered> out) {
  return {
    [=](log_events_atom, std::vector<event_record>& batch) -> std::uint64_t {
      std::lock_guard guard{out->mutex};
      for (auto& event : batch)
        out->events.push_back(std::move(event));
      return out->events.back().position;
    },
  };
}

} // namespace

TEST_CASE("a subscription wakes at another process's commit through etcd's watch, not at "
          "its next poll",
          "[etcd][subscriptions]") {
  auto prefix = "test/" + to_string(uuid::random()) + "/";
  application_config slow_poll;
  slow_poll.log_poll_interval = std::chrono::hours{1}; // only the watch can wake it
  application reader{open_etcd(prefix), slow_poll};
  application writer{open_etcd(prefix)};
  auto out = std::make_shared<delivered>();
  reader.subscribe(reader.system().spawn(collect, out), 0);
  auto accounts = writer.entities<cafes_samples::bank::account>();
  auto account = accounts.create(cafes_samples::bank::open{"ada"});
  accounts.execute(account, cafes_samples::bank::deposit{5});
  auto give_up = steady::now() + 20s; // a bound against a hang
  while (out->count() < 2 && steady::now() < give_up)
    std::this_thread::sleep_for(10ms);
  REQUIRE(out->count() == 2);
  std::lock_guard guard{out->mutex};
  CHECK(out->events[0].entity == account.id);
  CHECK(out->events[0].position == 1);
  CHECK(out->events[1].position == 2);
}

TEST_CASE("the append watch, its member frozen, opens again on another member and misses "
          "no commit made while it had no stream",
          "[etcd][subscriptions][fault]") {
  own_cluster cluster{24971};
  // The watch opens on the first endpoint: a follower, so that freezing it
  // leaves the leader and a quorum to the writer, which never uses it.
  auto leader = cluster.leader();
  auto watched = leader == 1 ? 2 : 1;
  etcd_options options;
  options.key_prefix = "watch/";
  options.call_timeout = 1s;
  options.write_timeout = 4s;
  options.endpoints = {cluster.endpoint(watched)};
  etcd_options writer_options = options;
  for (int member = 1; member <= 3; ++member)
    if (member != watched) {
      options.endpoints.push_back(cluster.endpoint(member));
      writer_options.endpoints.push_back(cluster.endpoint(member));
    }
  writer_options.endpoints.erase(writer_options.endpoints.begin());
  auto opened_reader = etcd_store::open(options);
  auto opened_writer = etcd_store::open(writer_options);
  REQUIRE(opened_reader.ok());
  REQUIRE(opened_writer.ok());
  auto reader_store = *opened_reader;
  auto writer = *opened_writer;
  application_config slow_poll;
  slow_poll.log_poll_interval = std::chrono::hours{1}; // only the watch can wake it
  application reader{reader_store, slow_poll};
  auto out = std::make_shared<delivered>();
  reader.subscribe(reader.system().spawn(collect, out), 0);
  auto delivered_within = [&](std::size_t count, steady::duration bound) {
    auto give_up = steady::now() + bound;
    while (out->count() < count && steady::now() < give_up)
      std::this_thread::sleep_for(5ms);
    return out->count() >= count;
  };
  auto entity = uuid::random();
  REQUIRE(writer->append(make_append(entity, 0)).ok());
  REQUIRE(delivered_within(1, 20s));
  cluster.script("pause " + std::to_string(watched));
  // The reader's calls leave the frozen member (one call timeout), so the
  // read that follows the watch's call back is quick.
  REQUIRE(reader_store->last_position().ok());
  // Committed while the watch's stream hangs: it says nothing until gRPC's
  // keepalive gives it up (5 to 7 s), then the watcher calls back (the
  // subscription reads this commit) and waits 200 ms before a new stream.
  REQUIRE(writer->append(make_append(entity, 1)).ok());
  REQUIRE(delivered_within(2, 20s));
  // Committed in that pause: only a stream that starts at the revision
  // after the last one covered reports it (before the fix it was never
  // delivered: the poll is an hour).
  REQUIRE(writer->append(make_append(entity, 2)).ok());
  CHECK(delivered_within(3, 10s));
  cluster.script("resume " + std::to_string(watched));
  std::lock_guard guard{out->mutex};
  for (std::size_t k = 0; k < out->events.size(); ++k)
    CHECK(out->events[k].position == k + 1);
}

TEST_CASE("over TLS (a cluster that checks client certificates) the store appends and "
          "reads, and every TLS mistake is a clear error",
          "[etcd]") {
  // One cluster for every case (a start takes seconds): no SECTIONs.
  own_cluster cluster{24941, "CAFES_ETCD_TLS=1"};
  etcd_options options;
  options.endpoints = cluster.endpoints();
  options.key_prefix = "tls-" + to_string(uuid::random()) + "/";
  options.call_timeout = 1s;
  options.write_timeout = 2s;
  const etcd_tls files{cluster.file("tls/ca.pem"), cluster.file("tls/client.pem"),
                       cluster.file("tls/client.key")};
  auto entity = uuid::random();
  { // with the cluster's CA and a client certificate: appends, reads and the log
    auto options_tls = options;
    options_tls.tls = files;
    auto store = etcd_store::open(options_tls);
    INFO((store ? "" : to_string(store.error())));
    REQUIRE(store.ok());
    REQUIRE((*store)->append(make_append(entity, 0, 3)).ok());
    REQUIRE((*store)->append(make_append(entity, 3, 2)).ok());
    CHECK((*store)->read(entity)->size() == 5);
    CHECK((*store)->read_all(0, 100)->events.size() == 5);
    // The certificate is checked against the host the endpoint names
    // (the members' certificates name 127.0.0.1 and localhost).
    options_tls.endpoints = {"localhost:24942"};
    auto by_name = etcd_store::open(options_tls);
    INFO((by_name ? "" : to_string(by_name.error())));
    REQUIRE(by_name.ok());
    CHECK(*(*by_name)->head(entity) == 5);
    // cafes-stress takes etcdctl's three files too.
    stress_passes({"--store", "etcd", "--endpoints", endpoint_list(cluster.endpoints()),
                   "--etcd-prefix", options.key_prefix + "stress/", "--etcd-cacert",
                   files.ca_file, "--etcd-cert", files.cert_file, "--etcd-key", files.key_file,
                   "--entities", "20", "--clients", "8", "--commands", "20"});
  }
  { // without TLS: unavailable, saying it connected without TLS
    auto store = etcd_store::open(options);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == ec::storage_unavailable);
    CHECK_THAT(store.error().message, Catch::Contains("without TLS"));
  }
  { // a CA that did not sign the members' certificates: unavailable
    auto wrong_ca = options;
    wrong_ca.tls = etcd_tls{files.cert_file, files.cert_file, files.key_file}; // a leaf, no CA
    auto store = etcd_store::open(wrong_ca);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == ec::storage_unavailable);
    CHECK_THAT(store.error().message, Catch::Contains("with TLS, trusting the CA in "
                                                      + files.cert_file));
  }
  { // no client certificate for a cluster that checks them: unavailable
    auto anonymous = options;
    anonymous.tls = etcd_tls{files.ca_file, "", ""};
    auto store = etcd_store::open(anonymous);
    REQUIRE_FALSE(store.ok());
    CHECK(store.error().code == ec::storage_unavailable);
  }
  { // files that are missing, not PEM, or a certificate without its key:
    // refused before any connection, naming the file
    options.endpoints = {"127.0.0.1:9"}; // nothing listens: the check comes first
    options.tls = etcd_tls{cluster.file("tls/no-such.pem"), "", ""};
    auto missing = etcd_store::open(options);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == ec::invalid_argument);
    CHECK_THAT(missing.error().message, Catch::Contains("tls/no-such.pem"));
    options.tls = etcd_tls{files.key_file, "", ""}; // a key where the CA belongs
    auto not_a_certificate = etcd_store::open(options);
    REQUIRE_FALSE(not_a_certificate.ok());
    CHECK(not_a_certificate.error().code == ec::invalid_argument);
    CHECK_THAT(not_a_certificate.error().message, Catch::Contains("holds no PEM CERTIFICATE"));
    options.tls = etcd_tls{files.ca_file, files.cert_file, files.ca_file}; // a certificate as key
    auto not_a_key = etcd_store::open(options);
    REQUIRE_FALSE(not_a_key.ok());
    CHECK_THAT(not_a_key.error().message, Catch::Contains("holds no PEM PRIVATE KEY"));
    options.tls = etcd_tls{files.ca_file, files.cert_file, ""};
    auto without_key = etcd_store::open(options);
    REQUIRE_FALSE(without_key.ok());
    CHECK(without_key.error().code == ec::invalid_argument);
    auto encrypted = cluster.file("tls/client.enc.key"); // gRPC takes no passphrase
    REQUIRE(std::system(("openssl pkey -in '" + files.key_file
                         + "' -aes256 -passout pass:s3cret -out '" + encrypted + "'")
                          .c_str())
            == 0);
    options.tls = etcd_tls{files.ca_file, files.cert_file, encrypted};
    auto encrypted_key = etcd_store::open(options);
    REQUIRE_FALSE(encrypted_key.ok());
    CHECK(encrypted_key.error().code == ec::invalid_argument);
    CHECK_THAT(encrypted_key.error().message, Catch::Contains("is encrypted"));
  }
}
