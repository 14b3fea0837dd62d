// The bank service (cafes-bank): its HTTP API in process, then across real
// processes: two clients racing on one account, and a server killed with
// SIGKILL during a stream of transfers.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <sys/wait.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bank_example/service.hpp"
#include "cafes_samples/bank_account.hpp"
#include "child_process.hpp"
#include "temp_dir.hpp"

using namespace std::chrono_literals;
using jvalue = nlohmann::json;
using cafes::testing::child_process;

namespace {

jvalue parse(const httplib::Result& res) {
  REQUIRE(res);
  INFO(res->body);
  auto body = jvalue::parse(res->body, nullptr, false);
  REQUIRE_FALSE(body.is_discarded());
  return body;
}

httplib::Client client_for(std::uint16_t port) {
  httplib::Client client{"127.0.0.1", port};
  client.set_tcp_nodelay(true);
  client.set_read_timeout(20, 0); // only a bound: a broken service ends the test
  return client;
}

httplib::Result post(httplib::Client& client, const std::string& path, const jvalue& body,
                     httplib::Headers headers = {}) {
  return client.Post(path.c_str(), headers, body.dump(), "application/json");
}

std::string open_account(httplib::Client& client, const std::string& owner,
                         std::int64_t deposit) {
  auto res = post(client, "/accounts", {{"owner", owner}});
  REQUIRE(res);
  REQUIRE(res->status == 201);
  auto id = parse(res)["id"].get<std::string>();
  if (deposit > 0) {
    auto paid = post(client, "/accounts/" + id + "/deposits", {{"amount", deposit}});
    REQUIRE(paid);
    REQUIRE(paid->status == 200);
  }
  return id;
}

/// Waits until transfer `id` has ended; returns its status ("" on timeout).
std::string await_transfer(httplib::Client& client, const std::string& id) {
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = client.Get(("/transfers/" + id).c_str());
    if (res && res->status == 200) {
      auto status = parse(res)["status"].get<std::string>();
      if (status != "requested" && status != "debited")
        return status;
    }
    std::this_thread::sleep_for(10ms);
  }
  return {};
}

std::int64_t balance(httplib::Client& client, const std::string& id) {
  auto res = client.Get(("/accounts/" + id).c_str());
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return parse(res)["balance"].get<std::int64_t>();
}

/// A `cafes-bank serve` child; its port from its first line.
struct server_process {
  child_process process;
  std::uint16_t port = 0;

  explicit server_process(std::vector<std::string> args)
    : process(with_program(std::move(args)), {child_process::watch::out, "/dev/null", {}}) {
    auto line = process.wait_for_line("cafes-bank: serving on");
    REQUIRE(line);
    auto colon = line->rfind(':');
    port = static_cast<std::uint16_t>(std::stoul(line->substr(colon + 1)));
  }

  static std::vector<std::string> with_program(std::vector<std::string> args) {
    args.insert(args.begin(), CAFES_BANK_PATH);
    return args;
  }
};

} // namespace

TEST_CASE("bank service - accounts, deposits, a stale If-Match, a rejection, transfers and the "
          "owner projection over HTTP",
          "[net][bank]") {
  bank_example::service_options options;
  options.http.threads = 4;
  bank_example::service bank{options};
  auto client = client_for(bank.port());

  auto created = post(client, "/accounts", {{"owner", "ada"}});
  REQUIRE(created);
  CHECK(created->status == 201);
  CHECK(created->get_header_value("ETag") == "\"1\"");
  auto ada = parse(created);
  CHECK(ada["owner"] == "ada");
  CHECK(ada["balance"] == 0);
  auto ada_id = ada["id"].get<std::string>();
  CHECK(created->get_header_value("Location") == "/accounts/" + ada_id);

  auto deposited = post(client, "/accounts/" + ada_id + "/deposits", {{"amount", 100}},
                        {{"If-Match", "\"1\""}});
  REQUIRE(deposited);
  CHECK(deposited->status == 200);
  CHECK(deposited->get_header_value("ETag") == "\"2\"");
  CHECK(parse(deposited)["balance"] == 100);

  // The same If-Match again: 412 with the deposit the client missed.
  auto stale = post(client, "/accounts/" + ada_id + "/withdrawals", {{"amount", 10}},
                    {{"If-Match", "\"1\""}});
  REQUIRE(stale);
  CHECK(stale->status == 412);
  auto conflict = parse(stale);
  CHECK(conflict["actual_version"] == 2);
  REQUIRE(conflict["missed_events"].size() == 1);
  CHECK(conflict["missed_events"][0]["type"] == "bank.deposited");
  CHECK(conflict["missed_events"][0]["amount"] == 100);

  auto overdrawn = post(client, "/accounts/" + ada_id + "/withdrawals", {{"amount", 1000}});
  REQUIRE(overdrawn);
  CHECK(overdrawn->status == 422);
  auto bad_amount = post(client, "/accounts/" + ada_id + "/deposits", {{"amount", "ten"}});
  REQUIRE(bad_amount);
  CHECK(bad_amount->status == 400);
  CHECK_THAT(bad_amount->body, Catch::Contains("amount"));
  auto unknown = client.Get("/accounts/8c0a7e2e-4c4f-4f38-9b0b-6b1d8f1f0c11");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);

  auto bob_id = open_account(client, "bob", 0);
  auto carol_id = open_account(client, "carol", 0);
  auto closed = post(client, "/accounts/" + carol_id, {{"type", "bank.close"}});
  REQUIRE(closed);
  CHECK(closed->status == 200);

  auto paid = post(client, "/transfers", {{"from", ada_id}, {"to", bob_id}, {"amount", 30}});
  REQUIRE(paid);
  CHECK(paid->status == 202);
  auto paid_body = parse(paid);
  CHECK(paid_body["status"] == "requested");
  CHECK(await_transfer(client, paid_body["id"].get<std::string>()) == "completed");
  auto refunded = post(client, "/transfers", {{"from", ada_id}, {"to", carol_id}, {"amount", 20}});
  REQUIRE(refunded);
  REQUIRE(refunded->status == 202);
  CHECK(await_transfer(client, parse(refunded)["id"].get<std::string>()) == "refunded");
  CHECK(balance(client, ada_id) == 70);
  CHECK(balance(client, bob_id) == 30);

  // The projection catches up shortly after the writes.
  jvalue owned;
  for (int i = 0; i < 500; ++i) {
    owned = parse(client.Get("/accounts?owner=ada"));
    if (owned["balance"] == 70)
      break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(owned["balance"] == 70);
  REQUIRE(owned["accounts"].size() == 1);
  CHECK(owned["accounts"][0]["id"] == ada_id);

  auto history = parse(client.Get(("/accounts/" + ada_id + "/events").c_str()));
  REQUIRE(history.size() == 5); // opened, deposited, withdrawn, withdrawn, deposited (refund)
  CHECK(history[0]["type"] == "bank.opened");
  CHECK(history[4]["type"] == "bank.deposited");
  CHECK(history[4]["amount"] == 20);
}

TEST_CASE("bank service - two client processes racing on one account get exactly one conflict "
          "per race and money is conserved",
          "[net][bank][process]") {
  server_process server{{"serve", "--http", "127.0.0.1:0"}};
  auto client = client_for(server.port);
  auto account = open_account(client, "ada", 0);
  auto url = "http://127.0.0.1:" + std::to_string(server.port);
  constexpr int races = 8;
  int won = 0;
  for (int race = 0; race < races; ++race) {
    auto version = parse(client.Get(("/accounts/" + account).c_str()))["version"].get<int>();
    // Two processes, both at `version`: one deposit lands, the other is stale.
    auto args = std::vector<std::string>{"deposit", "--url", url, "--account", account,
                                         "--amount", "1", "--if-match", std::to_string(version)};
    child_process first{server_process::with_program(args), {child_process::watch::err, "/dev/null", {}}};
    child_process second{server_process::with_program(args), {child_process::watch::err, "/dev/null", {}}};
    auto first_status = first.wait();
    auto second_status = second.wait();
    REQUIRE(WIFEXITED(first_status));
    REQUIRE(WIFEXITED(second_status));
    auto codes = std::multiset<int>{WEXITSTATUS(first_status), WEXITSTATUS(second_status)};
    CHECK(codes == std::multiset<int>{0, 1}); // 0: applied, 1: HTTP 412
    auto lost = WEXITSTATUS(first_status) == 1 ? &first : &second;
    CHECK_THAT(lost->text(), Catch::Contains("HTTP 412"));
    won += WEXITSTATUS(first_status) == 0 ? 1 : 0;
    won += WEXITSTATUS(second_status) == 0 ? 1 : 0;
  }
  CHECK(won == races);
  CHECK(balance(client, account) == races);
  auto metrics = client.Get("/metrics");
  REQUIRE(metrics);
  CHECK_THAT(metrics->body,
             Catch::Contains("cafes_conflicts_total{aggregate=\"bank_account\"} "
                             + std::to_string(races) + "\n"));
  server.process.send(SIGTERM);
  auto status = server.process.wait();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("bank service - a server killed during a stream of transfers loses no acknowledged "
          "command and ends every transfer after restart",
          "[net][bank][process]") {
  cafes::testing::temp_dir dir;
  auto db = (dir.path() / "bank").string();
  std::vector<std::string> accounts;
  std::vector<std::string> acknowledged; // transfers answered 202
  std::int64_t total = 0;
  {
    server_process server{{"serve", "--db", db, "--http", "127.0.0.1:0"}};
    auto client = client_for(server.port);
    for (int i = 0; i < 4; ++i) {
      accounts.push_back(open_account(client, "owner" + std::to_string(i), 1000));
      total += 1000;
    }
    // A closed account makes some transfers refunds.
    auto closed = open_account(client, "closed", 0);
    REQUIRE(post(client, "/accounts/" + closed, {{"type", "bank.close"}})->status == 200);
    accounts.push_back(closed);
    std::atomic<bool> stop{false};
    std::atomic<std::size_t> acknowledged_count{0};
    std::thread writer{[&] {
      auto writer_client = client_for(server.port);
      writer_client.set_read_timeout(5, 0);
      for (int i = 0; !stop; ++i) {
        auto from = accounts[static_cast<std::size_t>(i) % 4];
        auto to = accounts[static_cast<std::size_t>(i * 3 + 1) % accounts.size()];
        if (from == to)
          continue;
        auto res = post(writer_client, "/transfers", {{"from", from}, {"to", to}, {"amount", 7}});
        if (!res)
          return; // the server is gone: this one's outcome is unknown
        if (res->status == 202) {
          acknowledged.push_back(jvalue::parse(res->body)["id"].get<std::string>());
          ++acknowledged_count;
        }
      }
    }};
    while (acknowledged_count < 100)
      std::this_thread::sleep_for(5ms);
    server.process.send(SIGKILL);
    server.process.wait();
    stop = true;
    writer.join();
  }
  REQUIRE(acknowledged.size() >= 100);
  server_process restarted{{"serve", "--db", db, "--http", "127.0.0.1:0"}};
  auto client = client_for(restarted.port);
  std::map<std::string, int> outcomes;
  for (const auto& id : acknowledged)
    ++outcomes[await_transfer(client, id)];
  CHECK(outcomes[""] == 0); // none left unfinished
  CHECK(outcomes["completed"] + outcomes["refunded"] == static_cast<int>(acknowledged.size()));
  CHECK(outcomes["refunded"] > 0);
  // Transfers not acknowledged may have run too: money is conserved anyway
  // once every transfer in the log has ended.
  std::int64_t sum = 0;
  for (int attempt = 0; attempt < 300; ++attempt) {
    sum = 0;
    for (const auto& account : accounts)
      sum += balance(client, account);
    if (sum == total)
      break;
    std::this_thread::sleep_for(10ms); // an unacknowledged transfer still debited
  }
  CHECK(sum == total);
}

TEST_CASE("bank service - with a CAF node, another CAF program uses the same accounts through "
          "the repository API while HTTP clients see them",
          "[net][bank][node]") {
  bank_example::service_options options;
  options.http.threads = 4;
  options.node = cafes::net::node_options{};
  bank_example::service bank{options};
  REQUIRE(bank.node_port() > 0);
  auto client = client_for(bank.port());
  auto id = open_account(client, "ada", 50);

  cafes::net::node peer;
  auto remote = peer.connect("127.0.0.1", bank.node_port());
  REQUIRE(remote);
  namespace bank_sample = cafes_samples::bank;
  auto accounts = (*remote)->entities<bank_sample::account>();
  auto account = accounts.get(*cafes::uuid::parse(id));
  CHECK(account.version == 2);
  CHECK(account.state.balance == 50);
  accounts.execute(account, bank_sample::deposit{25});
  CHECK(account.version == 3);
  CHECK(balance(client, id) == 75);
  // A stale copy over the node gets the conflict with the missed event.
  auto stale = post(client, "/accounts/" + id + "/withdrawals", {{"amount", 5}});
  REQUIRE(stale->status == 200);
  auto refused = accounts.try_execute(account, bank_sample::withdraw{5});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == cafes::ec::conflict);
  CHECK(refused.error().actual_version == 4);
  remote->reset(); // before the peer node
}
