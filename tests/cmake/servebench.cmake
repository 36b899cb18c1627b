# The servebench command as a user has it: installed by `cmake --install` (the fixture below), then driven by
# tests/servebench_check.py against sim_server, the lab's Flask server, an aiohttp server with its own tokenizer, the
# Prometheus client library's /metrics (Debian's python3-aiohttp, python3-prometheus-client), and four copies under
# mpirun (Debian's openmpi-bin). Subprocess timing is not what sanitizer builds test: LABELS no_sanitizer.
if(NOT SERVEBENCH_BUILD_EXAMPLES OR NOT SERVEBENCH_INSTALL)
  return()
endif()
if(EXISTS /usr/bin/python3)
  set(_servebench_command_python /usr/bin/python3)  # Debian's, with numpy and flask; not a pyenv one on PATH
else()
  find_program(_servebench_command_python NAMES python3 REQUIRED)
endif()
set(_servebench_prefix "${CMAKE_CURRENT_BINARY_DIR}/servebench-install")
add_test(NAME servebench_command_installs
         COMMAND "${CMAKE_COMMAND}" --install "${CMAKE_BINARY_DIR}" --prefix "${_servebench_prefix}"
                 --component servebench)
set_tests_properties(servebench_command_installs PROPERTIES FIXTURES_SETUP servebench_installed LABELS no_sanitizer)
foreach(case install closed open workloads flask compare merge mpirun bad_input interrupt tokenizer_peer
             metrics_peer)
  add_test(NAME servebench_command_${case}
           COMMAND "${_servebench_command_python}" "${CMAKE_CURRENT_LIST_DIR}/../servebench_check.py"
                   --bin "${_servebench_prefix}/bin/servebench" --sim "$<TARGET_FILE:sim_server>" --case ${case})
  set_tests_properties(servebench_command_${case} PROPERTIES TIMEOUT 300 LABELS no_sanitizer
                       FIXTURES_REQUIRED servebench_installed)
endforeach()
