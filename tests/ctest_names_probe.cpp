// Hidden test cases (tag [.]; the suite never runs them) whose names the
// ctest_names.probe.* CTest entries discover into a scratch CTest directory,
// to show that check_ctest_names.cmake accepts a name CTest runs and catches
// a name CTest cannot run. One tag per probe.

#include <catch2/catch.hpp>

TEST_CASE("probe: commas, [brackets] and colons: are escaped by discovery",
          "[.ctest-names-ok]") {
  SUCCEED();
}

TEST_CASE("probe: a semicolon; CMake splits the name in two", "[.ctest-names-semicolon]") {
  SUCCEED();
}

TEST_CASE("probe: a backslash \\ escapes the next character of a test spec",
          "[.ctest-names-backslash]") {
  SUCCEED();
}
