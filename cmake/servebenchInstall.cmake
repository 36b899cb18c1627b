include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.hpp")
# servebench::servebench (the measurement core) and servebench::sim (the simulated servers), one export set: a
# find_package(servebench) consumer gets both and links the one it uses.
install(TARGETS servebench servebench_sim EXPORT servebenchTargets)
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

# servebench.pc goes to share/pkgconfig, not lib/pkgconfig: a header-only package has nothing architecture-specific
# (pkg-config searches both). Its paths are relative to ${pcfiledir}, so the file stays right when the tree is
# installed with `cmake --install --prefix` elsewhere or moved. An absolute CMAKE_INSTALL_INCLUDEDIR is kept as is.
set(_servebench_pc_dir "${CMAKE_INSTALL_DATADIR}/pkgconfig")
if(IS_ABSOLUTE "${_servebench_pc_dir}")
  set(SERVEBENCH_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _servebench_pc_up "/prefix/${_servebench_pc_dir}" "/prefix")
  string(REGEX REPLACE "/$" "" _servebench_pc_up "${_servebench_pc_up}")
  set(SERVEBENCH_PC_PREFIX "\${pcfiledir}/${_servebench_pc_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SERVEBENCH_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SERVEBENCH_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(cmake/servebench.pc.in "${CMAKE_CURRENT_BINARY_DIR}/servebench.pc" @ONLY)
# servebench-sim.pc: the same headers and flags (it requires servebench); the name a program that runs a simulated
# server asks for, as Meson's dependency('servebench-sim') does.
configure_file(cmake/servebench-sim.pc.in "${CMAKE_CURRENT_BINARY_DIR}/servebench-sim.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/servebench.pc" "${CMAKE_CURRENT_BINARY_DIR}/servebench-sim.pc"
        DESTINATION "${_servebench_pc_dir}")
