# What `cmake --install` puts under its prefix: the library targets, their
# headers and the cafes package, so that another project can
#
#   find_package(cafes REQUIRED)
#   target_link_libraries(my_service PRIVATE cafes::actors)   # cafes::net for HTTP,
#                                                             # cafes::etcd for etcd
#
# and the programs cafes-admin, cafes-stress (and cafes-bench when built).
# The sample aggregates, the examples, the tests and the tools' own libraries
# stay in the build tree. tests/package_consumer.cmake checks the result.
include(CMakePackageConfigHelpers)

set(CAFES_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/cafes)

# cafes::domain, cafes::storage_layout, cafes::storage, cafes::actors,
# cafes::net, cafes::etcd: the names the build tree's aliases have, so code
# links the same either way. cafes_etcd_proto (etcd's generated gRPC
# client, no headers installed) goes along: cafes::etcd links it.
install(TARGETS cafes_domain cafes_storage_layout cafes_storage cafes_actors cafes_net
  cafes_etcd cafes_etcd_proto
  EXPORT cafesTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(layer IN ITEMS domain storage actors net etcd)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(EXPORT cafesTargets NAMESPACE cafes:: DESTINATION ${CAFES_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cafesConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cafesConfig.cmake
  INSTALL_DESTINATION ${CAFES_INSTALL_CMAKEDIR})
# Before 1.0 a new minor version may break the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cafesConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
# FindCAF.cmake goes along: the config needs it to find CAF (Debian ships no
# CMake package for CAF).
install(FILES
  ${PROJECT_BINARY_DIR}/cafesConfig.cmake
  ${PROJECT_BINARY_DIR}/cafesConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
  DESTINATION ${CAFES_INSTALL_CMAKEDIR})

set(cafes_programs cafes-admin cafes-stress)
if(TARGET cafes-bench)
  list(APPEND cafes_programs cafes-bench)
endif()
install(TARGETS ${cafes_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
