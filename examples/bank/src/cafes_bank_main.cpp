// cafes-bank: the bank service (serve) and its command-line client (every
// other subcommand talks to a running service over HTTP). See service.hpp
// for the HTTP API; any HTTP client can use it.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bank_example/service.hpp"
#include "cafes/tools/cli.hpp"
#include "cafes/tools/stop.hpp"

using namespace cafes;
using jvalue = nlohmann::json;

namespace {

/// Returns the first line of file `path` (a token), or nullopt.
std::optional<std::string> read_token(const std::string& path) {
  std::ifstream in{path};
  std::string token;
  if (!in || !std::getline(in, token))
    return std::nullopt;
  while (!token.empty() && (token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.empty())
    return std::nullopt;
  return token;
}

struct client_options {
  std::string url = "http://127.0.0.1:8080";
  std::string token_file;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

/// What a client subcommand sends.
struct call {
  std::string method = "GET";
  std::string path;
  jvalue body;
  httplib::Headers headers;
};

std::unique_ptr<httplib::Client> make_client(const client_options& options) {
  auto client = options.tls_cert.empty()
                  ? std::make_unique<httplib::Client>(options.url)
                  : std::make_unique<httplib::Client>(options.url, options.tls_cert,
                                                      options.tls_key);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(60, 0);
  if (!options.tls_ca.empty()) {
    client->set_ca_cert_path(options.tls_ca.c_str());
    client->enable_server_certificate_verification(true);
  }
  return client;
}

/// Sends `request`, prints the JSON answer on stdout. Returns the exit code:
/// 0 for 2xx; 1 for an error status (also one line "error: ..." on stderr);
/// 3 when the service cannot be reached.
int send(const client_options& options, const std::string& token, const call& request,
         jvalue* answer = nullptr) {
  auto client = make_client(options);
  if (!client->is_valid()) {
    std::fprintf(stderr, "error: '%s' is not a service URL like http://127.0.0.1:8080\n",
                 options.url.c_str());
    return tools::exit_usage;
  }
  if (!token.empty())
    client->set_bearer_token_auth(token.c_str());
  auto res = request.method == "POST"
               ? client->Post(request.path.c_str(), request.headers, request.body.dump(),
                              "application/json")
               : client->Get(request.path.c_str(), request.headers);
  if (!res) {
    std::fprintf(stderr, "error: cannot reach %s: %s\n", options.url.c_str(),
                 httplib::to_string(res.error()).c_str());
    return tools::exit_unavailable;
  }
  auto body = jvalue::parse(res->body, nullptr, false);
  std::printf("%s\n", body.is_discarded() ? res->body.c_str() : body.dump().c_str());
  if (answer)
    *answer = body;
  if (res->status >= 200 && res->status < 300)
    return tools::exit_ok;
  std::string message = body.is_object() && body.contains("message") && body["message"].is_string()
                          ? body["message"].get<std::string>()
                          : res->body;
  std::fprintf(stderr, "error: HTTP %d: %s\n", res->status, message.c_str());
  return tools::exit_failed;
}

int serve(const std::string& db, const std::string& http, const std::string& node,
          const std::string& cert, const std::string& key, const std::string& ca,
          const std::string& token_file, std::uint64_t idle_ms) {
  bank_example::service_options options;
  options.db = db;
  auto address = tools::host_port(http);
  if (!address)
    return tools::usage_error("--http: '" + http + "' is not HOST:PORT");
  if (!node.empty()) {
    auto node_address = tools::host_port(node);
    if (!node_address)
      return tools::usage_error("--node: '" + node + "' is not HOST:PORT");
    net::node_options node_options;
    node_options.host = node_address->first;
    node_options.port = node_address->second;
    if (!cert.empty()) {
      if (ca.empty())
        return tools::usage_error("--node with --tls-cert needs --tls-ca: nodes authenticate "
                                  "each other with certificates of one CA");
      node_options.tls = net::tls_options{cert, key, "", ca};
    } else if (node_address->first.rfind("127.", 0) != 0 && node_address->first != "localhost") {
      return tools::usage_error("--node " + node
                                + ": off loopback a node needs --tls-cert, --tls-key and "
                                  "--tls-ca");
    }
    options.node = node_options;
  }
  options.http.host = address->first;
  options.http.port = address->second;
  options.http.tls = {cert, key, ca};
  if ((cert.empty() != key.empty()) || (!ca.empty() && cert.empty()))
    return tools::usage_error("--tls-cert and --tls-key go together (and --tls-ca needs them)");
  if (!token_file.empty()) {
    auto token = read_token(token_file);
    if (!token)
      return tools::usage_error("--token-file: cannot read a token from '" + token_file + "'");
    options.http.bearer_token = *token;
  }
  options.idle_timeout = std::chrono::milliseconds{idle_ms};
  tools::install_stop_handlers();
  tools::ignore_file_size_signal();
  try {
    bank_example::service bank{options};
    if (options.node)
      std::printf("cafes-bank: CAF node on %s:%u%s\n", options.node->host.c_str(),
                  static_cast<unsigned>(bank.node_port()), options.node->tls ? " (TLS)" : "");
    std::printf("cafes-bank: serving on %s://%s:%u (%s)\n", cert.empty() ? "http" : "https",
                options.http.host.c_str(), static_cast<unsigned>(bank.port()),
                db.empty() ? "RocksDB in memory" : db.c_str());
    std::fflush(stdout);
    while (!tools::stop_requested())
      std::this_thread::sleep_for(std::chrono::milliseconds{50});
    bank.stop();
    std::printf("cafes-bank: stopped (%s)\n", tools::stop_signal_name());
    return tools::exit_ok;
  } catch (const cafes_error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.details().code == ec::invalid_argument ? tools::exit_usage
                                                     : tools::exit_unavailable;
  }
}

/// Follows GET /events from `after`, printing each event's JSON on a line;
/// ends after `count` events (0: never).
int tail(const client_options& options, const std::string& token, std::uint64_t after,
         std::uint64_t count) {
  auto client = make_client(options);
  if (!token.empty())
    client->set_bearer_token_auth(token.c_str());
  client->set_read_timeout(3600, 0);
  std::string pending;
  std::uint64_t printed = 0;
  int status = 0;
  auto res = client->Get(
    ("/events?after=" + std::to_string(after)).c_str(),
    [&](const httplib::Response& response) {
      status = response.status;
      return true;
    },
    [&](const char* data, std::size_t length) {
      pending.append(data, length);
      std::size_t end;
      while ((end = pending.find("\n\n")) != std::string::npos) {
        auto event = pending.substr(0, end);
        pending.erase(0, end + 2);
        std::istringstream lines{event};
        std::string line;
        while (std::getline(lines, line))
          if (line.rfind("data: ", 0) == 0) {
            std::printf("%s\n", line.substr(6).c_str());
            std::fflush(stdout);
            if (count > 0 && ++printed >= count)
              return false;
          }
      }
      return !tools::stop_requested();
    });
  if (count > 0 && printed >= count)
    return tools::exit_ok;
  if (status >= 400) {
    std::fprintf(stderr, "error: HTTP %d: %s\n", status, pending.c_str());
    return tools::exit_failed;
  }
  if (!res && !tools::stop_requested()) {
    std::fprintf(stderr, "error: the stream from %s ended: %s\n", options.url.c_str(),
                 httplib::to_string(res.error()).c_str());
    return tools::exit_unavailable;
  }
  return tools::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App cli{"cafes-bank: a bank service over HTTP/JSON (serve), and its client"};
  cli.require_subcommand(1);

  std::string db, http = "127.0.0.1:8080", node, cert, key, ca, token_file;
  std::uint64_t idle_ms = 120'000;
  auto* serve_cmd = cli.add_subcommand("serve", "run the service until SIGINT or SIGTERM");
  serve_cmd->add_option("--db", db, "RocksDB directory (omitted: in memory)")
    ->check(tools::non_empty_path());
  serve_cmd->add_option("--http", http, "HOST:PORT to listen on (loopback: no TLS needed)");
  serve_cmd->add_option("--node", node,
                        "also publish accounts and transfers as a CAF node at HOST:PORT");
  serve_cmd->add_option("--tls-cert", cert, "certificate (PEM): serve HTTPS (and TLS on --node)");
  serve_cmd->add_option("--tls-key", key, "its private key (PEM)");
  serve_cmd->add_option("--tls-ca", ca, "CA of the client certificates to demand (and of the "
                                        "node's peers)");
  serve_cmd->add_option("--token-file", token_file, "file whose first line is the bearer token");
  serve_cmd->add_option("--idle-timeout-ms", idle_ms, "idle entities leave memory after this")
    ->check(tools::whole_number(1, 86'400'000));

  client_options client;
  std::string account, from, to, owner, idempotency_key;
  std::int64_t amount = 0;
  std::uint64_t if_match = 0, after = 0, count = 0, wait_s = 10;
  bool has_if_match = false;
  auto add_client = [&](CLI::App* sub) {
    sub->add_option("--url", client.url, "the service (http://127.0.0.1:8080)");
    sub->add_option("--token-file", client.token_file, "file whose first line is the token");
    sub->add_option("--tls-ca", client.tls_ca, "CA to check the service's certificate with");
    sub->add_option("--tls-cert", client.tls_cert, "client certificate (PEM)");
    sub->add_option("--tls-key", client.tls_key, "its private key (PEM)");
    return sub;
  };
  auto* open_cmd = add_client(cli.add_subcommand("open", "open an account"));
  open_cmd->add_option("--owner", owner, "its owner")->required();
  open_cmd->add_option("--key", idempotency_key, "Idempotency-Key");
  std::vector<CLI::App*> money;
  for (const char* name : {"deposit", "withdraw"}) {
    auto* sub = add_client(cli.add_subcommand(name, std::string{name} + " an amount"));
    sub->add_option("--account", account, "the account's id")->required();
    sub->add_option("--amount", amount, "a positive whole number")
      ->required()
      ->check(tools::whole_number(1, 1'000'000'000'000));
    sub->add_option("--if-match", if_match, "run only at this version (else 412)")
      ->check(tools::whole_number(0, 1'000'000'000'000))
      ->each([&](const std::string&) { has_if_match = true; });
    sub->add_option("--key", idempotency_key, "Idempotency-Key");
    money.push_back(sub);
  }
  auto* transfer_cmd = add_client(cli.add_subcommand("transfer", "move money between accounts"));
  transfer_cmd->add_option("--from", from, "source account")->required();
  transfer_cmd->add_option("--to", to, "target account")->required();
  transfer_cmd->add_option("--amount", amount, "a positive whole number")
    ->required()
    ->check(tools::whole_number(1, 1'000'000'000'000));
  transfer_cmd->add_option("--wait", wait_s, "seconds to wait for the outcome (0: do not)")
    ->check(tools::whole_number(0, 3600));
  transfer_cmd->add_option("--key", idempotency_key, "Idempotency-Key");
  auto* balance_cmd = add_client(cli.add_subcommand("balance", "an account's state"));
  balance_cmd->add_option("--account", account, "the account's id")->required();
  auto* history_cmd = add_client(cli.add_subcommand("history", "an account's events"));
  history_cmd->add_option("--account", account, "the account's id")->required();
  auto* accounts_cmd = add_client(cli.add_subcommand("accounts", "open accounts (the projection)"));
  accounts_cmd->add_option("--owner", owner, "only this owner's (else the totals)");
  auto* tail_cmd = add_client(cli.add_subcommand("tail", "follow the global log"));
  tail_cmd->add_option("--after", after, "from after this position")
    ->check(tools::whole_number(0, UINT64_MAX));
  tail_cmd->add_option("--count", count, "stop after this many events (0: never)")
    ->check(tools::whole_number(0, UINT64_MAX));

  if (auto code = tools::parse(cli, argc, argv))
    return *code;
  if (serve_cmd->parsed())
    return serve(db, http, node, cert, key, ca, token_file, idle_ms);

  std::string token;
  if (!client.token_file.empty()) {
    auto read = read_token(client.token_file);
    if (!read)
      return tools::usage_error("--token-file: cannot read a token from '" + client.token_file
                                + "'");
    token = *read;
  }
  call request;
  if (!idempotency_key.empty())
    request.headers.emplace("Idempotency-Key", idempotency_key);
  if (open_cmd->parsed()) {
    request = {"POST", "/accounts", {{"owner", owner}}, request.headers};
  } else if (money[0]->parsed() || money[1]->parsed()) {
    request.method = "POST";
    request.path = "/accounts/" + account + (money[0]->parsed() ? "/deposits" : "/withdrawals");
    request.body = {{"amount", amount}};
    if (has_if_match)
      request.headers.emplace("If-Match", "\"" + std::to_string(if_match) + "\"");
  } else if (transfer_cmd->parsed()) {
    request.method = "POST";
    request.path = "/transfers";
    request.body = {{"from", from}, {"to", to}, {"amount", amount}};
    jvalue answer;
    if (auto code = send(client, token, request, &answer); code != 0 || wait_s == 0)
      return code;
    auto id = answer.value("id", std::string{});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{wait_s};
    auto poller = make_client(client); // one keep-alive connection for every look
    if (!token.empty())
      poller->set_bearer_token_auth(token.c_str());
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
      jvalue state;
      auto res = poller->Get(("/transfers/" + id).c_str());
      if (res && res->status == 200) {
        state = jvalue::parse(res->body, nullptr, false);
        auto status = state.is_object() ? state.value("status", std::string{}) : std::string{};
        if (status != "requested" && status != "debited") {
          std::printf("%s\n", state.dump().c_str());
          return status == "completed" ? tools::exit_ok : tools::exit_failed;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "error: transfer %s has not ended after %llu s\n", id.c_str(),
                     static_cast<unsigned long long>(wait_s));
        return tools::exit_failed;
      }
    }
  } else if (balance_cmd->parsed()) {
    request.path = "/accounts/" + account;
  } else if (history_cmd->parsed()) {
    request.path = "/accounts/" + account + "/events";
  } else if (accounts_cmd->parsed()) {
    request.path = owner.empty() ? "/accounts" : "/accounts?owner=" + httplib::detail::encode_query_param(owner);
  } else if (tail_cmd->parsed()) {
    tools::install_stop_handlers();
    return tail(client, token, after, count);
  }
  return send(client, token, request);
}
