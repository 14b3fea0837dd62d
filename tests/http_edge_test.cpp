// The HTTP/JSON edge, through real HTTP requests on 127.0.0.1: ETag and
// If-Match, 412 with the missed events, rejections, bad input, idempotency
// keys, draining.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>


#include <httplib.h>

#include "cafes/net/http_edge.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes_samples/bank_account.hpp"
#include "raw_socket.hpp"
#include "store_fixtures.hpp"
#include "temp_dir.hpp"

using namespace cafes;
using namespace cafes_samples;
using jvalue = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<event_store> rocksdb_in_memory() {
  return std::shared_ptr<event_store>{cafes::testing::open_rocksdb("")};
}

struct edge_fixture {
  std::shared_ptr<event_store> store = rocksdb_in_memory();
  application app{store};
  net::http_edge edge{app, options()};
  std::uint16_t port;
  httplib::Client client{"127.0.0.1", 0};

  static net::http_options options() {
    net::http_options o;
    o.max_body_bytes = 1024;
    o.threads = 4;
    return o;
  }

  edge_fixture() : port(start()), client("127.0.0.1", port) {
    client.set_tcp_nodelay(true);
    client.set_read_timeout(20, 0); // only a bound: a broken edge ends the test
  }

  std::uint16_t start() {
    edge.serve<bank::account>("/accounts");
    return edge.start();
  }

  httplib::Result post(const std::string& path, const jvalue& body,
                       httplib::Headers headers = {}) {
    return client.Post(path.c_str(), headers, body.dump(), "application/json");
  }
};

jvalue body_of(const httplib::Result& res) {
  REQUIRE(res);
  auto body = jvalue::parse(res->body, nullptr, false);
  INFO(res->body);
  REQUIRE_FALSE(body.is_discarded());
  return body;
}

std::string open_account(edge_fixture& f, const std::string& owner) {
  auto res = f.post("/accounts", {{"type", "bank.open"}, {"owner", owner}});
  REQUIRE(res);
  REQUIRE(res->status == 201);
  return body_of(res)["id"].get<std::string>();
}

} // namespace

TEST_CASE("http edge - create, get and a command carry the version as ETag", "[net][http]") {
  edge_fixture f;
  auto res = f.post("/accounts", {{"type", "bank.open"}, {"owner", "ada"}});
  REQUIRE(res);
  CHECK(res->status == 201);
  CHECK(res->get_header_value("ETag") == "\"1\"");
  auto created = body_of(res);
  auto id = created["id"].get<std::string>();
  CHECK(res->get_header_value("Location") == "/accounts/" + id);
  CHECK(created["version"] == 1);
  CHECK(created["owner"] == "ada");
  CHECK(created["balance"] == 0);

  auto got = f.client.Get(("/accounts/" + id).c_str());
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->get_header_value("ETag") == "\"1\"");

  auto deposited = f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 100}},
                          {{"If-Match", "\"1\""}});
  REQUIRE(deposited);
  CHECK(deposited->status == 200);
  CHECK(deposited->get_header_value("ETag") == "\"2\"");
  CHECK(body_of(deposited)["balance"] == 100);
  // The store agrees.
  CHECK(*f.store->head(*uuid::parse(id)) == 2);
}

TEST_CASE("http edge - a stale If-Match gets 412 with the current version and the missed "
          "events, and writes nothing",
          "[net][http]") {
  edge_fixture f;
  auto id = open_account(f, "ada");
  REQUIRE(f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 30}})->status == 200);
  REQUIRE(f.post("/accounts/" + id, {{"type", "bank.withdraw"}, {"amount", 5}})->status == 200);
  auto stale = f.post("/accounts/" + id, {{"type", "bank.withdraw"}, {"amount", 10}},
                      {{"If-Match", "\"1\""}});
  REQUIRE(stale);
  CHECK(stale->status == 412);
  CHECK(stale->get_header_value("ETag") == "\"3\"");
  auto body = body_of(stale);
  CHECK(body["error"] == "conflict");
  CHECK(body["entity"] == id);
  CHECK(body["expected_version"] == 1);
  CHECK(body["actual_version"] == 3);
  CHECK(body["missed_all"] == true);
  REQUIRE(body["missed_events"].size() == 2);
  CHECK(body["missed_events"][0] == jvalue{{"type", "bank.deposited"}, {"amount", 30},
                                           {"version", 2}, {"position", 2}});
  CHECK(body["missed_events"][1]["type"] == "bank.withdrawn");
  CHECK(body["missed_events"][1]["version"] == 3);
  CHECK(*f.store->head(*uuid::parse(id)) == 3);
  // With the current tag it goes through.
  auto current = f.post("/accounts/" + id, {{"type", "bank.withdraw"}, {"amount", 10}},
                        {{"If-Match", "\"3\""}});
  REQUIRE(current);
  CHECK(current->status == 200);
  CHECK(body_of(current)["balance"] == 15);
}

TEST_CASE("http edge - rejections, unknown entities and bad input get clear errors and "
          "write nothing",
          "[net][http]") {
  edge_fixture f;
  auto id = open_account(f, "ada");
  auto entity = *uuid::parse(id);
  struct bad_case {
    std::string path;
    std::string body;
    httplib::Headers headers;
    int status;
    std::string error;
    std::string says;
  };
  std::vector<bad_case> cases{
    {"/accounts/" + id, R"({"type":"bank.withdraw","amount":5})", {}, 422, "rejected",
     "insufficient"},
    {"/accounts/" + to_string(uuid::random()), R"({"type":"bank.deposit","amount":5})", {}, 404,
     "not_found", ""},
    {"/accounts/not-a-uuid", R"({"type":"bank.deposit","amount":5})", {}, 400,
     "invalid_argument", "not an entity id"},
    {"/accounts/" + id, R"({"type":"bank.deposit","amount":5)", {}, 400, "invalid_argument",
     "not JSON"},
    {"/accounts/" + id, R"({"amount":5})", {}, 400, "invalid_argument", "\"type\""},
    {"/accounts/" + id, R"({"type":"bank.rob","amount":5})", {}, 400, "invalid_argument",
     "unknown type 'bank.rob'"},
    {"/accounts/" + id, R"({"type":"bank.deposit","amount":"5"})", {}, 400,
     "invalid_argument", "'amount': expected a number"},
    {"/accounts/" + id, R"({"type":"bank.deposit","amount":5,"to":"me"})", {}, 400,
     "invalid_argument", "'to': no such field"},
    {"/accounts/" + id, R"({"type":"bank.deposit","amount":5})", {{"If-Match", "W/\"1\""}},
     400, "invalid_argument", "If-Match"},
    {"/accounts/" + id, R"({"type":"bank.deposit","amount":5})", {{"If-Match", "\"x\""}}, 400,
     "invalid_argument", "If-Match"},
    {"/accounts", R"({"type":"bank.open","owner":"bob"})", {{"If-Match", "\"1\""}}, 400,
     "invalid_argument", "If-Match on a create"},
    {"/nothing/here", R"({})", {}, 404, "not_found", "no such path"},
    {"/accounts/" + id, std::string(2000, ' '), {}, 413, "invalid_argument", "larger"},
  };
  for (const auto& c : cases) {
    INFO(c.path << " " << c.body.substr(0, 80));
    auto res = f.client.Post(c.path.c_str(), c.headers, c.body, "application/json");
    REQUIRE(res);
    CHECK(res->status == c.status);
    auto body = body_of(res);
    CHECK(body["error"] == c.error);
    CHECK_THAT(body["message"].get<std::string>(), Catch::Contains(c.says));
  }
  CHECK(*f.store->head(entity) == 1);
  auto got = f.client.Get(("/accounts/" + to_string(uuid::random())).c_str());
  REQUIRE(got);
  CHECK(got->status == 404);
  // The edge serves on after all of it.
  CHECK(f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 5}})->status == 200);
}

TEST_CASE("http edge - an Idempotency-Key applies a command once, creates included",
          "[net][http]") {
  edge_fixture f;
  httplib::Headers once{{"Idempotency-Key", "open-ada-1"}};
  auto first = f.post("/accounts", {{"type", "bank.open"}, {"owner", "ada"}}, once);
  auto again = f.post("/accounts", {{"type", "bank.open"}, {"owner", "ada"}}, once);
  REQUIRE(first);
  REQUIRE(again);
  CHECK(first->status == 201);
  CHECK(again->status == 201);
  auto id = body_of(first)["id"].get<std::string>();
  CHECK(body_of(again)["id"] == id);
  httplib::Headers pay{{"Idempotency-Key", "deposit-7"}};
  for (int i = 0; i < 3; ++i)
    CHECK(f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 7}}, pay)->status
          == 200);
  auto got = body_of(f.client.Get(("/accounts/" + id).c_str()));
  CHECK(got["balance"] == 7);
  CHECK(got["version"] == 2);
  CHECK(f.store->read(*uuid::parse(id))->size() == 2);
}

TEST_CASE("http edge - while draining every request gets 503 with Retry-After",
          "[net][http]") {
  edge_fixture f;
  auto id = open_account(f, "ada");
  f.edge.drain();
  auto res = f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 5}});
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->get_header_value("Retry-After") == "1");
  CHECK(*f.store->head(*uuid::parse(id)) == 1);
  f.edge.stop();
  f.edge.stop(); // twice is fine
  CHECK_FALSE(f.client.Get(("/accounts/" + id).c_str()));
}

TEST_CASE("http edge - a port that is taken is a clear error", "[net][http]") {
  edge_fixture f;
  auto store = rocksdb_in_memory();
  application other{store};
  net::http_options o;
  o.port = f.port;
  net::http_edge second{other, o};
  second.serve<bank::account>("/accounts");
  try {
    second.start();
    FAIL("a taken port was bound");
  } catch (const cafes_error& e) {
    CHECK(e.code() == ec::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains(std::to_string(f.port)));
  }
  CHECK_THROWS_AS(f.edge.serve<bank::account>("/more"), cafes_error); // started already
  net::http_edge third{other};
  CHECK_THROWS_AS(third.serve<bank::account>("no-slash"), cafes_error);
  third.serve<bank::account>("/accounts");
  CHECK_THROWS_AS(third.serve<bank::account>("/accounts"), cafes_error);
}

TEST_CASE("http edge - /metrics gives requests by status and the aggregate's conflict "
          "counters in Prometheus text format",
          "[net][http]") {
  edge_fixture f;
  auto id = open_account(f, "ada");
  REQUIRE(f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 5}})->status == 200);
  auto stale = f.post("/accounts/" + id, {{"type", "bank.deposit"}, {"amount", 5}},
                      {{"If-Match", "\"1\""}});
  REQUIRE(stale);
  REQUIRE(stale->status == 412);
  REQUIRE(f.client.Get("/nothing/here")->status == 404);
  auto res = f.client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_THAT(res->get_header_value("Content-Type"), Catch::StartsWith("text/plain"));
  const auto& text = res->body;
  INFO(text);
  CHECK_THAT(text, Catch::Contains("# TYPE cafes_http_requests_total counter\n"));
  CHECK_THAT(text, Catch::Contains("cafes_http_requests_total{code=\"201\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("cafes_http_requests_total{code=\"200\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("cafes_http_requests_total{code=\"412\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("cafes_http_requests_total{code=\"404\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("cafes_conflicts_total{aggregate=\"bank_account\"} 1\n"));
  CHECK_THAT(text, Catch::Contains(
                     "cafes_missed_events_delivered_total{aggregate=\"bank_account\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("cafes_retries_exhausted_total{aggregate=\"bank_account\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("cafes_entity_actors_resident 1\n"));
  // Every sample line is `name{labels} value` or `name value`.
  std::istringstream lines{text};
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    ++samples;
    CHECK(std::regex_match(line,
                           std::regex{R"(^cafes_[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9.e+-]+$)"}));
  }
  CHECK(samples >= 10);
  // Two commits (the create and a deposit), one append each.
  CHECK_THAT(text, Catch::Contains("# TYPE cafes_append_latency_seconds histogram\n"));
  CHECK_THAT(text, Catch::Contains("cafes_append_latency_seconds_count 2\n"));
  CHECK_THAT(text, Catch::Contains("cafes_append_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("cafes_group_commit_size_bucket{le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("cafes_group_commit_size_sum 2\n"));
  CHECK_THAT(text, Catch::Contains("cafes_event_streams_open 0\n"));
}

namespace {

std::uint64_t metric(edge_fixture& f, const std::string& name) {
  auto res = f.client.Get("/metrics");
  REQUIRE(res);
  std::smatch match;
  REQUIRE(std::regex_search(res->body, match, std::regex{"\n" + name + " ([0-9]+)\n"}));
  return std::stoull(match[1].str());
}

} // namespace

TEST_CASE("http edge - GET /events tails the global log as server-sent events, stored events "
          "first, then new ones",
          "[net][http]") {
  edge_fixture f;
  auto ada = open_account(f, "ada");
  REQUIRE(f.post("/accounts/" + ada, {{"type", "bank.deposit"}, {"amount", 5}})->status == 200);
  std::mutex mutex;
  std::string received;
  std::atomic<int> events{0};
  int status = 0;
  std::thread reader{[&] {
    httplib::Client tail{"127.0.0.1", f.port};
    tail.set_read_timeout(20, 0);
    tail.Get(
      "/events?after=1", [&](const httplib::Response& res) {
        status = res.status;
        return true;
      },
      [&](const char* data, std::size_t length) {
        std::lock_guard guard{mutex};
        received.append(data, length);
        std::size_t count = 0;
        for (auto at = received.find("\n\n"); at != std::string::npos;
             at = received.find("\n\n", at + 2))
          ++count;
        events = static_cast<int>(count);
        return count < 2; // the stored deposit, then the live one
      });
  }};
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (events < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  REQUIRE(f.post("/accounts/" + ada, {{"type", "bank.withdraw"}, {"amount", 2}})->status == 200);
  reader.join();
  CHECK(status == 200);
  std::lock_guard guard{mutex};
  INFO(received);
  CHECK_THAT(received, Catch::StartsWith("id: 2\nevent: bank.deposited\ndata: {"));
  CHECK_THAT(received, Catch::Contains("\n\nid: 3\nevent: bank.withdrawn\ndata: {"));
  auto first = received.substr(received.find("data: ") + 6);
  auto data = jvalue::parse(first.substr(0, first.find('\n')));
  CHECK(data["position"] == 2);
  CHECK(data["entity"] == ada);
  CHECK(data["version"] == 2);
  CHECK(data["amount"] == 5);
  CHECK(data["type"] == "bank.deposited");
  // A bad position is a clear error, not a stream.
  auto bad = f.client.Get("/events?after=-1");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  auto past = f.client.Get("/events?after=99");
  REQUIRE(past);
  CHECK(past->status == 400);
  CHECK_THAT(past->body, Catch::Contains("past the end"));
}

TEST_CASE("http edge - thousands of random entity ids leave no entity actors resident",
          "[net][http][bad_input]") {
  edge_fixture f;
  auto kept = open_account(f, "ada");
  for (int i = 0; i < 3000; ++i) {
    auto res = f.client.Get(("/accounts/" + to_string(uuid::random())).c_str());
    REQUIRE(res);
    REQUIRE(res->status == 404);
  }
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (metric(f, "cafes_entity_actors_resident") > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(metric(f, "cafes_entity_actors_resident") == 1);
  CHECK(metric(f, "cafes_entity_actors_passivated_total") == 3000);
  CHECK(*f.store->last_position() == 1); // nothing written for them
  CHECK(f.client.Get(("/accounts/" + kept).c_str())->status == 200);
}

TEST_CASE("http edge - garbage bytes, a half-sent request and a flood of idle connections get "
          "errors or are cut off, and everyone else is still served",
          "[net][http][bad_input]") {
  edge_fixture f; // 4 worker threads, read timeout 5 s
  auto ada = open_account(f, "ada");
  {
    cafes::testing::raw_socket garbage{f.port};
    const char bytes[] = "\x16\x03\x01\x02\x00\xff\xfe garbage\r\n\r\n";
    garbage.send(std::string{bytes, sizeof bytes - 1}); // the NUL inside too
    auto answer = garbage.read_all();
    CHECK_THAT(answer, Catch::StartsWith("HTTP/1.1 400"));
  }
  {
    cafes::testing::raw_socket wrong_length{f.port};
    wrong_length.send("POST /accounts/" + ada
                           + " HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999999999999\r\n\r\n{}");
    auto answer = wrong_length.read_all();
    CHECK_THAT(answer, Catch::Matches("^HTTP/1.1 4[01][0-9][\\s\\S]*"));
  }
  // A half-sent request, and more idle connections than workers: each is
  // cut off after the read timeout, and a client behind them is answered.
  std::vector<std::unique_ptr<cafes::testing::raw_socket>> idle;
  auto half = std::make_unique<cafes::testing::raw_socket>(f.port);
  half->send("POST /accounts/" + ada + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"ty");
  for (int i = 0; i < 8; ++i)
    idle.push_back(std::make_unique<cafes::testing::raw_socket>(f.port));
  httplib::Client other{"127.0.0.1", f.port};
  other.set_read_timeout(30, 0);
  auto res = other.Post(("/accounts/" + ada).c_str(), jvalue{{"type", "bank.deposit"}, {"amount", 5}}.dump(),
                        "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(half->read_all().find("200 OK") == std::string::npos); // cut off, not run
  CHECK(*f.store->head(*uuid::parse(ada)) == 2); // only the complete request wrote
}

TEST_CASE("http edge - off loopback it needs TLS and a bearer token or client certificates",
          "[net][http][security]") {
  auto store = rocksdb_in_memory();
  application app{store};
  net::http_options open;
  open.host = "0.0.0.0";
  net::http_edge plain{app, open};
  plain.serve<bank::account>("/accounts");
  try {
    plain.start();
    FAIL("listened on every address without TLS");
  } catch (const cafes_error& e) {
    CHECK(e.code() == ec::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("needs TLS"));
  }
  net::http_options missing_files = open;
  missing_files.tls = {"/no/such/cert.pem", "/no/such/key.pem", ""};
  missing_files.bearer_token = "secret";
  net::http_edge broken{app, missing_files};
  try {
    broken.start();
    FAIL("started with certificate files that do not exist");
  } catch (const cafes_error& e) {
    CHECK(e.code() == ec::invalid_argument);
    CHECK_THAT(e.what(), Catch::Contains("/no/such/cert.pem"));
  }
}

TEST_CASE("http edge - a bearer token: 401 without it or with another, served with it",
          "[net][http][security]") {
  auto store = rocksdb_in_memory();
  application app{store};
  net::http_options options;
  options.bearer_token = "s3cret-token";
  net::http_edge edge{app, options};
  edge.serve<bank::account>("/accounts");
  auto port = edge.start();
  httplib::Client client{"127.0.0.1", port};
  auto body = jvalue{{"type", "bank.open"}, {"owner", "ada"}}.dump();
  auto none = client.Post("/accounts", body, "application/json");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(none->get_header_value("WWW-Authenticate") == "Bearer");
  client.set_bearer_token_auth("s3cret-tokeN");
  auto wrong = client.Post("/accounts", body, "application/json");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(client.Get("/metrics")->status == 401);
  CHECK(*store->last_position() == 0);
  client.set_bearer_token_auth("s3cret-token");
  auto right = client.Post("/accounts", body, "application/json");
  REQUIRE(right);
  CHECK(right->status == 201);
  CHECK(*store->last_position() == 1);
}

namespace {

/// A CA, a server certificate for 127.0.0.1, a client certificate from the
/// same CA, and a client certificate from another CA, made with openssl.
struct test_pki {
  cafes::testing::temp_dir dir;
  std::string path(const std::string& name) const { return (dir.path() / name).string(); }

  test_pki() {
    auto run = [](const std::string& command) {
      INFO(command);
      REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
    };
    for (const char* ca : {"ca", "other_ca"})
      run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + path(std::string{ca} + ".key")
          + " -out " + path(std::string{ca} + ".pem") + " -days 2 -subj /CN=" + ca);
    std::ofstream{path("ext")} << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                  "extendedKeyUsage=serverAuth,clientAuth\n";
    auto issue = [&](const std::string& name, const std::string& ca) {
      run("openssl req -newkey rsa:2048 -nodes -keyout " + path(name + ".key") + " -out "
          + path(name + ".csr") + " -subj /CN=" + name);
      run("openssl x509 -req -in " + path(name + ".csr") + " -CA " + path(ca + ".pem")
          + " -CAkey " + path(ca + ".key") + " -CAcreateserial -out " + path(name + ".pem")
          + " -days 2 -extfile " + path("ext"));
    };
    issue("server", "ca");
    issue("client", "ca");
    issue("stranger", "other_ca");
  }
};

} // namespace

TEST_CASE("http edge - HTTPS with client certificates: a client of the CA is served, one "
          "without a certificate, one of another CA and plain HTTP are refused",
          "[net][http][security][tls]") {
  test_pki pki;
  auto store = rocksdb_in_memory();
  application app{store};
  net::http_options options;
  options.tls = {pki.path("server.pem"), pki.path("server.key"), pki.path("ca.pem")};
  net::http_edge edge{app, options};
  edge.serve<bank::account>("/accounts");
  auto port = edge.start();
  auto body = jvalue{{"type", "bank.open"}, {"owner", "ada"}}.dump();
  auto try_client = [&](const std::string& cert, const std::string& key) {
    auto client = cert.empty() ? std::make_unique<httplib::SSLClient>("127.0.0.1", port)
                               : std::make_unique<httplib::SSLClient>("127.0.0.1", port, cert, key);
    client->set_ca_cert_path(pki.path("ca.pem").c_str());
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(5, 0);
    client->set_read_timeout(5, 0);
    return client->Post("/accounts", body, "application/json");
  };
  auto accepted = try_client(pki.path("client.pem"), pki.path("client.key"));
  REQUIRE(accepted);
  CHECK(accepted->status == 201);
  CHECK_FALSE(try_client("", ""));
  CHECK_FALSE(try_client(pki.path("stranger.pem"), pki.path("stranger.key")));
  httplib::Client plain{"127.0.0.1", port};
  plain.set_read_timeout(5, 0);
  CHECK_FALSE(plain.Post("/accounts", body, "application/json"));
  CHECK(*store->last_position() == 1); // only the accepted client wrote
}
