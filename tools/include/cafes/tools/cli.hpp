#pragma once
// The command line of every cafes program: one exit-code convention, and
// CLI11 parsing where any bad input is one line "error: ..." and exit code 2,
// never an exception out of main.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

namespace cafes::tools {

/// Exit codes of every cafes program.
enum exit_code : int {
  exit_ok = 0,          ///< ran, and every outcome was as expected
  exit_failed = 1,      ///< ran, and something failed (see the program's output)
  exit_usage = 2,       ///< bad command line: nothing ran
  exit_unavailable = 3, ///< the database could not be opened
  // 128 + n: stopped by signal n (130 SIGINT, 143 SIGTERM); see stop.hpp.
};

/// Parses `argv` into `app`. Returns std::nullopt when the program goes on,
/// else the code `main` returns: exit_ok after --help (printed on stdout),
/// exit_usage after any bad input (unknown option, extra argument, a value
/// a validator refused), reported as one line "error: ..." on stderr.
std::optional<int> parse(CLI::App& app, int argc, char** argv);

/// Prints one line "error: <message>" on stderr; returns exit_usage.
int usage_error(const std::string& message);

/// A whole number in [min, max], digits only: "-1", "+3", "1e3" and " 5"
/// are refused (CLI11 would read "-1" as 2^64-1 into an unsigned option).
CLI::Validator whole_number(std::uint64_t min, std::uint64_t max);

/// A finite number in [min, max]: "nan" and "inf" are refused.
CLI::Validator real_number(double min, double max);

/// A path that is not empty.
CLI::Validator non_empty_path();

/// Splits "HOST:PORT" (a port of 0 to 65535, digits only). Returns
/// std::nullopt for anything else.
std::optional<std::pair<std::string, std::uint16_t>> host_port(const std::string& text);

/// Returns `value` with thousands separators: 1234567 -> "1,234,567".
std::string with_commas(std::uint64_t value);

/// A file this process can write: it opens for appending (created and
/// removed again if it did not exist), so it is checked before a long run.
CLI::Validator writable_file();

} // namespace cafes::tools
