#pragma once
// The bench's "node" case: one client's round trip (a get, and an execute
// on a fresh copy) through the synchronous API, in-process and through a
// CAF node in another process, plain TCP and mutual TLS, in one run.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "cafes/net/node.hpp"
#include "cafes_samples/tally.hpp"
#include "bench_support.hpp"

namespace cafes::bench {

/// The bench run again as a node server ("cafes-bench --serve-node [CERT
/// KEY CA]"): an in-memory application whose tally a node publishes. It
/// writes the port to stdout and serves until its stdin closes. A fresh
/// process (fork + exec), not a fork alone: RocksDB's background threads
/// from earlier cases would be missing in a forked child.
inline int serve_node(int argc, char** argv) {
  try {
    net::node_options options;
    if (argc == 5)
      options.tls = net::tls_options{argv[2], argv[3], "", argv[4]};
    net::node node{options};
    application app{node.system(), open_memory_store()};
    std::uint16_t port = node.publish<cafes_samples::tally::counter>(app);
    std::printf("%u\n", static_cast<unsigned>(port));
    std::fflush(stdout);
    char ignored;
    while (::read(STDIN_FILENO, &ignored, 1) > 0) // until the parent closes it
      ;
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cafes-bench --serve-node: %s\n", e.what());
    return 3;
  }
}

/// A serve_node process, ended by the destructor.
class node_server_process {
public:
  explicit node_server_process(const std::optional<net::tls_options>& tls) {
    std::vector<std::string> args{"cafes-bench", "--serve-node"};
    if (tls)
      args.insert(args.end(), {tls->certificate, tls->key, tls->ca_file});
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int to_child[2], from_child[2];
    if (::pipe(to_child) != 0 || ::pipe(from_child) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) { // async-signal-safe calls only until exec
      ::dup2(to_child[0], STDIN_FILENO);
      ::dup2(from_child[1], STDOUT_FILENO);
      ::close(to_child[1]);
      ::close(from_child[0]);
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    to_child_ = to_child[1];
    std::string line;
    char c;
    while (::read(from_child[0], &c, 1) == 1 && c != '\n')
      line += c;
    ::close(from_child[0]);
    if (line.empty()) {
      stop();
      throw std::runtime_error("the bench's node server did not start");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line));
  }
  ~node_server_process() { stop(); }
  node_server_process(const node_server_process&) = delete;
  node_server_process& operator=(const node_server_process&) = delete;

  std::uint16_t port() const { return port_; }

private:
  void stop() {
    if (to_child_ >= 0)
      ::close(to_child_);
    to_child_ = -1;
    if (pid_ > 0) {
      int status;
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }
  pid_t pid_ = -1;
  int to_child_ = -1;
  std::uint16_t port_ = 0;
};

/// Medians of `calls` gets and `calls` executes (each on the copy the
/// previous one returned) through `app`, in microseconds.
inline std::pair<double, double> round_trips(application& app, std::uint64_t calls) {
  namespace tally = cafes_samples::tally;
  auto tallies = app.entities<tally::counter>();
  auto copy = tallies.create(tally::add{uuid::random(), 1});
  std::vector<double> get_us, execute_us;
  for (std::uint64_t i = 0; i < calls; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto got = tallies.get(copy.id);
    get_us.push_back(seconds_since(start) * 1e6);
    if (got.version != copy.version)
      throw std::runtime_error("the get answered another version");
    start = std::chrono::steady_clock::now();
    tallies.execute(copy, tally::add{uuid::random(), 1});
    execute_us.push_back(seconds_since(start) * 1e6);
  }
  return {median(get_us), median(execute_us)};
}

/// Makes a test CA and a node certificate for both ends in `dir` with the
/// openssl program; returns the TLS options of a node holding it.
inline net::tls_options make_bench_pki(const std::string& dir) {
  auto run = [](const std::string& command) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0)
      throw std::runtime_error("failed: " + command);
  };
  run("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir + "/ca.key -out " + dir
      + "/ca.pem -days 2 -subj '/CN=bench CA'");
  run("openssl req -newkey rsa:2048 -nodes -keyout " + dir + "/node.key -out " + dir
      + "/node.csr -subj '/CN=bench node'");
  std::ofstream{dir + "/node.ext"} << "extendedKeyUsage=serverAuth,clientAuth\n";
  run("openssl x509 -req -in " + dir + "/node.csr -CA " + dir + "/ca.pem -CAkey " + dir
      + "/ca.key -CAcreateserial -out " + dir + "/node.pem -days 2 -extfile " + dir
      + "/node.ext");
  return {dir + "/node.pem", dir + "/node.key", "", dir + "/ca.pem"};
}

/// The case: in-process, CAF node over plain TCP, CAF node over TLS.
inline nlohmann::json measure_node(std::uint64_t calls, int repeats) {
  scratch_dir dir;
  std::filesystem::create_directories(dir.path());
  auto tls = make_bench_pki(dir.path());
  struct path {
    const char* name;
    std::optional<net::tls_options> tls; // unused in-process
    bool remote;
  };
  const path paths[] = {{"in_process", std::nullopt, false},
                        {"node_plain", std::nullopt, true},
                        {"node_tls", tls, true}};
  nlohmann::json rows = nlohmann::json::array();
  double base_get = 0, base_execute = 0;
  for (const auto& p : paths) {
    std::vector<double> gets, executes;
    for (int r = 0; r < repeats; ++r) {
      std::pair<double, double> us;
      if (!p.remote) {
        application app{open_memory_store()};
        us = round_trips(app, calls);
      } else {
        net::node_options options;
        options.tls = p.tls;
        node_server_process server{p.tls};
        net::node client{options};
        auto app = client.connect("127.0.0.1", server.port());
        if (!app)
          throw std::runtime_error(to_string(app.error()));
        us = round_trips(**app, calls);
      }
      gets.push_back(us.first);
      executes.push_back(us.second);
    }
    auto get = median(gets), execute = median(executes);
    if (!p.remote) {
      base_get = get;
      base_execute = execute;
    }
    std::printf("  %-10s get %7.1f us (%.1fx), execute %7.1f us (%.1fx)\n", p.name, get,
                get / base_get, execute, execute / base_execute);
    std::fflush(stdout);
    rows.push_back({{"path", p.name}, {"calls", calls}, {"get_p50_us", get},
                    {"execute_p50_us", execute}, {"get_ratio", get / base_get},
                    {"execute_ratio", execute / base_execute}, {"get_runs_us", gets},
                    {"execute_runs_us", executes}});
  }
  return rows;
}

} // namespace cafes::bench
