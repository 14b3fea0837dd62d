# Shows what check_ctest_names.cmake and --warn NoTests catch: discovers the
# hidden probe test cases tagged TAG (tests/ctest_names_probe.cpp) with
# Catch2's own discovery script into a scratch CTest directory, then runs the
# check and those CTest entries there. EXPECT=pass: both must pass; EXPECT=fail:
# both must fail (the check, and at least one entry that ran no test).
#
#   cmake -D TEST_EXECUTABLE=... -D CATCH_ADD_TESTS=.../CatchAddTests.cmake
#         -D CHECK_SCRIPT=.../check_ctest_names.cmake -D CTEST_COMMAND=ctest
#         -D WORK_DIR=... -D TAG=ctest-names-ok -D EXPECT=pass|fail
#         [-D EXPECT_MESSAGE=<regex the check's output must match when it fails>]
#         -P ctest_names_probe.cmake

cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(spec "[${TAG}]")
execute_process(
  COMMAND "${CMAKE_COMMAND}"
    -D TEST_TARGET=probe
    -D "TEST_EXECUTABLE=${TEST_EXECUTABLE}"
    -D "TEST_WORKING_DIR=${WORK_DIR}"
    -D "TEST_SPEC=${spec}"
    "-DTEST_EXTRA_ARGS=--warn;NoTests"
    -D TEST_LIST=probe_TESTS
    -D "CTEST_FILE=${WORK_DIR}/probe_tests.cmake"
    -P "${CATCH_ADD_TESTS}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "discovery failed (${rc}):\n${out}")
endif()
file(WRITE "${WORK_DIR}/CTestTestfile.cmake" "include(\"${WORK_DIR}/probe_tests.cmake\")\n")

execute_process(
  COMMAND "${CMAKE_COMMAND}" -D "TEST_EXECUTABLE=${TEST_EXECUTABLE}"
    -D "TEST_DIR=${WORK_DIR}" -D "TEST_SPEC=${spec}" -D "CTEST_COMMAND=${CTEST_COMMAND}"
    -P "${CHECK_SCRIPT}"
  RESULT_VARIABLE check_rc
  OUTPUT_VARIABLE check_out
  ERROR_VARIABLE check_out)
execute_process(
  COMMAND "${CTEST_COMMAND}" --test-dir "${WORK_DIR}" --output-on-failure
  RESULT_VARIABLE ctest_rc
  OUTPUT_VARIABLE ctest_out
  ERROR_VARIABLE ctest_out)
message(STATUS "check_ctest_names.cmake on [${TAG}] exited ${check_rc}:\n${check_out}")
message(STATUS "ctest on [${TAG}] exited ${ctest_rc}:\n${ctest_out}")

if(EXPECT STREQUAL "pass")
  if(NOT check_rc EQUAL 0 OR NOT ctest_rc EQUAL 0)
    message(FATAL_ERROR "expected the check and the CTest entries of [${TAG}] to pass")
  endif()
elseif(EXPECT STREQUAL "fail")
  if(check_rc EQUAL 0)
    message(FATAL_ERROR "check_ctest_names.cmake accepted the names of [${TAG}]")
  endif()
  if(DEFINED EXPECT_MESSAGE AND NOT check_out MATCHES "${EXPECT_MESSAGE}")
    message(FATAL_ERROR "the check failed, but without saying '${EXPECT_MESSAGE}'")
  endif()
  if(ctest_rc EQUAL 0)
    message(FATAL_ERROR "every CTest entry of [${TAG}] passed: one ran no test and passed")
  endif()
else()
  message(FATAL_ERROR "EXPECT must be pass or fail, not '${EXPECT}'")
endif()
message(STATUS "[${TAG}]: as expected (${EXPECT})")
