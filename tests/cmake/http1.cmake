# The event-loop transport's response parser against replies of servers servebench did not write: tests/http1_check.py
# starts Python's http.server, Flask and aiohttp (tests/peers/reply_server.py) on free ports of 127.0.0.1 with
# Debian's python3 (python3-flask, python3-aiohttp), captures their raw replies, and compares what
# tests/http1_decode.cpp reads from them with what Python's http.client reads.
add_executable(http1_decode ${CMAKE_CURRENT_LIST_DIR}/../http1_decode.cpp)
servebench_own_target(http1_decode)
foreach(case http_server flask aiohttp)
  add_test(NAME http1_${case}_replies_read_as_http_client_reads_them
           COMMAND /usr/bin/python3 "${CMAKE_CURRENT_LIST_DIR}/../http1_check.py"
                   --decoder "$<TARGET_FILE:http1_decode>" --case ${case})
  set_tests_properties(http1_${case}_replies_read_as_http_client_reads_them PROPERTIES TIMEOUT 120)
endforeach()
