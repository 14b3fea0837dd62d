# cafes_add_exit_test(NAME <name> EXIT <code> [USAGE_ERROR <regex>]
#                     [STDOUT <regex>] [STDERR <regex>] COMMAND <program> [args...])
# A CTest entry that runs the command through expect_exit.cmake: it passes
# only with that exit code and output. USAGE_ERROR: the whole output is one
# line "error: ..." on stderr matching <regex>. Empty arguments are kept.
function(cafes_add_exit_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;EXIT;USAGE_ERROR;STDOUT;STDERR" "COMMAND")
  set(arguments ${CMAKE_COMMAND} -D EXIT=${arg_EXIT})
  foreach(check USAGE_ERROR STDOUT STDERR)
    if(DEFINED arg_${check})
      list(APPEND arguments -D "${check}=${arg_${check}}")
    endif()
  endforeach()
  list(APPEND arguments -P ${PROJECT_SOURCE_DIR}/cmake/expect_exit.cmake --)
  # Bracket arguments keep empty ones (an unquoted list would drop them).
  set(code "add_test(NAME [==[${arg_NAME}]==] COMMAND")
  foreach(argument IN LISTS arguments arg_COMMAND)
    string(APPEND code " [==[${argument}]==]")
  endforeach()
  cmake_language(EVAL CODE "${code})")
  set_tests_properties(${arg_NAME} PROPERTIES ENVIRONMENT
    "UBSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/ubsan.supp:print_stacktrace=1")
endfunction()
