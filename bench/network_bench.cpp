#include "network_bench.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "bench_support.hpp"
#include "cafes/net/http_edge.hpp"
#include "cafes/net/node.hpp"
#include "cafes_samples/bank_account.hpp"

namespace cafes::bench {

namespace {

namespace bank = cafes_samples::bank;
using clock_type = std::chrono::steady_clock;
constexpr std::size_t many_clients = 64;

/// One client's calls on its own account, whatever the path.
struct client {
  std::function<void()> execute; // a deposit of 1, no expected version
  std::function<void()> get;
};

/// A path: makes clients (each with an account of its own).
struct path {
  const char* name;
  std::function<std::unique_ptr<client>()> make_client;
};

void expect(bool ok, const std::string& what) {
  if (!ok)
    throw std::runtime_error("network bench: " + what);
}

/// A client of `accounts` (the synchronous API, in process or remote) with
/// an account of its own.
std::unique_ptr<client> client_of(repository<bank::account>& accounts) {
  auto id = accounts.create(bank::open{"bench"}).id;
  auto out = std::make_unique<client>();
  out->execute = [&accounts, id] { accounts.execute(id, bank::deposit{1}); };
  out->get = [&accounts, id] { (void)accounts.get(id); };
  return out;
}

struct in_process {
  application app{open_memory_store()};
  repository<bank::account> accounts = app.entities<bank::account>();

  std::unique_ptr<client> make() { return client_of(accounts); }
};

/// The edge over its own application; clients over HTTP or HTTPS.
struct over_http {
  application app{open_memory_store()};
  net::http_edge edge;
  std::uint16_t port = 0;
  std::string ca; // HTTPS: the CA to trust

  static net::http_options options(const std::string& cert, const std::string& key) {
    net::http_options o;
    o.threads = many_clients + 8; // a keep-alive connection holds a worker
    o.tls = {cert, key, ""};
    return o;
  }

  over_http(const std::string& cert, const std::string& key, std::string trusted)
    : edge(app, options(cert, key)), ca(std::move(trusted)) {
    edge.serve<bank::account>("/accounts");
    port = edge.start();
  }

  std::unique_ptr<client> make() {
    std::shared_ptr<httplib::Client> http;
    if (ca.empty()) {
      http = std::make_shared<httplib::Client>("127.0.0.1", port);
    } else {
      http = std::make_shared<httplib::Client>("https://127.0.0.1:" + std::to_string(port));
      http->set_ca_cert_path(ca.c_str());
      http->enable_server_certificate_verification(true);
    }
    http->set_keep_alive(true);
    http->set_tcp_nodelay(true);
    http->set_read_timeout(30, 0);
    auto created = http->Post("/accounts", R"({"type":"bank.open","owner":"bench"})",
                              "application/json");
    expect(created && created->status == 201,
           "create over HTTP: " + (created ? std::to_string(created->status)
                                           : httplib::to_string(created.error())));
    auto body = nlohmann::json::parse(created->body);
    auto path = "/accounts/" + body["id"].get<std::string>();
    auto out = std::make_unique<client>();
    out->execute = [http, path] {
      auto res = http->Post(path.c_str(), R"({"type":"bank.deposit","amount":1})",
                            "application/json");
      expect(res && res->status == 200, "a deposit over HTTP failed");
    };
    out->get = [http, path] {
      auto res = http->Get(path.c_str());
      expect(res && res->status == 200, "a get over HTTP failed");
    };
    return out;
  }
};

/// A CAF node serving its own application, and a second node in this
/// process connected to it over loopback TCP (plain or mutual TLS).
struct over_node {
  net::node server;
  application app;
  std::uint16_t port;
  net::node client_node;
  std::unique_ptr<application> remote;
  repository<bank::account> accounts;

  static net::node_options options(const std::string& dir) {
    net::node_options o;
    if (!dir.empty())
      o.tls = net::tls_options{dir + "/node.pem", dir + "/node.key", "", dir + "/ca.pem"};
    return o;
  }

  explicit over_node(const std::string& pki_dir)
    : server(options(pki_dir)),
      app(server.system(), open_memory_store()),
      port(server.publish<bank::account>(app)),
      client_node(options(pki_dir)),
      remote(connect()),
      accounts(remote->entities<bank::account>()) {}

  ~over_node() {
    remote.reset(); // before the client's node
    server.close();
  }

  std::unique_ptr<application> connect() {
    auto connected = client_node.connect("127.0.0.1", port);
    expect(connected.ok(), "connect to the node");
    return std::move(*connected);
  }

  std::unique_ptr<client> make() { return client_of(accounts); }
};

/// Percentile `p` (0-100) of `values`.
double percentile(std::vector<double> values, double p) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  auto at = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1));
  return values[at];
}

/// p50 and p99 in microseconds of `calls` calls of `call`.
std::pair<double, double> round_trips(const std::function<void()>& call, std::uint64_t calls) {
  std::vector<double> us;
  us.reserve(calls);
  for (std::uint64_t i = 0; i < calls; ++i) {
    auto start = clock_type::now();
    call();
    us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - start).count());
  }
  return {percentile(us, 50), percentile(us, 99)};
}

/// Commands per second of 64 clients, `calls` in all.
double throughput(std::vector<std::unique_ptr<client>>& clients, std::uint64_t calls) {
  auto each = std::max<std::uint64_t>(calls / clients.size(), 1);
  std::vector<std::thread> threads;
  auto start = clock_type::now();
  std::exception_ptr failed;
  std::mutex failed_mutex;
  for (auto& c : clients)
    threads.emplace_back([&c, each, &failed, &failed_mutex] {
      try {
        for (std::uint64_t i = 0; i < each; ++i)
          c->execute();
      } catch (...) {
        std::lock_guard guard{failed_mutex};
        failed = std::current_exception();
      }
    });
  for (auto& t : threads)
    t.join();
  if (failed)
    std::rethrow_exception(failed);
  return static_cast<double>(each * clients.size()) / seconds_since(start);
}

struct figures {
  std::vector<double> execute_p50, execute_p99, get_p50, per_second;
};

} // namespace

nlohmann::json measure_network(int repeats, std::uint64_t calls) {
  scratch_dir dir;
  std::filesystem::create_directories(dir.path());
  // A CA and one certificate it signs, for both nodes (mutual TLS).
  auto cert = dir.path() + "/node.pem";
  auto key = dir.path() + "/node.key";
  auto quiet = [](const std::string& command) {
    return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
  };
  bool tls =
    quiet("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout "
          + dir.path() + "/ca.key -out " + dir.path() + "/ca.pem")
    && quiet("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth,"
             "clientAuth\\n' > " + dir.path() + "/ext")
    && quiet("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout " + key + " -out "
             + dir.path() + "/node.csr")
    && quiet("openssl x509 -req -in " + dir.path() + "/node.csr -CA " + dir.path() + "/ca.pem -CAkey "
             + dir.path() + "/ca.key -CAcreateserial -days 2 -extfile " + dir.path() + "/ext -out "
             + cert)
    // The HTTPS edge: a self-signed certificate the client trusts as is.
    && quiet("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -addext "
             "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " + dir.path()
             + "/edge.key -out " + dir.path() + "/edge.pem");
  struct named {
    const char* name;
    std::function<figures()> run;
  };
  auto run_path = [&](auto make_server) {
    figures f;
    for (int r = 0; r < repeats; ++r) {
      stop_point();
      auto server = make_server();
      auto one = server->make();
      for (int warm = 0; warm < 200; ++warm)
        one->execute();
      auto [e50, e99] = round_trips(one->execute, calls);
      auto [g50, g99] = round_trips(one->get, calls / 2);
      (void)g99;
      std::vector<std::unique_ptr<client>> clients;
      for (std::size_t i = 0; i < many_clients; ++i)
        clients.push_back(server->make());
      f.execute_p50.push_back(e50);
      f.execute_p99.push_back(e99);
      f.get_p50.push_back(g50);
      f.per_second.push_back(throughput(clients, calls * 4));
    }
    return f;
  };
  std::vector<named> paths{
    {"in process", [&] { return run_path([] { return std::make_unique<in_process>(); }); }},
    {"CAF node", [&] { return run_path([] { return std::make_unique<over_node>(""); }); }},
    {"HTTP", [&] { return run_path([] { return std::make_unique<over_http>("", "", ""); }); }},
  };
  if (tls) {
    paths.push_back({"node TLS", [&] {
                       return run_path([&] { return std::make_unique<over_node>(dir.path()); });
                     }});
    paths.push_back({"HTTPS", [&] {
                       return run_path([&] { return std::make_unique<over_http>(dir.path() + "/edge.pem", dir.path() + "/edge.key",
                                                       dir.path() + "/edge.pem"); });
                     }});
  } else {
    std::printf("  (no openssl program: node TLS and HTTPS skipped)\n");
  }
  nlohmann::json rows = nlohmann::json::array();
  double base_execute = 0, base_get = 0, base_rate = 0;
  for (auto& p : paths) {
    auto f = p.run();
    auto execute = median(f.execute_p50);
    auto get = median(f.get_p50);
    auto rate = median(f.per_second);
    if (rows.empty()) {
      base_execute = execute;
      base_get = get;
      base_rate = rate;
    }
    std::printf("  %-10s 1 client: command p50 %7.1f us (runs %.1f-%.1f, p99 %.1f), "
                "get p50 %7.1f us; 64 clients: %8.0f commands/s (runs %.0f-%.0f); "
                "vs in process: command %.2fx, get %.2fx, throughput %.2fx\n",
                p.name, execute, *std::min_element(f.execute_p50.begin(), f.execute_p50.end()),
                *std::max_element(f.execute_p50.begin(), f.execute_p50.end()),
                median(f.execute_p99), get, rate,
                *std::min_element(f.per_second.begin(), f.per_second.end()),
                *std::max_element(f.per_second.begin(), f.per_second.end()),
                execute / base_execute, get / base_get, rate / base_rate);
    std::fflush(stdout);
    rows.push_back({{"path", p.name},
                    {"command_p50_us", execute},
                    {"command_p99_us", median(f.execute_p99)},
                    {"get_p50_us", get},
                    {"commands_per_second_64_clients", rate},
                    {"command_p50_runs_us", f.execute_p50},
                    {"per_second_runs", f.per_second},
                    {"command_ratio", execute / base_execute},
                    {"get_ratio", get / base_get},
                    {"throughput_ratio", rate / base_rate}});
  }
  return rows;
}

} // namespace cafes::bench
