# The lab programs against servers servebench did not write (Flask, Python's http.server, aiohttp), started by
# tests/peers_check.py on free ports of 127.0.0.1 with Debian's python3-flask, python3-aiohttp and
# python3-prometheus-client (a /metrics endpoint scraped during lab2_3_concurrent's levels).
if(NOT SERVEBENCH_BUILD_EXAMPLES)
  return()
endif()
foreach(case flask http_server aiohttp tls endpoint_flags per_token_itl prometheus)
  add_test(NAME peers_${case}_server_with_the_lab_programs
           COMMAND /usr/bin/python3 "${CMAKE_CURRENT_LIST_DIR}/../peers_check.py"
                   --bin "$<TARGET_FILE_DIR:lab2_1_check_server>" --case ${case})
  set_tests_properties(peers_${case}_server_with_the_lab_programs PROPERTIES TIMEOUT 180 LABELS no_sanitizer)
endforeach()
