# Repetitions with confidence (Sweep::repeat, repetitions.hpp): lab2_3_concurrent --repeat 3 against its embedded
# simulated servers; tests/repeat_check.py recomputes the artifact's intervals and the table's ratio intervals with
# scipy.stats.t (Debian's python3-scipy) and checks the interleaved order from the requests' timestamps.
if(NOT SERVEBENCH_BUILD_EXAMPLES)
  return()
endif()
add_test(NAME repeat_intervals_match_scipy_and_levels_interleave
         COMMAND /usr/bin/python3 "${CMAKE_CURRENT_LIST_DIR}/../repeat_check.py"
                 --bin "$<TARGET_FILE_DIR:lab2_3_concurrent>")
set_tests_properties(repeat_intervals_match_scipy_and_levels_interleave PROPERTIES TIMEOUT 300 LABELS no_sanitizer)
