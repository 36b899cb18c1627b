# Browser check for chart.hpp: tests/chart_samples.cpp writes one SVG per chart kind, tests/browser_check.py opens
# each in headless Chromium (Debian's `chromium`), screenshots it and checks the page loaded and is not blank.
# Needs Debian's `chromium` and `python3-pil`; without them the test fails with a message naming the package.
add_executable(chart_samples "${CMAKE_CURRENT_LIST_DIR}/../chart_samples.cpp")
servebench_own_target(chart_samples)

# Debian's interpreter on purpose: a pyenv python3 earlier on PATH lacks Debian's python3-pil.
if(EXISTS /usr/bin/python3)
  set(_servebench_browser_python /usr/bin/python3)
else()
  find_program(_servebench_browser_python NAMES python3 REQUIRED)
endif()

add_test(NAME browser_every_chart_kind_renders_in_headless_chromium
         COMMAND "${_servebench_browser_python}" "${CMAKE_CURRENT_LIST_DIR}/../browser_check.py"
                 --samples "$<TARGET_FILE:chart_samples>"
                 --out "${CMAKE_CURRENT_BINARY_DIR}/browser_check")
set_tests_properties(browser_every_chart_kind_renders_in_headless_chromium
                     PROPERTIES TIMEOUT 400 RUN_SERIAL TRUE LABELS no_sanitizer)
