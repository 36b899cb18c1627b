# Packaging tests: one ctest per way a project takes servebench (tests/consumer/run.sh builds and runs a tiny
# program for each), and a check that single_include/servebench.hpp is up to date with include/.
# The consumer tests configure and build whole small projects (about 10-25 s each), so they carry the label
# `consumer` (skip them with `ctest -LE consumer`) and `no_sanitizer`: they build with their own flags, so a
# sanitizer build of the suite would only repeat them. A missing tool (meson, pkg-config) makes its test skip.
find_program(SERVEBENCH_BASH bash)
if(SERVEBENCH_BASH)
  foreach(kind find_package pkg_config add_subdirectory fetchcontent meson single_header)
    add_test(NAME consumer_${kind}_builds_and_runs_a_program_using_servebench
             COMMAND "${SERVEBENCH_BASH}" "${PROJECT_SOURCE_DIR}/tests/consumer/run.sh" ${kind})
    set_tests_properties(consumer_${kind}_builds_and_runs_a_program_using_servebench PROPERTIES
      LABELS "consumer;no_sanitizer" TIMEOUT 600 SKIP_RETURN_CODE 77
      ENVIRONMENT "SERVEBENCH_CONSUMER_WORK=${PROJECT_BINARY_DIR}/consumer-tests;CMAKE=${CMAKE_COMMAND};CXX=${CMAKE_CXX_COMPILER}")
  endforeach()
else()
  message(STATUS "servebench: bash not found; the consumer project tests are not registered")
endif()

find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  add_test(NAME single_include_is_up_to_date_with_include
           COMMAND Python3::Interpreter "${PROJECT_SOURCE_DIR}/tools/amalgamate.py" --check)
  set_tests_properties(single_include_is_up_to_date_with_include PROPERTIES LABELS "no_sanitizer")
else()
  message(STATUS "servebench: python3 not found; the single_include check is not registered")
endif()
