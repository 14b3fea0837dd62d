// CAF nodes across real processes: a server child (node_server.cpp)
// publishes the tally aggregate; this process connects and uses the same
// repository API and entity_refs as in-process code. Conflicts with missed
// events and rejections cross the wire as the same failures; mutual TLS
// refuses peers without a certificate of its CA (test PKI made here with
// the openssl program); a server killed with a request in flight fails it
// at once, and the client connects again once the server is back.

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "cafes/actors/application.hpp"
#include "cafes/net/node.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "child_process.hpp"
#include "node_tally.hpp"
#include "temp_dir.hpp"

using namespace cafes;
using namespace std::chrono_literals;
using cafes::testing::child_process;
using cafes::testing::tally;
using cafes::testing::temp_dir;

namespace {

/// A node_server child, listening.
struct server {
  std::unique_ptr<child_process> process;
  std::uint16_t port = 0;
};

/// Starts node_server over database `db` on `port` (0: any), with TLS when
/// `tls` holds certificate, key and CA file. Fails the test when it does
/// not say it listens.
server start_server(const temp_dir& dir, std::uint16_t port,
                    const std::vector<std::string>& tls = {}) {
  std::vector<std::string> argv{CAFES_NODE_SERVER, dir.sub("db"), std::to_string(port)};
  argv.insert(argv.end(), tls.begin(), tls.end());
  server out;
  child_process::settings how;
  how.watched = child_process::watch::out;
  how.other_path = dir.sub("server.err");
  out.process = std::make_unique<child_process>(argv, how);
  auto line = out.process->wait_for_line("port ");
  if (!line) {
    std::ifstream err{dir.sub("server.err")};
    std::string text{std::istreambuf_iterator<char>{err}, {}};
    FAIL("node_server did not start: " << text);
  }
  out.port = static_cast<std::uint16_t>(std::stoi(line->substr(5)));
  return out;
}

/// Runs `command` in a shell, quietly; fails the test if it fails.
void run(const std::string& command) {
  INFO(command);
  REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
}

/// Test PKI in a directory: CAs, and node certificates they sign.
struct pki {
  const temp_dir& dir;

  std::string path(const std::string& name) const { return dir.sub(name); }

  /// Makes CA `name` (name.pem, name.key).
  void make_ca(const std::string& name) const {
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + path(name + ".key") + " -out "
        + path(name + ".pem") + " -days 30 -subj '/CN=" + name + "'");
  }

  /// Makes node certificate `name` signed by CA `ca` (name.pem, name.key,
  /// and name.enc.key encrypted with passphrase "s3cret"), for both ends
  /// of a connection.
  void make_node(const std::string& name, const std::string& ca) const {
    run("openssl req -newkey rsa:2048 -nodes -keyout " + path(name + ".key") + " -out "
        + path(name + ".csr") + " -subj '/CN=" + name + "'");
    std::ofstream{path(name + ".ext")}
      << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
         "extendedKeyUsage=serverAuth,clientAuth\n";
    run("openssl x509 -req -in " + path(name + ".csr") + " -CA " + path(ca + ".pem") + " -CAkey "
        + path(ca + ".key") + " -CAcreateserial -out " + path(name + ".pem")
        + " -days 30 -extfile " + path(name + ".ext"));
    run("openssl pkey -in " + path(name + ".key") + " -aes256 -passout pass:s3cret -out "
        + path(name + ".enc.key"));
  }

  /// The server's arguments for node `name` trusting CA `ca`.
  std::vector<std::string> server_args(const std::string& name, const std::string& ca) const {
    return {path(name + ".pem"), path(name + ".key"), path(ca + ".pem")};
  }

  /// Node options for node `name` (its encrypted key) trusting CA `ca`.
  net::node_options client(const std::string& name, const std::string& ca) const {
    net::node_options options;
    options.tls = net::tls_options{path(name + ".pem"), path(name + ".enc.key"), "s3cret",
                                   path(ca + ".pem")};
    return options;
  }
};

/// Connects with `options` and runs a create and a get on the node at `port`.
void check_serves(const net::node_options& options, std::uint16_t port) {
  net::node client{options};
  auto app = client.connect("127.0.0.1", port);
  REQUIRE(app.ok());
  auto tallies = (*app)->entities<tally>();
  auto created = tallies.create(tally::add{3});
  CHECK(tallies.get(created.id).state.total == 3);
}

/// Returns how long `f` took.
template <class F>
std::chrono::milliseconds timed(F f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                               - start);
}

} // namespace

TEST_CASE("node - a remote repository creates, gets and executes, with conflicts and "
          "rejections as in-process",
          "[net][node]") {
  temp_dir dir;
  auto srv = start_server(dir, 0);
  net::node client;
  auto connected = client.connect("127.0.0.1", srv.port);
  REQUIRE(connected.ok());
  auto& app = **connected;
  auto tallies = app.entities<tally>();

  auto mine = tallies.create(tally::add{10});
  CHECK(mine.version == 1);
  CHECK(mine.state.total == 10);
  auto other = tallies.get(mine.id);
  CHECK(other.version == 1);
  tallies.execute(other, tally::take{4});
  CHECK(other.version == 2);
  CHECK(other.state.total == 6);

  // A stale copy: the conflict carries the missed event over the wire.
  auto refused = tallies.try_execute(mine, tally::take{1});
  REQUIRE_FALSE(refused.ok());
  const auto& conflict = refused.error();
  CHECK(conflict.code == ec::conflict);
  CHECK(conflict.entity == mine.id);
  CHECK(conflict.expected_version == 1);
  CHECK(conflict.actual_version == 2);
  REQUIRE(conflict.missed_events.size() == 1);
  REQUIRE(tallies.catch_up(mine, conflict));
  CHECK(mine.state.total == 6);
  tallies.execute(mine, tally::take{1});
  CHECK(mine.version == 3);
  CHECK(mine.state.total == 5);
  CHECK_THROWS_AS(tallies.execute(other, tally::add{1}), concurrency_error); // at 2

  auto too_many = tallies.try_execute(mine, tally::take{50});
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().code == ec::rejected);
  CHECK(too_many.error().message.find("only 5 left") != std::string::npos);
  CHECK(mine.version == 3);

  auto unknown = tallies.try_get(uuid::random());
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ec::not_found);
  auto twice = tallies.try_create(mine.id, tally::add{1});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().code == ec::conflict);

  // The typed handle, message-driven.
  caf::scoped_actor self{app.system()};
  bool answered = false;
  app.ref<tally>(mine.id).get(self.ptr(), caf::duration{10s}).receive(
    [&](const entity_snapshot& snapshot) {
      auto copy = entity_ref<tally>::copy_of(snapshot);
      REQUIRE(copy.ok());
      CHECK(copy->version == 3);
      CHECK(copy->state.total == 5);
      answered = true;
    },
    [&](caf::error& err) { FAIL(to_string(to_failure(err))); });
  CHECK(answered);
}

TEST_CASE("node - what needs a local store fails clearly on a remote application",
          "[net][node]") {
  temp_dir dir;
  auto srv = start_server(dir, 0);
  net::node client;
  auto connected = client.connect("127.0.0.1", srv.port);
  REQUIRE(connected.ok());
  auto& app = **connected;
  auto head = app.store()->head(uuid::random());
  REQUIRE_FALSE(head.ok());
  CHECK(head.error().code == ec::storage_unavailable);
  try {
    app.subscribe(subscriber_actor{});
    FAIL("subscribe on a remote application did not throw");
  } catch (const cafes_error& e) {
    CHECK(e.code() == ec::invalid_argument);
  }
  CHECK(app.storage().empty());
  // Read-your-writes names projections of this process: refused, nothing sent.
  auto tallies = app.entities<tally>();
  CHECK_THROWS_AS(tallies.execute(uuid::random(), tally::add{1}, {},
                                  read_your_writes{{"some.view"}}),
                  cafes_error);
}

TEST_CASE("node - no node at the port, a taken port and bad TLS files are errors, not hangs",
          "[net][node]") {
  temp_dir dir;
  auto srv = start_server(dir, 0);
  {
    // The port the server listens on cannot be published again.
    net::node_options options;
    options.port = srv.port;
    net::node other{options};
    rocksdb_options in_memory;
    in_memory.in_memory = true;
    application app{other.system(),
                    std::shared_ptr<event_store>{std::move(*rocksdb_store::open(in_memory))}};
    try {
      other.publish<tally>(app);
      FAIL("publish on a taken port succeeded");
    } catch (const cafes_error& e) {
      CHECK(e.code() == ec::invalid_argument);
    }
  }
  srv.process->send(SIGKILL);
  srv.process->wait();
  {
    net::node client;
    auto connected = client.connect("127.0.0.1", srv.port);
    REQUIRE_FALSE(connected.ok());
    CHECK(connected.error().code == ec::closing);
  }
  pki certs{dir};
  certs.make_ca("ca");
  certs.make_node("n1", "ca");
  auto bad = [&](net::tls_options tls) {
    net::node_options options;
    options.tls = tls;
    try {
      net::node node{options};
      FAIL("a node was made with bad TLS files");
    } catch (const cafes_error& e) {
      CHECK(e.code() == ec::invalid_argument);
    }
  };
  auto good = certs.client("n1", "ca").tls.value();
  bad({good.certificate, good.key, "wrong", good.ca_file});          // passphrase
  bad({dir.sub("missing.pem"), good.key, good.passphrase, good.ca_file}); // no file
  bad({good.certificate, dir.sub("ca.key"), "", good.ca_file});      // another key
  bad({good.certificate, good.key, good.passphrase, ""});            // no CA
  bad({good.certificate, good.key, good.passphrase, dir.sub("n1.ext")}); // not PEM
}

TEST_CASE("node - mutual TLS accepts a peer with a certificate of its CA", "[net][node][tls]") {
  temp_dir dir;
  pki certs{dir};
  certs.make_ca("ca");
  certs.make_node("server", "ca");
  certs.make_node("client", "ca");
  auto srv = start_server(dir, 0, certs.server_args("server", "ca"));
  check_serves(certs.client("client", "ca"), srv.port);
}

TEST_CASE("node - mutual TLS refuses a peer without a certificate", "[net][node][tls]") {
  temp_dir dir;
  pki certs{dir};
  certs.make_ca("ca");
  certs.make_node("server", "ca");
  certs.make_node("client", "ca");
  auto srv = start_server(dir, 0, certs.server_args("server", "ca"));
  {
    // Any CAF program: the openssl module with no certificate (anonymous
    // TLS), which the node API itself never makes.
    caf::actor_system_config cfg;
    configure(cfg);
    cfg.load<caf::io::middleman>();
    cfg.load<caf::openssl::manager>();
    caf::actor_system system{cfg};
    caf::scoped_actor self{system};
    std::optional<caf::error> refused;
    auto took = timed([&] {
      self
        ->request(system.openssl_manager().actor_handle(), caf::duration{20s},
                  caf::connect_atom::value, std::string{"127.0.0.1"}, srv.port)
        .receive([&](caf::node_id&, caf::strong_actor_ptr&,
                     std::set<std::string>&) { refused = caf::error{}; },
                 [&](caf::error& err) { refused = err; });
    });
    REQUIRE(refused.has_value());
    INFO(system.render(*refused));
    CHECK(*refused); // an error: not connected
    CHECK(*refused != caf::sec::request_timeout);
    CHECK(took < 20s);
  }
  check_serves(certs.client("client", "ca"), srv.port); // still serves its peers
}

TEST_CASE("node - mutual TLS refuses a certificate of another CA", "[net][node][tls]") {
  temp_dir dir;
  pki certs{dir};
  certs.make_ca("ca");
  certs.make_ca("other_ca");
  certs.make_node("server", "ca");
  certs.make_node("client", "ca");
  certs.make_node("stranger", "other_ca");
  auto srv = start_server(dir, 0, certs.server_args("server", "ca"));
  {
    // The stranger trusts the server's CA; the server does not trust its.
    net::node stranger{certs.client("stranger", "ca")};
    auto connected = stranger.connect("127.0.0.1", srv.port);
    REQUIRE_FALSE(connected.ok());
    INFO(connected.error().message);
    CHECK(connected.error().code == ec::closing);
  }
  check_serves(certs.client("client", "ca"), srv.port);
}

TEST_CASE("node - a TLS port refuses plain TCP", "[net][node][tls]") {
  temp_dir dir;
  pki certs{dir};
  certs.make_ca("ca");
  certs.make_node("server", "ca");
  certs.make_node("client", "ca");
  auto srv = start_server(dir, 0, certs.server_args("server", "ca"));
  {
    net::node plain;
    auto connected = plain.connect("127.0.0.1", srv.port);
    REQUIRE_FALSE(connected.ok());
    INFO(connected.error().message);
    CHECK(connected.error().code == ec::closing);
  }
  check_serves(certs.client("client", "ca"), srv.port);
}

TEST_CASE("node - a command in flight when the server is killed fails at once, and the "
          "client reconnects to the restarted server",
          "[net][node]") {
  temp_dir dir;
  auto srv = start_server(dir, 0);
  net::node client;
  application_config config;
  config.request_timeout = 60s; // the failure below must not be this timeout
  auto connected = client.connect("127.0.0.1", srv.port, config);
  REQUIRE(connected.ok());
  auto& app = **connected;
  auto tallies = app.entities<tally>();
  auto created = tallies.create(tally::add{5});

  auto pending = std::async(std::launch::async, [&] {
    auto answer = tallies.try_execute(created.id, tally::stall{30'000});
    return answer.ok() ? failure{} : answer.error();
  });
  REQUIRE(srv.process->wait_for_line("stalling")); // the command is in the entity actor
  srv.process->send(SIGKILL);
  srv.process->wait();
  // Generous: the down message came within milliseconds here.
  REQUIRE(pending.wait_for(15s) == std::future_status::ready);
  auto lost = pending.get();
  INFO(lost.message);
  CHECK(lost.code == ec::unknown_outcome);
  CHECK(lost.entity == created.id);

  // While it is down: refused at once (no connection), not held.
  auto down = tallies.try_get(created.id);
  REQUIRE_FALSE(down.ok());
  CHECK(down.error().code == ec::closing);

  auto again = start_server(dir, srv.port); // same port, same database
  REQUIRE(again.port == srv.port);
  auto back = tallies.try_get(created.id);
  REQUIRE(back.ok());
  CHECK(back->version == 1);
  CHECK(back->state.total == 5);
  tallies.execute(*back, tally::add{1});
  CHECK(back->version == 2);
  CHECK(back->state.total == 6);
}

TEST_CASE("node - a frozen server is noticed by heartbeats, and the client reconnects once "
          "it runs again",
          "[net][node]") {
  temp_dir dir;
  auto srv = start_server(dir, 0);
  net::node client; // heartbeats every 500 ms, a connection silent for 2 s is closed
  application_config config;
  config.request_timeout = 60s; // the failure below must not be this timeout
  auto connected = client.connect("127.0.0.1", srv.port, config);
  REQUIRE(connected.ok());
  auto tallies = (*connected)->entities<tally>();
  auto created = tallies.create(tally::add{2});

  REQUIRE(srv.process->freeze()); // like a host that vanished: no FIN, no RST
  std::optional<result<copy<tally>>> frozen;
  auto took = timed([&] { frozen.emplace(tallies.try_get(created.id)); });
  REQUIRE_FALSE(frozen->ok());
  INFO(frozen->error().message);
  CHECK(frozen->error().code == ec::closing);
  CHECK(took < 30s); // generous: about connection_timeout here

  srv.process->send(SIGCONT);
  auto back = tallies.try_get(created.id);
  REQUIRE(back.ok());
  CHECK(back->state.total == 2);
}
