# `servebench run --transport event-loop --loop-threads 2` against servers servebench did not write, each run beside
# the same run on the default transport and compared record by record: tests/event_loop_check.py starts aiohttp,
# Flask, Python's http.server and tests/peers/hostile_server.py on free ports of 127.0.0.1 with Debian's python3
# (python3-aiohttp, python3-flask), and checks the https refusal and bad --transport values. Subprocess timing is not
# what sanitizer builds test: LABELS no_sanitizer.
if(NOT SERVEBENCH_BUILD_EXAMPLES)
  return()
endif()
foreach(case aiohttp flask http_server hostile_framing hostile_endless hostile_slow hostile_closes tls bad_flags)
  add_test(NAME event_loop_peers_${case}
           COMMAND /usr/bin/python3 "${CMAKE_CURRENT_LIST_DIR}/../event_loop_check.py"
                   --bin "$<TARGET_FILE:servebench_command>" --case ${case})
  set_tests_properties(event_loop_peers_${case} PROPERTIES TIMEOUT 120 LABELS no_sanitizer)
endforeach()
