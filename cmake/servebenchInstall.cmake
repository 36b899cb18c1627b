include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS servebench EXPORT servebenchTargets)
install(EXPORT servebenchTargets NAMESPACE servebench:: DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/servebench)

configure_package_config_file(cmake/servebenchConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/servebenchConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/servebench)
# Header-only and architecture-independent: the version file must not check the consumer's pointer size.
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/servebenchConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/servebenchConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/servebenchConfigVersion.cmake"
  cmake/servebenchDependencies.cmake
  DESTINATION ${CMAKE_INSTALL_DATADIR}/cmake/servebench)

configure_file(cmake/servebench.pc.in "${CMAKE_CURRENT_BINARY_DIR}/servebench.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/servebench.pc" DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
