// The programs of tools/ and bench/ as processes: a stop signal (SIGINT,
// SIGTERM) ends a run cleanly, with the report of what ran, and exit code
// 128 + signal.

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "cafes/storage/rocksdb_store.hpp"
#include "child_process.hpp"
#include "temp_dir.hpp"

using namespace cafes::testing;
using Catch::Contains;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in{path};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

TEST_CASE("cafes-stress stopped by SIGINT or SIGTERM closes, verifies and reports "
          "what ran, and exits 128 + signal",
          "[tools][signals]") {
  auto stop = GENERATE(SIGINT, SIGTERM);
  CAPTURE(stop);
  temp_dir dir;
  auto json = dir.sub("report.json");
  auto report = dir.sub("stdout.txt");
  // 100 million commands: hours of work, so only the signal ends it.
  constexpr std::uint64_t clients = 10;
  constexpr std::uint64_t commands = 10'000'000;
  child_process stress{{CAFES_STRESS_PATH, "--entities", "1000", "--clients",
                        std::to_string(clients), "--commands", std::to_string(commands),
                        "--in-flight", "4", "--progress", "lines", "--json", json},
                       {child_process::watch::err, report, std::nullopt}};
  // Under way once a progress line counts answers.
  std::optional<std::string> line;
  do
    line = stress.wait_for_line("progress: ");
  while (line && line->starts_with("progress: 0 of"));
  REQUIRE(line);
  stress.send(stop);
  auto status = stress.wait();
  INFO("stderr:\n" << stress.text() << "stdout:\n" << read_text(report));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + stop);
  CHECK_THAT(read_text(report), Contains("interrupted") && Contains("passed"));
  std::ifstream in{json};
  REQUIRE(in);
  auto j = nlohmann::json::parse(in);
  CHECK(j["interrupted"] == true);
  CHECK(j["signal"] == (stop == SIGINT ? "SIGINT" : "SIGTERM"));
  auto answered = j["commands"].get<std::uint64_t>();
  auto unsent = j["unsent"].get<std::uint64_t>();
  CHECK(answered > 0);
  CHECK(unsent > 0);
  CHECK(answered + unsent == clients * commands); // every command sent was answered
  CHECK(j["verified"] == true);
  CHECK(j["violations"].empty());
}

TEST_CASE("cafes-stress refuses to run again over a store where its entities already have "
          "events, instead of failing the verification with misleading violations",
          "[tools][bad-input]") {
  temp_dir dir;
  auto run_stress = [&](std::vector<std::string> more) {
    std::vector<std::string> args{CAFES_STRESS_PATH, "--db",      dir.sub("db"),  "--entities",
                                  "300",             "--clients", "4",            "--commands",
                                  "50",              "--progress", "none"};
    args.insert(args.end(), more.begin(), more.end());
    child_process stress{args, {child_process::watch::err, dir.sub("out"), std::nullopt}};
    auto status = stress.wait();
    REQUIRE(WIFEXITED(status));
    return std::pair{WEXITSTATUS(status), stress.text() + read_text(dir.sub("out"))};
  };
  auto [first_code, first_text] = run_stress({});
  INFO(first_text);
  REQUIRE(first_code == 0);
  // The same seed again: its entities hold the first run's events.
  auto [again_code, again_text] = run_stress({});
  INFO(again_text);
  CHECK(again_code == 2);
  CHECK_THAT(again_text, Contains("already has events in the store") && Contains("--seed 1)")
                           && !Contains("violation"));
  // Another seed is another set of entities, over the same store.
  auto [other_code, other_text] = run_stress({"--seed", "7"});
  INFO(other_text);
  CHECK(other_code == 0);
  CHECK_THAT(other_text, Contains("verification                       passed"));
}

#ifdef CAFES_BENCH_PATH
TEST_CASE("cafes-bench stopped by SIGINT writes no results and exits 130",
          "[tools][signals]") {
  temp_dir dir;
  auto json = dir.sub("bench.json");
  auto data = dir.sub("bench.dat");
  auto errors = dir.sub("stderr.txt");
  child_process bench{{CAFES_BENCH_PATH, "--quick", "--json", json, "--data", data},
                      {child_process::watch::out, errors, std::nullopt}};
  REQUIRE(bench.wait_for_line("  nosync clients")); // the first figure is out
  bench.send(SIGINT);
  auto status = bench.wait();
  INFO("stdout:\n" << bench.text() << "stderr:\n" << read_text(errors));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK_THAT(read_text(errors), Contains("interrupted by SIGINT"));
  CHECK_FALSE(std::filesystem::exists(json));
  CHECK_FALSE(std::filesystem::exists(data));
}
#endif

TEST_CASE("cafes-stress past a file size limit is not killed by SIGXFSZ: it reports "
          "the storage failures by code and exits 1, or 0 with --allow-errors",
          "[tools][bad-input]") {
  auto allow_errors = GENERATE(false, true);
  CAPTURE(allow_errors);
  temp_dir dir;
  auto json = dir.sub("report.json");
  // 8,000 commands write ~2 MB of WAL; no file may pass 256 KiB.
  std::vector<std::string> args{CAFES_STRESS_PATH, "--db",       dir.sub("db"),
                                "--entities",      "100",        "--clients",
                                "4",               "--commands", "2000",
                                "--json",          json};
  if (allow_errors)
    args.push_back("--allow-errors");
  child_process stress{args, {child_process::watch::out, "/dev/null", 256 * 1024}};
  auto status = stress.wait();
  INFO("stdout:\n" << stress.text());
  REQUIRE_FALSE(WIFSIGNALED(status));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == (allow_errors ? 0 : 1));
  CHECK_THAT(stress.text(), Contains("storage_failure") && Contains("first: "));
  std::ifstream in{json};
  REQUIRE(in);
  auto j = nlohmann::json::parse(in);
  auto failed = j["other_errors"].get<std::uint64_t>();
  CHECK(failed > 0);
  CHECK(j["errors"]["storage_failure"]["count"] == failed);
  CHECK_FALSE(j["errors"]["storage_failure"]["first_message"].get<std::string>().empty());
  CHECK(j["verified"] == true);
  CHECK(j["violations"].empty());
}

TEST_CASE("cafes-stress drives a node in another process (--listen and --connect) and reports "
          "the network path beside the in-process one",
          "[tools][net][process]") {
  temp_dir dir;
  child_process server{{CAFES_STRESS_PATH, "--listen", "127.0.0.1:0", "--db", dir.sub("db")},
                       {child_process::watch::out, "/dev/null", std::nullopt}};
  auto line = server.wait_for_line("cafes-stress: serving tally counters on 127.0.0.1:");
  REQUIRE(line);
  auto address = line->substr(line->find("127.0.0.1:"));
  child_process driver{{CAFES_STRESS_PATH, "--connect", address, "--entities", "200",
                        "--clients", "8", "--commands", "50", "--stale", "0.1"},
                       {child_process::watch::out, dir.sub("driver.err"), std::nullopt}};
  auto status = driver.wait();
  INFO(driver.text());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_THAT(driver.text(), Catch::Contains("the node at " + address));
  CHECK_THAT(driver.text(), Catch::Matches("[\\s\\S]*commands answered +400 *\n[\\s\\S]*"));
  CHECK_THAT(driver.text(), Catch::Contains("in process, same run"));
  CHECK_THAT(driver.text(), Catch::Contains("node / in process"));
  CHECK_THAT(driver.text(), Catch::Matches("[\\s\\S]*verification +passed[\\s\\S]*"));
  // The node's store holds what the driver was acknowledged.
  server.send(SIGTERM);
  auto served = server.wait();
  CHECK(WIFEXITED(served));
  CHECK(WEXITSTATUS(served) == 0);
  cafes::rocksdb_options reopen;
  reopen.path = dir.sub("db");
  auto store = cafes::rocksdb_store::open(reopen);
  REQUIRE(store);
  std::smatch match;
  REQUIRE(std::regex_search(driver.text(), match, std::regex{"acknowledged +([0-9]+)"}));
  CHECK(*(*store)->last_position() == std::stoull(match[1].str()));
}
