// Included from two translation units linked into one program: a header function missing `inline` (or a
// non-inline variable) is defined twice and the link fails. The test body checks both units see the same library.
#include <doctest/doctest.h>

#include <servebench.hpp>
#include <servebench/event_loop/http1.hpp>
#include <servebench/sim.hpp>

std::string servebench_version_from_unit_b();

TEST_CASE("the umbrella header links from two translation units") {
  CHECK(servebench_version_from_unit_b() == servebench::version_string());
}
