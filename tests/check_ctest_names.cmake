# Checks that CTest runs every test case of a Catch2 binary, each in exactly
# one entry that runs it and nothing else. Fails (exit 1) on any difference.
#
#   cmake -D TEST_EXECUTABLE=<Catch2 binary> -D TEST_DIR=<CTest build dir>
#         [-D TEST_SPEC=<Catch2 test spec>] [-D CTEST_COMMAND=<ctest>]
#         -P check_ctest_names.cmake
#
# Why: catch_discover_tests makes one CTest entry per test case name, and a
# name with ';' becomes several entries (CMake lists split on ';'), each a
# Catch2 test spec that matches nothing; Catch2 then runs no test and exits 0,
# so the entries pass. Other characters mean something in a test spec too
# ('\' escapes, a leading '~' excludes, '*' is a wildcard). So for every entry
# whose command is TEST_EXECUTABLE this asks the binary which test cases its
# spec selects (--list-test-names-only) and requires exactly the entry's name;
# the entries together must name every test case the binary lists (for
# TEST_SPEC, default: every test case that is not hidden) exactly once; and
# every entry must pass --warn NoTests, so that it fails if it runs nothing.

cmake_minimum_required(VERSION 3.25)

foreach(required TEST_EXECUTABLE TEST_DIR)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "check_ctest_names.cmake: -D ${required}=... is required")
  endif()
endforeach()
if(NOT DEFINED CTEST_COMMAND)
  set(CTEST_COMMAND ctest)
endif()

# A test case name may hold ';', which a CMake list cannot: names are kept
# with this placeholder instead and reported as such.
set(semicolon "<semicolon>")
set(problems "")

# Reads the test case names the binary lists for `spec` (may be empty) into
# `out`, one list element per name.
function(list_test_cases out spec)
  execute_process(
    COMMAND "${TEST_EXECUTABLE}" ${spec} --list-test-names-only
    OUTPUT_VARIABLE text
    ERROR_VARIABLE errors
    RESULT_VARIABLE rc)
  if(NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "${TEST_EXECUTABLE} --list-test-names-only failed: ${rc}\n${errors}")
  endif()
  string(REPLACE ";" "${semicolon}" text "${text}")
  string(REGEX REPLACE "\n$" "" text "${text}")
  string(REPLACE "\n" ";" names "${text}")
  set(cleaned "")
  foreach(name IN LISTS names)
    # Catch2 quotes names that start with '#' in this listing.
    if(name MATCHES "^\"(#.*)\"$")
      set(name "${CMAKE_MATCH_1}")
    endif()
    if(NOT name STREQUAL "")
      list(APPEND cleaned "${name}")
    endif()
  endforeach()
  set(${out} "${cleaned}" PARENT_SCOPE)
endfunction()

list_test_cases(test_cases "${TEST_SPEC}")
foreach(name IN LISTS test_cases)
  if(name MATCHES "${semicolon}")
    list(APPEND problems "test case name holds a semicolon, which splits its CTest entry in two: \"${name}\"")
  endif()
endforeach()

execute_process(
  COMMAND "${CTEST_COMMAND}" --test-dir "${TEST_DIR}" --show-only=json-v1
  OUTPUT_VARIABLE json
  ERROR_VARIABLE errors
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ctest --show-only=json-v1 failed (${rc}): ${errors}")
endif()
string(JSON count LENGTH "${json}" tests)

set(entry_names "")
set(entries 0)
if(count GREATER 0)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${json}" tests ${i} name)
    string(JSON arguments ERROR_VARIABLE no_command LENGTH "${json}" tests ${i} command)
    if(no_command OR arguments LESS 2)
      continue()
    endif()
    string(JSON program GET "${json}" tests ${i} command 0)
    if(NOT "${program}" STREQUAL "${TEST_EXECUTABLE}")
      continue()
    endif()
    math(EXPR entries "${entries} + 1")
    string(REPLACE ";" "${semicolon}" name "${name}")
    list(APPEND entry_names "${name}")
    string(JSON spec GET "${json}" tests ${i} command 1)
    math(EXPR last_argument "${arguments} - 1")
    set(warns_no_tests FALSE)
    if(arguments GREATER 3)
      foreach(a RANGE 2 ${last_argument})
        string(JSON argument GET "${json}" tests ${i} command ${a})
        if("${argument}" STREQUAL "--warn" AND a LESS last_argument)
          math(EXPR next "${a} + 1")
          string(JSON value GET "${json}" tests ${i} command ${next})
          if("${value}" STREQUAL "NoTests")
            set(warns_no_tests TRUE)
          endif()
        endif()
      endforeach()
    endif()
    if(NOT warns_no_tests)
      list(APPEND problems "CTest entry \"${name}\" does not pass --warn NoTests: it would pass if it ran no test")
    endif()
    list_test_cases(selected "${spec}")
    list(LENGTH selected selected_count)
    if(NOT selected_count EQUAL 1 OR NOT "${selected}" STREQUAL "${name}")
      string(REPLACE ";" "\", \"" shown "${selected}")
      list(APPEND problems "CTest entry \"${name}\" (test spec \"${spec}\") runs ${selected_count} test case(s): \"${shown}\", not exactly its own")
    endif()
  endforeach()
endif()

# Every test case in exactly one entry, and no entry for anything else.
foreach(name IN LISTS test_cases)
  set(times 0)
  foreach(entry IN LISTS entry_names)
    if("${entry}" STREQUAL "${name}")
      math(EXPR times "${times} + 1")
    endif()
  endforeach()
  if(NOT times EQUAL 1)
    list(APPEND problems "test case \"${name}\" is run by ${times} CTest entries, not 1")
  endif()
endforeach()
foreach(entry IN LISTS entry_names)
  if(NOT entry IN_LIST test_cases)
    list(APPEND problems "CTest entry \"${entry}\" names no test case of the binary")
  endif()
endforeach()

list(LENGTH test_cases cases)
if(problems)
  list(LENGTH problems n)
  string(REPLACE ";" "\n  " shown "${problems}")
  message(FATAL_ERROR
    "${n} problem(s) between ${TEST_EXECUTABLE} (${cases} test cases) and the "
    "CTest entries of ${TEST_DIR} (${entries} run it):\n  ${shown}")
endif()
message(STATUS "${entries} CTest entries run the ${cases} test cases of "
               "${TEST_EXECUTABLE}, one each, with --warn NoTests")
