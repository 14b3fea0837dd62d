// A CAF node against bad input on its port: garbage bytes, a crafted frame
// header, a connection that sends half a frame and stays, and a flood of
// connections. Behind TLS each is dropped at the handshake or waits on its
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cafes/actors/application.hpp"
#include "cafes/net/node.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "node_tally.hpp"
#include "temp_dir.hpp"

using namespace cafes;
using cafes::testing::tally;

namespace {

/// A raw TCP connection to 127.0.0.1:`port`.
struct raw_connection {
  int fd = -1;
  explicit raw_connection(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    timeval limit{10, 0}; // only a bound: a node that never closes ends the wait
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~raw_connection() { ::close(fd); }
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  void send_bytes(const std::string& bytes) const {
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  /// Whether the node closed the connection (read returns 0 or an error
  /// other than the timeout) within the bound.
  bool closed_by_peer() const {
    char buffer[4096];
    for (;;) {
      auto n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n == 0)
        return true;
      if (n < 0)
        return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }
};

std::shared_ptr<event_store> memory_rocksdb() {
  rocksdb_options options;
  options.in_memory = true;
  return std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))};
}

/// Connects as a proper peer with `options` and runs a create and a get.
void check_serves(const net::node_options& options, std::uint16_t port) {
  net::node client{options};
  auto app = client.connect("127.0.0.1", port);
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
    raw_connection garbage{port};
    garbage.send_bytes(std::string(4096, '\xAB') + "GET / HTTP/1.1\r\n\r\n");
    CHECK(garbage.closed_by_peer());
  }
  // The 64 bytes that crash a plain CAF 0.17.6 node (an operation byte of
  // 1, a large value behind it), then the connection ends.
  {
    raw_connection crafted{port};
    std::string header(64, '\0');
    header[0] = 0x01;
    for (int i = 8; i < 12; ++i)
      header[static_cast<std::size_t>(i)] = '\x7F';
    crafted.send_bytes(header);
  }
  std::vector<std::unique_ptr<raw_connection>> flood;
  auto half = std::make_unique<raw_connection>(port);
  half->send_bytes(std::string(10, '\0'));
  for (int i = 0; i < 200; ++i)
    flood.push_back(std::make_unique<raw_connection>(port));
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
