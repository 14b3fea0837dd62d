// The HTTP/JSON edge, through real HTTP requests on 127.0.0.1: ETag and
// If-Match, 412 with the missed events, rejections, bad input, idempotency
// keys, draining.

#include <catch2/catch.hpp>

#include <regex>
#include <sstream>
#include <string>

#include <httplib.h>

#include "cafes/net/http_edge.hpp"
#include "cafes/storage/rocksdb_store.hpp"
#include "cafes_samples/bank_account.hpp"

using namespace cafes;
using namespace cafes_samples;
using jvalue = nlohmann::json;

namespace {

std::shared_ptr<event_store> rocksdb_in_memory() {
  rocksdb_options options;
  options.in_memory = true;
  return std::shared_ptr<event_store>{std::move(*rocksdb_store::open(options))};
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
    CHECK(std::regex_match(line, std::regex{R"(^cafes_[a-z_]+(\{[a-z]+="[^"]*"\})? [0-9]+$)"}));
  }
  CHECK(samples >= 10);
}
