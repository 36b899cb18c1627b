#!/usr/bin/env bash
# Builds and runs a tiny program that uses servebench, once for every way a project can take the library:
#   find_package     CMake find_package(servebench) against a tree installed with `cmake --install --prefix`
#   pkg_config       g++ with `pkg-config --cflags --libs servebench` against that installed tree
#   add_subdirectory CMake add_subdirectory() of this repository (its tests, examples and install rules stay off)
#   fetchcontent     CMake FetchContent pointed at this checkout (SOURCE_DIR: no network)
#   meson            a Meson project with this repository as subprojects/servebench
#   single_header    g++ -std=c++17 -I single_include, with cpp-httplib and nlohmann_json flags from pkg-config
#
# Usage: tests/consumer/run.sh [KIND...]          (no KIND: all of them)
# Environment:
#   SERVEBENCH_CONSUMER_WORK  directory to build under (default: build/ of the repository); a temporary
#                             directory is made inside it and removed afterwards unless KEEP_CONSUMER_WORK=1
#   CMAKE, MESON, PKG_CONFIG  the tools (default: from PATH); CXX: the compiler (default: c++ for CMake and
#                             Meson, g++ for the plain builds); CMAKE_GENERATOR: as CMake reads it (default Ninja
#                             when ninja is on PATH)
# Exit status: 0 when every kind passed, 77 when a tool a kind needs is missing (ctest reports a skip), else 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cmake="${CMAKE:-cmake}"
ctest="$(dirname "$(command -v "$cmake" || echo cmake)")/ctest"  # the ctest that comes with that cmake
meson="${MESON:-meson}"
pkg_config="${PKG_CONFIG:-pkg-config}"
if [[ -z "${CMAKE_GENERATOR:-}" ]] && command -v ninja >/dev/null; then export CMAKE_GENERATOR=Ninja; fi

all_kinds=(find_package pkg_config add_subdirectory fetchcontent meson single_header)
kinds=("$@")
[[ ${#kinds[@]} -gt 0 ]] || kinds=("${all_kinds[@]}")

work_root="${SERVEBENCH_CONSUMER_WORK:-$repo/build}"
mkdir -p "$work_root"
work="$(mktemp -d "$work_root/consumer.XXXXXX")"
cleanup() { if [[ "${KEEP_CONSUMER_WORK:-0}" != 1 ]]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

# Runs a command with its output in a log; on failure prints what was being done and the log, and exits.
step() {
  local what="$1"; shift
  local log="$work/step.log"
  if ! "$@" >"$log" 2>&1; then
    echo "FAILED: $what" >&2
    echo "  command: $*" >&2
    sed 's/^/  | /' "$log" >&2
    exit 1
  fi
}

fail() { echo "FAILED: $*" >&2; exit 1; }

need() {
  local tool
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      echo "SKIPPED: '$tool' is not installed" >&2
      exit 77
    fi
  done
}

# A copy of one consumer project with the shared program beside it, so each project reads like a user's own.
stage() {
  local kind="$1" src="$work/$1/src"
  mkdir -p "$src"
  if [[ -d "$here/$kind" ]]; then cp -R "$here/$kind/." "$src/"; fi
  cp "$here/consumer.cpp" "$src/"
  echo "$src"
}

cmake_consumer() {
  local kind="$1"; shift
  local src; src="$(stage "$kind")"
  # No build type: no optimisation and no debug info, the quickest build of a program that is run once.
  step "configure the $kind consumer" "$cmake" -S "$src" -B "$work/$kind/build" -DCMAKE_BUILD_TYPE= "$@"
  step "build the $kind consumer" "$cmake" --build "$work/$kind/build"
  step "run the $kind consumer" "$work/$kind/build/consumer"
}

# Installs servebench into $work/prefix. It is configured for a different prefix first, so the test shows that
# `cmake --install --prefix` is honoured and that the installed files (CMake package, .pc) are relocatable.
installed_prefix=""
install_servebench() {
  [[ -z "$installed_prefix" ]] || return 0
  need "$cmake"
  local build="$work/servebench-build" configured="$work/configured-prefix"
  installed_prefix="$work/prefix"
  step "configure servebench for installation" "$cmake" -S "$repo" -B "$build" \
    -DCMAKE_INSTALL_PREFIX="$configured" -DSERVEBENCH_BUILD_TESTS=OFF -DSERVEBENCH_BUILD_EXAMPLES=OFF \
    -DSERVEBENCH_BUILD_BENCH=OFF
  step "install servebench" "$cmake" --install "$build" --prefix "$installed_prefix"
  [[ ! -e "$configured" ]] || fail "cmake --install --prefix wrote into the configured prefix $configured"

  local expected=(share/cmake/servebench/servebenchConfig.cmake share/cmake/servebench/servebenchConfigVersion.cmake
                  share/cmake/servebench/servebenchTargets.cmake share/pkgconfig/servebench.pc)
  local header
  while IFS= read -r header; do expected+=("include/${header#"$repo/include/"}"); done \
    < <(find "$repo/include" -name '*.hpp' | sort)
  local file
  for file in "${expected[@]}"; do
    [[ -f "$installed_prefix/$file" ]] || fail "the installed tree lacks $file; it holds:
$(cd "$installed_prefix" && find . -type f | sort)"
  done
  # Header-only and architecture-independent: nothing belongs under lib/.
  [[ ! -e "$installed_prefix/lib" ]] || fail "the installed tree has a lib/ directory: $(find "$installed_prefix/lib")"
}

run_kind() {
  case "$1" in
    find_package)
      install_servebench
      cmake_consumer find_package -DCMAKE_PREFIX_PATH="$installed_prefix"
      ;;
    pkg_config)
      need "$pkg_config" "${CXX:-g++}"
      install_servebench
      local src; src="$(stage pkg_config)"
      export PKG_CONFIG_PATH="$installed_prefix/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
      local version includedir
      version="$("$pkg_config" --modversion servebench)"
      includedir="$("$pkg_config" --variable=includedir servebench)"
      [[ "$(cd "$includedir" && pwd -P)" == "$(cd "$installed_prefix/include" && pwd -P)" ]] ||
        fail "servebench.pc names includedir $includedir, not the installed $installed_prefix/include"
      # shellcheck disable=SC2046 # the flags are meant to split into words
      step "build the pkg_config consumer" "${CXX:-g++}" -std=c++17 -o "$work/pkg_config/consumer" \
        "$src/consumer.cpp" -DSERVEBENCH_EXPECTED_VERSION="\"$version\"" \
        $("$pkg_config" --cflags --libs servebench)
      step "run the pkg_config consumer" "$work/pkg_config/consumer"
      ;;
    add_subdirectory)
      need "$cmake"
      cmake_consumer add_subdirectory -DSERVEBENCH_CHECKOUT="$repo"
      local tests
      tests="$(cd "$work/add_subdirectory/build" && "$ctest" -N | sed -n 's/^Total Tests: //p')"
      [[ "$tests" == 1 ]] || fail "the add_subdirectory consumer has $tests ctest tests; servebench's own leaked in"
      step "install the add_subdirectory consumer" "$cmake" --install "$work/add_subdirectory/build" \
        --prefix "$work/add_subdirectory/prefix"
      local installed
      installed="$(cd "$work/add_subdirectory/prefix" && find . -type f | sort)"
      [[ "$installed" == "./bin/consumer" ]] ||
        fail "installing a project that vendors servebench installed more than its own program:
$installed"
      ;;
    fetchcontent)
      need "$cmake"
      cmake_consumer fetchcontent -DSERVEBENCH_CHECKOUT="$repo"
      ;;
    meson)
      need "$meson" ninja
      local src; src="$(stage meson)"
      mkdir -p "$src/subprojects"
      ln -s "$repo" "$src/subprojects/servebench"
      step "configure the meson consumer" "$meson" setup "$work/meson/build" "$src" --buildtype=plain \
        --force-fallback-for=servebench
      step "build the meson consumer" "$meson" compile -C "$work/meson/build"
      step "run the meson consumer" "$meson" test -C "$work/meson/build" --print-errorlogs
      ;;
    single_header)
      need "$pkg_config" "${CXX:-g++}"
      local src; src="$(stage single_header)"
      local header="$repo/single_include/servebench.hpp" version
      [[ -f "$header" ]] || fail "$header does not exist; run tools/amalgamate.py"
      version="$(sed -n '1s|^// servebench \([^ ]*\) .*|\1|p' "$header")"
      # shellcheck disable=SC2046 # the flags are meant to split into words
      step "build the single_header consumer" "${CXX:-g++}" -std=c++17 -I "$repo/single_include" \
        -o "$work/single_header/consumer" "$src/consumer.cpp" -DSERVEBENCH_EXPECTED_VERSION="\"$version\"" \
        $("$pkg_config" --cflags --libs cpp-httplib nlohmann_json) -pthread
      step "run the single_header consumer" "$work/single_header/consumer"
      ;;
    *)
      echo "unknown consumer kind '$1'; known: ${all_kinds[*]}" >&2
      exit 2
      ;;
  esac
}

for kind in "${kinds[@]}"; do
  start=$SECONDS
  run_kind "$kind"
  echo "PASS consumer $kind ($((SECONDS - start)) s)"
done
