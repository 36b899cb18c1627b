# The lab examples run as a user runs them, against their embedded simulated servers: exit codes, files and their
# exact shapes, bad command lines, Ctrl-C, and the lab's own plotting script (Debian's python3-matplotlib) reading
# our concurrent_benchmark.json. Subprocess timing is not what sanitizer builds test: LABELS no_sanitizer.
if(EXISTS /usr/bin/python3)
  set(_servebench_examples_python /usr/bin/python3)  # Debian's, with python3-matplotlib; not a pyenv one on PATH
else()
  find_program(_servebench_examples_python NAMES python3 REQUIRED)
endif()
if(NOT SERVEBENCH_BUILD_EXAMPLES)
  return()  # the checks run the example programs
endif()
foreach(case run bad_args interrupt)
  add_test(NAME examples_lab_${case}
           COMMAND "${_servebench_examples_python}" "${CMAKE_CURRENT_LIST_DIR}/../examples_check.py"
                   --bin "$<TARGET_FILE_DIR:lab2_3_concurrent>" --case ${case})
  set_tests_properties(examples_lab_${case} PROPERTIES TIMEOUT 300 LABELS no_sanitizer ENVIRONMENT MPLBACKEND=Agg)
endforeach()

# The README's first example, run as printed there: every request succeeds and the artifact is written.
add_test(NAME examples_quickstart_runs_as_the_readme_shows COMMAND quickstart)
set_tests_properties(examples_quickstart_runs_as_the_readme_shows PROPERTIES
  WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}" TIMEOUT 120 LABELS no_sanitizer
  PASS_REGULAR_EXPRESSION "50 ok, 0 failed, .*artifact: artifacts/quickstart.json")
