// servebench — version macros. CMake and Meson read these numbers; a test checks they agree.
#pragma once

#define SERVEBENCH_VERSION_MAJOR 0
#define SERVEBENCH_VERSION_MINOR 1
#define SERVEBENCH_VERSION_PATCH 0
#define SERVEBENCH_VERSION_STRING "0.1.0"

namespace servebench {
inline constexpr const char* version_string() noexcept { return SERVEBENCH_VERSION_STRING; }
}  // namespace servebench
