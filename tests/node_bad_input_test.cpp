// A CAF node against bad input on its port: garbage bytes, a crafted frame
// header, a connection that sends half a frame and stays, and a flood of
// (50) connections. Behind TLS each is dropped at the handshake or waits on its
// own; a proper peer connecting afterwards (and meanwhile) is served, and
// nothing is written for the bad ones. In plain TCP, CAF 0.17.6 itself
// crashes on the crafted header (SIGSEGV in basp::instance::handle, seen
// with this test's plain variant): so a plain node publishes on loopback
// only.

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>


#include "cafes/actors/application.hpp"
#include "cafes/net/node.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "node_tally.hpp"
#include "raw_socket.hpp"
#include "store_fixtures.hpp"
#include "temp_dir.hpp"

using namespace cafes;
using cafes::testing::tally;

namespace {

std::shared_ptr<event_store> memory_rocksdb() {
  return std::shared_ptr<event_store>{cafes::testing::open_rocksdb("")};
}

/// Connects as a proper peer with `options` and runs a create and a get.
void check_serves(const net::node_options& options, std::uint16_t port) {
  net::node client{options};
  auto app = client.connect("127.0.0.1", port);
  INFO((app ? std::string{} : to_string(app.error())));
  REQUIRE(app.ok());
  auto tallies = (*app)->entities<tally>();
  auto created = tallies.create(tally::add{2});
  CHECK(tallies.get(created.id).state.total == 2);
}

/// A CA and two node certificates it signs, made with openssl.
struct node_pki {
  cafes::testing::temp_dir dir;
  std::string path(const std::string& name) const { return dir.sub(name); }

  node_pki() {
    auto run = [](const std::string& command) {
      INFO(command);
      REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
    };
    run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + path("ca.key") + " -out "
        + path("ca.pem") + " -days 2 -subj /CN=ca");
    std::ofstream{path("ext")} << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                  "extendedKeyUsage=serverAuth,clientAuth\n";
    for (const char* name : {"server", "client"})
      run(std::string{"openssl req -newkey rsa:2048 -nodes -keyout "} + path(name + std::string{".key"})
          + " -out " + path(name + std::string{".csr"}) + " -subj /CN=" + name
          + " && openssl x509 -req -in " + path(name + std::string{".csr"}) + " -CA " + path("ca.pem")
          + " -CAkey " + path("ca.key") + " -CAcreateserial -out " + path(name + std::string{".pem"})
          + " -days 2 -extfile " + path("ext"));
  }

  net::node_options node(const std::string& name) const {
    net::node_options options;
    options.tls = net::tls_options{path(name + ".pem"), path(name + ".key"), "", path("ca.pem")};
    return options;
  }
};

} // namespace

TEST_CASE("node - behind TLS: garbage, a crafted frame header, a half-sent frame and a flood of "
          "connections are dropped or wait alone, and proper peers are still served",
          "[net][node][bad_input][tls]") {
  node_pki pki;
  auto store = memory_rocksdb();
  net::node server{pki.node("server")};
  application app{server.system(), store};
  auto port = server.publish<tally>(app);

  {
    cafes::testing::raw_socket garbage{port};
    garbage.send(std::string(4096, '\xAB') + "GET / HTTP/1.1\r\n\r\n");
    CHECK(garbage.closed_by_peer());
  }
  // The 64 bytes that crash a plain CAF 0.17.6 node (an operation byte of
  // 1, a large value behind it), then the connection ends.
  {
    cafes::testing::raw_socket crafted{port};
    std::string header(64, '\0');
    header[0] = 0x01;
    for (int i = 8; i < 12; ++i)
      header[static_cast<std::size_t>(i)] = '\x7F';
    crafted.send(header);
  }
  std::vector<std::unique_ptr<cafes::testing::raw_socket>> flood;
  auto half = std::make_unique<cafes::testing::raw_socket>(port);
  half->send(std::string(10, '\0'));
  // 50: under ASan, 200 made a proper peer's connect fail with CAF's
  // connection_timeout (60 did not); the optimized build passed with 200.
  for (int i = 0; i < 50; ++i)
    flood.push_back(std::make_unique<cafes::testing::raw_socket>(port));
  check_serves(pki.node("client"), port);
  CHECK(*store->last_position() == 1); // only the proper peer's create
  flood.clear();
  half.reset();
  check_serves(pki.node("client"), port);
  CHECK(*store->last_position() == 2);
}

TEST_CASE("node - a plain node publishes on loopback only", "[net][node][bad_input]") {
  auto store = memory_rocksdb();
  net::node_options options;
  options.host = "0.0.0.0";
  net::node server{options};
  application app{server.system(), store};
  try {
    server.publish<tally>(app);
    FAIL("a plain node published on every address");
  } catch (const cafes_error& e) {
    CHECK(e.code() == ec::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("needs TLS"));
  }
}
