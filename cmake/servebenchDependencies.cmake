# Finds servebench's dependencies the way each upstream documents. Used by the build and, installed, by
# servebenchConfig.cmake, so a consumer finds them the same way.
#   nlohmann/json : its CMake package.
#   cpp-httplib   : upstream's CMake package (httplib::httplib, header-only releases) when installed; otherwise
#                   pkg-config `cpp-httplib` (Debian 12 ships 0.11.4 as a compiled library with only a .pc file).
# Sets SERVEBENCH_HTTPLIB_TARGET to the target to link.
include(CMakeFindDependencyMacro)
# Inside servebenchConfig.cmake, find_dependency() reports a missing dependency as "servebench not found" with the
# reason; in servebench's own build (top level, add_subdirectory, FetchContent) it would only return() from this
# file and leave a confusing "target was not found" error later, so there a plain REQUIRED search is used.
macro(_servebench_find_dependency name)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "servebench")
    find_dependency(${name})
  else()
    find_package(${name} REQUIRED)
  endif()
endmacro()
set(THREADS_PREFER_PTHREAD_FLAG ON)
_servebench_find_dependency(Threads)
_servebench_find_dependency(nlohmann_json)

if(NOT SERVEBENCH_HTTPLIB_TARGET)
  find_package(httplib CONFIG QUIET)
  if(TARGET httplib::httplib)
    set(SERVEBENCH_HTTPLIB_TARGET httplib::httplib)
  else()
    find_package(PkgConfig QUIET)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(SERVEBENCH_CPP_HTTPLIB QUIET IMPORTED_TARGET GLOBAL cpp-httplib)
    endif()
    if(TARGET PkgConfig::SERVEBENCH_CPP_HTTPLIB)
      set(SERVEBENCH_HTTPLIB_TARGET PkgConfig::SERVEBENCH_CPP_HTTPLIB)
    else()
      message(FATAL_ERROR
        "servebench needs cpp-httplib and found neither its CMake package (httplib::httplib) nor the pkg-config "
        "module 'cpp-httplib'. On Debian/Ubuntu: sudo apt-get install libcpp-httplib-dev pkg-config")
    endif()
  endif()
endif()
