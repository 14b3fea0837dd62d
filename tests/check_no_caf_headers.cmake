# Checks that a header of the synchronous API includes no CAF header: runs
# the compiler with -H (print every header opened) over HEADER and fails on
# any path with "/caf/" in it. With EXPECT_CAF=1 it is the control: HEADER
# must include CAF headers (so a compiler that printed nothing would fail).
#   -D CXX_COMPILER=... -D HEADER=cafes/actors/repository.hpp
#   -D INCLUDE_DIRS=a:b:c -D WORK_DIR=... [-D EXPECT_CAF=1]
file(MAKE_DIRECTORY "${WORK_DIR}")
set(probe "${WORK_DIR}/probe.cpp")
file(WRITE "${probe}" "#include \"${HEADER}\"\nint main() {}\n")
string(REPLACE ":" ";" dirs "${INCLUDE_DIRS}")
set(flags)
foreach(dir IN LISTS dirs)
  list(APPEND flags "-I${dir}")
endforeach()
execute_process(
  COMMAND "${CXX_COMPILER}" -std=c++20 -fsyntax-only -H ${flags} "${probe}"
  RESULT_VARIABLE status ERROR_VARIABLE headers OUTPUT_QUIET)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${HEADER} does not compile on its own:\n${headers}")
endif()
string(REGEX MATCHALL "[^\n]*/caf/[^\n]*" caf_lines "${headers}")
list(LENGTH caf_lines caf_count)
if(EXPECT_CAF)
  if(caf_count EQUAL 0)
    message(FATAL_ERROR "control: ${HEADER} opened no CAF header (is -H working?)")
  endif()
  message(STATUS "control: ${HEADER} opens ${caf_count} CAF headers")
elseif(caf_count GREATER 0)
  list(GET caf_lines 0 first)
  message(FATAL_ERROR "${HEADER} opens ${caf_count} CAF headers, first:\n${first}")
else()
  message(STATUS "${HEADER} opens no CAF header")
endif()
