# Runs one command and checks how it ended: its exit code (not just its
# output, which is all PASS_REGULAR_EXPRESSION looks at), and its output.
#
#   cmake -D EXIT=<code> [-D USAGE_ERROR=<regex>] [-D STDOUT=<regex>]
#         [-D STDERR=<regex>] [-D TIMEOUT=<seconds, 300>]
#         -P expect_exit.cmake -- <program> [args...]
#
# USAGE_ERROR: stdout is empty and stderr is exactly one line, "error: ..."
# matching the regex. Arguments are passed as given, empty ones included.

cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED EXIT)
  message(FATAL_ERROR "expect_exit.cmake: -D EXIT=<code> is required")
endif()
if(NOT DEFINED TIMEOUT)
  set(TIMEOUT 300)
endif()

set(command "")
set(shown "")
set(found_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(found_separator)
    set(argument "${CMAKE_ARGV${i}}")
    string(APPEND command " [==[${argument}]==]")
    string(APPEND shown " '${argument}'")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(found_separator TRUE)
  endif()
endforeach()
if(command STREQUAL "")
  message(FATAL_ERROR "expect_exit.cmake: no command after --")
endif()

cmake_language(EVAL CODE "
  execute_process(COMMAND ${command}
    RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
    TIMEOUT ${TIMEOUT})")

set(problems "")
if(NOT "${code}" STREQUAL "${EXIT}")
  list(APPEND problems "exit: expected ${EXIT}, got '${code}'")
endif()
if(DEFINED USAGE_ERROR)
  if(NOT out STREQUAL "")
    list(APPEND problems "expected nothing on stdout")
  endif()
  if(NOT err MATCHES "^error: [^\n]*\n$")
    list(APPEND problems "expected stderr to be exactly one line 'error: ...'")
  elseif(NOT err MATCHES "${USAGE_ERROR}")
    list(APPEND problems "expected the error to match '${USAGE_ERROR}'")
  endif()
endif()
if(DEFINED STDOUT AND NOT out MATCHES "${STDOUT}")
  list(APPEND problems "expected stdout to match '${STDOUT}'")
endif()
if(DEFINED STDERR AND NOT err MATCHES "${STDERR}")
  list(APPEND problems "expected stderr to match '${STDERR}'")
endif()

message("command:${shown}\nexit: ${code}\n--- stdout\n${out}--- stderr\n${err}---")
if(problems)
  string(REPLACE ";" "\n  " problems "${problems}")
  message(FATAL_ERROR "\n  ${problems}")
endif()
