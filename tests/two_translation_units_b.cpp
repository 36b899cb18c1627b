#include <servebench.hpp>
#include <servebench/sim.hpp>

std::string servebench_version_from_unit_b() { return servebench::version_string(); }
