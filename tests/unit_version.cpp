#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <servebench/version.hpp>

TEST_CASE("the version macros agree with each other") {
  const std::string joined = std::to_string(SERVEBENCH_VERSION_MAJOR) + "." + std::to_string(SERVEBENCH_VERSION_MINOR) +
                             "." + std::to_string(SERVEBENCH_VERSION_PATCH);
  CHECK(joined == SERVEBENCH_VERSION_STRING);
  CHECK(std::string(servebench::version_string()) == SERVEBENCH_VERSION_STRING);
}

TEST_CASE("the version in version.hpp is the one CMake configured") {
  // CMake writes the project version into its cache; the build under test must agree with the header.
  std::ifstream cache(std::string(SERVEBENCH_BINARY_DIR) + "/CMakeCache.txt");
  if (!cache) {
    // A Meson build: Meson records the project version in its introspection data.
    std::ifstream info(std::string(SERVEBENCH_BINARY_DIR) + "/meson-info/intro-projectinfo.json");
    REQUIRE_MESSAGE(info, "neither CMakeCache.txt nor meson-info found under " SERVEBENCH_BINARY_DIR);
    std::stringstream text;
    text << info.rdbuf();
    CHECK(text.str().find("\"version\": \"" SERVEBENCH_VERSION_STRING "\"") != std::string::npos);
    return;
  }
  std::stringstream text;
  text << cache.rdbuf();
  std::smatch match;
  const std::string contents = text.str();
  REQUIRE(std::regex_search(contents, match, std::regex("CMAKE_PROJECT_VERSION:STATIC=([0-9.]+)")));
  CHECK(match[1].str() == SERVEBENCH_VERSION_STRING);
}

namespace {
std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

TEST_CASE("the CMake package version file and servebench.pc carry the version in version.hpp") {
  // What find_package(servebench) and `pkg-config --modversion servebench` report after installation; the
  // consumer tests (tests/consumer/run.sh) check the same on an installed tree.
  const std::string binary_dir = SERVEBENCH_BINARY_DIR;
  const std::string version_file = read_text(binary_dir + "/servebenchConfigVersion.cmake");
  const std::string pc_file = read_text(binary_dir + "/servebench.pc");
  if (version_file.empty() || pc_file.empty()) {
    MESSAGE("no package files in " SERVEBENCH_BINARY_DIR
            " (a Meson build, or SERVEBENCH_INSTALL=OFF): nothing to check");
    return;
  }
  std::smatch match;
  REQUIRE(std::regex_search(version_file, match, std::regex("set\\(PACKAGE_VERSION \"([^\"]+)\"\\)")));
  CHECK(match[1].str() == SERVEBENCH_VERSION_STRING);
  REQUIRE(std::regex_search(pc_file, match, std::regex("\nVersion: ([^\n]+)\n")));
  CHECK(match[1].str() == SERVEBENCH_VERSION_STRING);
}
