#include <servebench.hpp>

std::string servebench_version_from_unit_b() { return servebench::version_string(); }
