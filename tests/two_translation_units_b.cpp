#include <servebench.hpp>
#include <servebench/event_loop/http1.hpp>
#include <servebench/sim.hpp>

std::string servebench_version_from_unit_b() { return servebench::version_string(); }
