# Installs cafes from a build directory into a scratch prefix, checks what
# the prefix holds (the package, headers, libraries and programs; no
# samples), then configures, builds and runs tests/consumer against it as a
# project of its own would: find_package(cafes) and cafes::actors.
#
#   cmake -D BUILD_DIR=<cafes build dir> -D CONSUMER_DIR=<tests/consumer>
#         -D WORK_DIR=<scratch dir> -D LIBDIR=<CMAKE_INSTALL_LIBDIR>
#         -D GENERATOR=<generator> -D CXX_COMPILER=<compiler>
#         -D BUILD_TYPE=<build type> -P package_consumer.cmake

cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS BUILD_DIR CONSUMER_DIR WORK_DIR LIBDIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "package_consumer.cmake: -D ${var}=... is required")
  endif()
endforeach()
set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs one step; stops with its output when it fails.
function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

step("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")

set(problems "")
foreach(path IN ITEMS
    "${LIBDIR}/cmake/cafes/cafesConfig.cmake"
    "${LIBDIR}/cmake/cafes/cafesConfigVersion.cmake"
    "${LIBDIR}/cmake/cafes/cafesTargets.cmake"
    "${LIBDIR}/cmake/cafes/FindCAF.cmake"
    "${LIBDIR}/libcafes_domain.a" "${LIBDIR}/libcafes_storage_layout.a"
    "${LIBDIR}/libcafes_storage.a" "${LIBDIR}/libcafes_actors.a" "${LIBDIR}/libcafes_etcd.a"
    include/cafes/domain/aggregate.hpp include/cafes/storage/memory_store.hpp
    include/cafes/etcd/etcd_store.hpp include/cafes/storage/sharded_store.hpp
    include/cafes/actors/application.hpp
    bin/cafes-admin bin/cafes-stress)
  if(NOT EXISTS "${prefix}/${path}")
    list(APPEND problems "missing: ${path}")
  endif()
endforeach()
# The samples and the tools' libraries stay in the build tree.
file(GLOB_RECURSE extra RELATIVE "${prefix}" "${prefix}/*samples*" "${prefix}/*bank*"
  "${prefix}/*tally*" "${prefix}/${LIBDIR}/libcafes_tools*" "${prefix}/${LIBDIR}/libcafes_admin*"
  "${prefix}/${LIBDIR}/libcafes_cli*" "${prefix}/${LIBDIR}/cmake/cafes/*build_flags*")
foreach(path IN LISTS extra)
  list(APPEND problems "installed but should not be: ${path}")
endforeach()
file(READ "${prefix}/${LIBDIR}/cmake/cafes/cafesTargets.cmake" targets)
if(targets MATCHES "cafes_build_flags")
  list(APPEND problems "cafesTargets.cmake names the build's cafes_build_flags")
endif()
if(problems)
  list(JOIN problems "\n  " shown)
  message(FATAL_ERROR "the installed tree:\n  ${shown}")
endif()

# CMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY: only the prefix may provide cafes.
step("configure the consumer" "${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${consumer_build}"
  -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}"
  "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
step("build the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}")
step("run the consumer" "${consumer_build}/consumer")
message("${step_output}")
string(REGEX MATCHALL "[^\n]*: ok\n" passed "${step_output}")
list(LENGTH passed count)
if(NOT count EQUAL 7 OR step_output MATCHES "WRONG")
  message(FATAL_ERROR "expected 7 checks 'ok', got ${count}")
endif()
