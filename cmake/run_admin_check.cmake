# Runs one command and checks its exit code and output, for CTest entries
# that run a tool (PASS_REGULAR_EXPRESSION alone ignores the exit code).
#
#   cmake [-D<VAR>=<value>...] -P run_admin_check.cmake -- <command> [<arg>...]
#
#   EXPECT_EXIT    the exit code the command must give (default 0)
#   EXPECT_OUTPUT  a regex that stdout + stderr must match ('.' matches newlines)
#   REJECT_OUTPUT  a regex that stdout + stderr must not match
#   EXPECT_LINES   how many lines stdout must have
#   STDIN_FILE     a file to give the command as stdin
#   STDOUT_FILE    a file that receives stdout (then EXPECT_LINES counts it)
#   REMOVE_FIRST   a path removed (recursively) before the command runs
#
# Arguments may not contain ';' (CMake would split them).

set(command)
set(after_separator FALSE)
math(EXPR last_arg "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last_arg})
  if(after_separator)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT command)
  message(FATAL_ERROR "run_admin_check.cmake: no command after --")
endif()
if(NOT DEFINED EXPECT_EXIT)
  set(EXPECT_EXIT 0)
endif()

if(DEFINED REMOVE_FIRST)
  file(REMOVE_RECURSE "${REMOVE_FIRST}")
endif()

set(redirects)
if(DEFINED STDIN_FILE)
  list(APPEND redirects INPUT_FILE "${STDIN_FILE}")
endif()
if(DEFINED STDOUT_FILE)
  list(APPEND redirects OUTPUT_FILE "${STDOUT_FILE}")
else()
  list(APPEND redirects OUTPUT_VARIABLE stdout)
endif()
execute_process(COMMAND ${command} ${redirects}
                RESULT_VARIABLE exit_code ERROR_VARIABLE stderr)
if(DEFINED STDOUT_FILE AND EXISTS "${STDOUT_FILE}")
  file(READ "${STDOUT_FILE}" stdout)
endif()
set(output "${stdout}${stderr}")
string(REPLACE ";" " " shown_command "${command}")
set(report "command: ${shown_command}\nexit code: ${exit_code}\nstdout:\n${stdout}\nstderr:\n${stderr}")

set(failures)
if(NOT "${exit_code}" STREQUAL "${EXPECT_EXIT}")
  list(APPEND failures "exit code ${exit_code}, expected ${EXPECT_EXIT}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT output MATCHES "${EXPECT_OUTPUT}")
  list(APPEND failures "the output does not match '${EXPECT_OUTPUT}'")
endif()
if(DEFINED REJECT_OUTPUT AND output MATCHES "${REJECT_OUTPUT}")
  list(APPEND failures "the output matches '${REJECT_OUTPUT}'")
endif()
if(DEFINED EXPECT_LINES)
  string(REGEX MATCHALL "\n" newlines "${stdout}")
  list(LENGTH newlines line_count)
  if(NOT line_count EQUAL EXPECT_LINES)
    list(APPEND failures "stdout has ${line_count} lines, expected ${EXPECT_LINES}")
  endif()
endif()

if(failures)
  string(REPLACE ";" "\n  " failures "${failures}")
  message(FATAL_ERROR "FAILED:\n  ${failures}\n${report}")
endif()
message("passed\n${report}")
