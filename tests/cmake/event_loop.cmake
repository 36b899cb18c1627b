# The fault and accounting tests again with every level on the event-loop transport (<servebench/event_loop.hpp>):
# the same source, SERVEBENCH_TEST_EVENT_LOOP picks the transport.
add_executable(integration_faults_event_loop ${CMAKE_CURRENT_SOURCE_DIR}/integration_faults.cpp)
servebench_own_target(integration_faults_event_loop)
target_link_libraries(integration_faults_event_loop PRIVATE servebench_doctest_main)
target_compile_definitions(integration_faults_event_loop PRIVATE SERVEBENCH_TEST_EVENT_LOOP=1)
doctest_discover_tests(integration_faults_event_loop TEST_PREFIX "integration_faults_event_loop: "
                       PROPERTIES TIMEOUT 300)
