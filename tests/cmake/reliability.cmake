# Reliability checks with real processes (tests/reliability_check.py): a second Ctrl-C ends lab2_3_concurrent at
# once leaving only whole files, and the non-lab examples reject bad arguments with exit 2. Subprocess timing is not
# what sanitizer builds test: LABELS no_sanitizer. Needs the examples (SERVEBENCH_BUILD_EXAMPLES).
if(SERVEBENCH_BUILD_EXAMPLES)  # tests/ is added before examples/: the targets are named, not yet defined
  if(EXISTS /usr/bin/python3)
    set(_servebench_reliability_python /usr/bin/python3)
  else()
    find_program(_servebench_reliability_python NAMES python3 REQUIRED)
  endif()
  foreach(case double_sigint bad_args)
    add_test(NAME reliability_${case}
             COMMAND "${_servebench_reliability_python}" "${CMAKE_CURRENT_LIST_DIR}/../reliability_check.py"
                     --bin "$<TARGET_FILE_DIR:lab2_3_concurrent>" --case ${case})
    set_tests_properties(reliability_${case} PROPERTIES TIMEOUT 120 LABELS no_sanitizer)
  endforeach()
endif()
# Hostile servers (tests/hostile_check.py over tests/peers/hostile_server.py): bodies without end, dripped bytes,
# broken chunked encoding, lying Content-Length, and Ctrl-C during a readiness wait; each bounded in time and memory.
if(SERVEBENCH_BUILD_EXAMPLES)
  foreach(case endless_health drip_health endless_reply endless_stream drip_reply drip_stream bad_chunked short_length
               long_length interrupt_never_ready interrupt_silent)
    add_test(NAME hostile_${case}
             COMMAND "${_servebench_reliability_python}" "${CMAKE_CURRENT_LIST_DIR}/../hostile_check.py"
                     --bin "$<TARGET_FILE_DIR:lab2_2_single_request>" --case ${case})
    set_tests_properties(hostile_${case} PROPERTIES TIMEOUT 90 LABELS no_sanitizer)
  endforeach()
endif()
