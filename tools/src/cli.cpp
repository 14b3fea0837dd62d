#include "cafes/tools/cli.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cafes::tools {

namespace {

/// CLI11's messages may span lines; a usage error is one.
std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n' || c == '\r')
      c = ' ';
  while (!text.empty() && text.back() == ' ')
    text.pop_back();
  return text;
}

/// "0.5", "10": the shortest text of a bound.
std::string shortest(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

} // namespace

int usage_error(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", one_line(message).c_str());
  return exit_usage;
}

std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) { // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  return std::nullopt;
}

CLI::Validator whole_number(std::uint64_t min, std::uint64_t max) {
  auto range = std::to_string(min) + ", " + std::to_string(max);
  return CLI::Validator{
    [min, max, range](std::string& text) -> std::string {
      auto refuse = [&] {
        return "expected a whole number in [" + range + "], got '" + text + "'";
      };
      if (text.empty() || text.size() > 20
          || text.find_first_not_of("0123456789") != std::string::npos)
        return refuse();
      errno = 0;
      auto value = std::strtoull(text.c_str(), nullptr, 10);
      if (errno == ERANGE || value < min || value > max)
        return refuse();
      return {};
    },
    "[" + range + "]"};
}

CLI::Validator real_number(double min, double max) {
  auto range = shortest(min) + ", " + shortest(max);
  return CLI::Validator{
    [min, max, range](std::string& text) -> std::string {
      auto refuse = [&] {
        return "expected a number in [" + range + "], got '" + text + "'";
      };
      char* end = nullptr;
      errno = 0;
      auto value = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE
          || !std::isfinite(value) || value < min || value > max)
        return refuse();
      return {};
    },
    "[" + range + "]"};
}

CLI::Validator non_empty_path() {
  return CLI::Validator{
    [](std::string& text) -> std::string {
      return text.empty() ? "expected a path, got an empty one" : "";
    },
    ""};
}

CLI::Validator writable_file() {
  return CLI::Validator{
    [](std::string& text) -> std::string {
      if (text.empty())
        return "expected a file name, got an empty one";
      std::error_code ignored;
      bool existed = std::filesystem::exists(text, ignored);
      errno = 0;
      std::ofstream probe{text, std::ios::app};
      if (!probe) {
        auto reason = errno != 0 ? std::strerror(errno) : "cannot open it";
        return "cannot write '" + text + "': " + reason;
      }
      probe.close();
      if (!existed)
        std::filesystem::remove(text, ignored);
      return {};
    },
    ""};
}

std::string with_commas(std::uint64_t value) {
  auto digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::optional<std::pair<std::string, std::uint16_t>> host_port(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return std::nullopt;
  auto port_text = text.substr(colon + 1);
  if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto port = std::stoul(port_text);
  if (port > 65535)
    return std::nullopt;
  return std::pair{text.substr(0, colon), static_cast<std::uint16_t>(port)};
}

} // namespace cafes::tools
