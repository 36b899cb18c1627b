# Connections opened before a level's clock, against a server servebench did not write: tests/peer_connections.cpp
# starts tests/peers/openai_server_http.py (Python's http.server, listen backlog 5) with Debian's python3.
# Its TTFT bounds assume an unsanitized client, hence no_sanitizer.
add_executable(peer_connections ${CMAKE_CURRENT_LIST_DIR}/../peer_connections.cpp)
servebench_own_target(peer_connections)
target_link_libraries(peer_connections PRIVATE servebench_doctest_main)
doctest_discover_tests(peer_connections TEST_PREFIX "peer_connections: " PROPERTIES TIMEOUT 180 LABELS no_sanitizer)
