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
foreach(case run bad_args interrupt datasets)
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

# The README's first example, run as printed there (the listing is checked against the file): both embedded servers
# answer every request, the relative column is there, and the artifact and chart are written.
add_test(NAME examples_compare_runs_as_the_readme_shows COMMAND compare)
set_tests_properties(examples_compare_runs_as_the_readme_shows PROPERTIES
  WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}" TIMEOUT 180 LABELS no_sanitizer
  PASS_REGULAR_EXPRESSION "vs plain.*\n *20 +batching +20 +0 .*artifact: artifacts/compare.json\nchart: +artifacts/compare_throughput.svg"
  FAIL_REGULAR_EXPRESSION "failed,|warning:")
add_test(NAME readme_listings_are_the_example_files COMMAND "${_servebench_examples_python}"
         "${CMAKE_CURRENT_LIST_DIR}/../readme_check.py")
