#!/usr/bin/env bash
# Bounded libFuzzer runs over every servebench parser.  Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET]  (default 30)
# Builds each tests/fuzz/fuzz_<name>.cpp with clang++ -fsanitize=fuzzer,address,undefined (any sanitizer report is
# fatal), runs it for SECONDS with its seed corpus tests/fuzz/corpus/<name>/ (as many targets at once as cores,
# SERVEBENCH_JOBS to change), prints the executions per target, and
# appends one tab-separated line per target to $SERVEBENCH_FUZZ_LOG (default build/fuzz/fuzz-log.tsv): date, target,
# seconds, executions, corpus size, result.  Fails on any crash, leak, timeout or sanitizer report; the input
# that did it is left in build/fuzz/artifacts/ (turn it into a regression test in the parser's unit test file).
# Environment: SERVEBENCH_FUZZ_CXX (default clang++; not CXX, which CI may point at g++), SERVEBENCH_FUZZ_TARGETS="sse workload" to run a subset.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${1:-30}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] (a whole number, default 30)" >&2; exit 2; }
cxx=${SERVEBENCH_FUZZ_CXX:-clang++}
if ! "$cxx" --version 2>/dev/null | grep -q clang; then
  echo "tests/fuzz/run.sh: needs clang++ with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev); SERVEBENCH_FUZZ_CXX=$cxx is not clang" >&2
  exit 2
fi
out=$root/build/fuzz
log=${SERVEBENCH_FUZZ_LOG:-$out/fuzz-log.tsv}
mkdir -p "$out/artifacts" "$(dirname "$log")"
targets=${SERVEBENCH_FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//' | tr '\n' ' ')}
# The parsers need only nlohmann/json; cpp-httplib's flags keep the build the same as the library's, and
# --as-needed drops its shared library (and OpenSSL's) from binaries that never call it.
deps=$(pkg-config --cflags --libs cpp-httplib nlohmann_json 2>/dev/null || true)

# Build every target first (in parallel: each is one translation unit), so a compile error stops before fuzzing.
build() {
  local name=$1
  local binary=$out/fuzz_$name
  if [[ ! -x $binary || tests/fuzz/fuzz_$name.cpp -nt $binary || -n $(find include tests/support -newer "$binary" -name '*.hpp' -print -quit) ]]; then
    # shellcheck disable=SC2086
    "$cxx" -std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      -Wall -Wextra -Wpedantic -Iinclude "tests/fuzz/fuzz_$name.cpp" -o "$binary.tmp" -Wl,--as-needed $deps
    mv "$binary.tmp" "$binary"
  fi
}
pids=()
for name in $targets; do build "$name" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid"; done

# Every target fuzzes for SECONDS, as many at once as there are cores (each libFuzzer process uses one).
fuzz_one() {
  local name=$1 dict=tests/fuzz/json.dict
  [[ -f tests/fuzz/$name.dict ]] && dict=tests/fuzz/$name.dict
  local work=$out/corpus/$name  # new inputs go here, never into the repository's seed corpus
  mkdir -p "$work"
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a runaway allocation is a failure.
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       "$out/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -dict="$dict" \
       -print_final_stats=1 -artifact_prefix="$out/artifacts/${name}-" "$work" "tests/fuzz/corpus/$name" \
       >"$out/$name.log" 2>&1; then
    echo ok >"$out/$name.result"
  else
    echo FAILED >"$out/$name.result"
  fi
}
jobs=${SERVEBENCH_JOBS:-$(nproc)}
running=0
for name in $targets; do
  fuzz_one "$name" &
  running=$((running + 1))
  if ((running >= jobs)); then wait -n; running=$((running - 1)); fi
done
wait

status=0
printf '%-12s %10s %12s %8s %s\n' target seconds executions corpus result
for name in $targets; do
  result=$(cat "$out/$name.result")
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log" | tail -1)
  corpus=$(find "$out/corpus/$name" -type f | wc -l)
  printf '%-12s %10s %12s %8s %s\n' "$name" "$seconds" "${executions:-?}" "$corpus" "$result"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$name" "$seconds" "${executions:-?}" "$corpus" \
    "$result" >>"$log"
  if [[ $result != ok ]]; then
    status=1
    echo "--- fuzz_$name failed; the last lines of $out/$name.log:" >&2
    tail -40 "$out/$name.log" >&2
  fi
done
exit $status
