#!/usr/bin/env python3
"""Compile-time benchmark: what including servebench costs a translation unit.

The project's promise: a TU holding only `#include <servebench.hpp>` compiles (g++ -O0 -c) in at most 1.4x the
time of one holding only `#include <httplib.h>` and `#include <nlohmann/json.hpp>`, measured in the same run.

Each case is a TU of #include lines only, compiled with `-c -o /dev/null`, the --flags, `-I include/` and the
cpp-httplib/nlohmann_json flags from pkg-config (when it knows them). One warm-up compile of every case first, then
the cases are interleaved run by run (A B C A B C ...) so machine drift hits them all alike. Each compiler process
is timed by wall clock (time.perf_counter) and by user+sys CPU (os.wait4's rusage, which includes cc1plus and as).

Prints a table and one final line `servebench/reference = X.XXx (target <= 1.40x): PASS|FAIL`, and writes the
figures as JSON (atomically). Exit status: 0 whether the target is met or not; 1 when a compile fails (with the
compiler's stderr) or a case the headline ratio needs cannot be measured; 2 on bad arguments.

Stdlib only. Example:
  bench/compile_time.py --runs 11 --per-header
  bench/compile_time.py --case json_only='<nlohmann/json.hpp>' --case record=servebench/record.hpp
"""
import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 1.40
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join(REPO_ROOT, "build", "bench", "compile_time.json")
DEFAULT_INCLUDE = os.path.join(REPO_ROOT, "include")
PKG_CONFIG_PACKAGES = ["cpp-httplib", "nlohmann_json"]
DEFAULT_CASES = [
    ("reference", ["<httplib.h>", "<nlohmann/json.hpp>"]),
    ("servebench", ["<servebench.hpp>"]),
    ("servebench_sim", ["<servebench/sim.hpp>"]),
]
PROG = "bench/compile_time.py"


class ArgError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr and exit status 2."""

    def error(self, message):
        sys.stderr.write(f"{PROG}: {message}\n")
        sys.exit(2)


def bad_args(message):
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.exit(2)


def parse_args(argv):
    p = OneLineParser(
        prog=PROG,
        description="Compile-time benchmark: servebench's headers against cpp-httplib + nlohmann/json.",
        epilog=f"Target: servebench/reference <= {TARGET:.2f}x (median wall time). Exit 0 either way; 1 when a "
        "compile fails; 2 on bad arguments.",
    )
    p.add_argument("--cxx", default=os.environ.get("CXX") or "g++", help="compiler (default: $CXX, else g++)")
    p.add_argument("--runs", default="7", help="measured compiles per case, after one warm-up (default 7)")
    p.add_argument("--json", default=DEFAULT_JSON, metavar="PATH",
                   help="where the JSON goes (default build/bench/compile_time.json under the repo)")
    p.add_argument("--include", default=DEFAULT_INCLUDE, metavar="DIR",
                   help="servebench's include directory (default: the repo's include/)")
    p.add_argument("--flags", default="-std=c++17 -O0", help="compiler flags, one shell-quoted string, given as --flags='...' "
                   "(default '-std=c++17 -O0')")
    p.add_argument("--case", action="append", default=[], metavar="NAME=HEADER[,HEADER...]",
                   help="add a case: a TU including these headers (<h>, \"h\" or a bare h meaning <h>); "
                   "a NAME of a default case replaces it; repeatable")
    p.add_argument("--per-header", action="store_true",
                   help="also one case per header in include/servebench/*.hpp (top level only)")
    args = p.parse_args(argv)

    try:
        args.runs = int(args.runs)
    except ValueError:
        bad_args(f"--runs: not a whole number: {args.runs!r}")
    if args.runs < 1:
        bad_args(f"--runs: must be at least 1, got {args.runs}")
    try:
        args.flags = shlex.split(args.flags)
    except ValueError as e:
        bad_args(f"--flags: cannot split {args.flags!r}: {e}")
    if not os.path.isdir(args.include):
        bad_args(f"--include: not a directory: {args.include}")
    args.include = os.path.abspath(args.include)
    cxx_path = shutil.which(args.cxx)
    if cxx_path is None:
        bad_args(f"--cxx: compiler not found: {args.cxx}")
    args.cxx_path = cxx_path

    cases = dict(DEFAULT_CASES)
    added = set()
    for spec in args.case:
        name, sep, headers = spec.partition("=")
        name = name.strip()
        if not sep or not name or not headers.strip():
            bad_args(f"--case: expected NAME=HEADER[,HEADER...], got {spec!r}")
        if not re.fullmatch(r"[A-Za-z0-9_.+/-]+", name):
            bad_args(f"--case: name {name!r} may hold only letters, digits and _ . + / -")
        if name in added:
            bad_args(f"--case: {name!r} given twice")
        parsed = []
        for h in headers.split(","):
            h = h.strip()
            if not h:
                bad_args(f"--case: empty header in {spec!r}")
            if not (h[0] == "<" and h[-1] == ">" and len(h) > 2) and not (h[0] == '"' and h[-1] == '"' and len(h) > 2):
                if any(c in h for c in '<>"'):
                    bad_args(f"--case: malformed header {h!r} in {spec!r}")
                h = f"<{h}>"
            parsed.append(h)
        added.add(name)
        cases[name] = parsed
    args.cases = cases
    return args


def pkg_config_flags():
    """cflags for cpp-httplib and nlohmann_json from pkg-config: both at once, else each that it knows."""
    notes = []
    if shutil.which("pkg-config") is None:
        return [], ["pkg-config not found: no cpp-httplib/nlohmann_json flags"]

    def query(pkgs):
        r = subprocess.run(["pkg-config", "--cflags", *pkgs], capture_output=True, text=True)
        return shlex.split(r.stdout) if r.returncode == 0 else None

    flags = query(PKG_CONFIG_PACKAGES)
    if flags is not None:
        return flags, notes
    flags = []
    for pkg in PKG_CONFIG_PACKAGES:
        f = query([pkg])
        if f is None:
            notes.append(f"pkg-config does not know {pkg}: no flags for it")
        else:
            flags += [x for x in f if x not in flags]
    return flags, notes


def search_dirs(cxx, flags):
    """The compiler's #include search directories for these flags (from -E -v), or None if it will not say."""
    try:
        r = subprocess.run([cxx, *flags, "-x", "c++", "-E", "-v", "-"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    quote, angle, mode = [], [], None
    for line in r.stderr.splitlines():
        if line.startswith('#include "..." search starts here'):
            mode = quote
        elif line.startswith("#include <...> search starts here"):
            mode = angle
        elif line.startswith("End of search list"):
            break
        elif mode is not None and line.startswith(" "):
            d = line.strip()
            d = re.sub(r" \(framework directory\)$", "", d)
            mode.append(d)
    if not angle:
        return None
    return quote, angle


def header_found(header, dirs):
    name = header[1:-1]
    quote, angle = dirs
    candidates = angle if header[0] == "<" else quote + angle
    return any(os.path.isfile(os.path.join(d, name)) for d in candidates)


def first_line_version(cxx):
    try:
        r = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30)
        return (r.stdout.splitlines() or [""])[0].strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def tu_text(headers):
    return "".join(f"#include {h}\n" for h in headers)


def compile_once(cmd, tu_path, text, err_path):
    """Writes the TU, compiles it; returns (wall_s, cpu_s, exit_code)."""
    with open(tu_path, "w") as f:
        f.write(text)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    t0 = time.perf_counter()
    pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, os.waitstatus_to_exitcode(status)


def write_json_atomically(path, data):
    path = os.path.abspath(path)
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".compile_time.", suffix=".json.tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r):
    return f"{r:.2f}x" if r is not None else "-"


def main(argv):
    args = parse_args(argv)
    pkg_flags, notes = pkg_config_flags()
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    common = [*args.flags, "-I", args.include, *pkg_flags]

    cases = dict(args.cases)
    if args.per_header:
        sub = os.path.join(args.include, "servebench")
        names = sorted(f for f in os.listdir(sub) if f.endswith(".hpp")) if os.path.isdir(sub) else []
        for f in names:
            headers = [f"<servebench/{f}>"]
            same = [n for n, h in cases.items() if h == headers]
            if same:
                print(f"note: per-header case servebench/{f} is case {same[0]}; not measured twice", file=sys.stderr)
                continue
            cases[f"servebench/{f}"] = headers

    dirs = search_dirs(args.cxx_path, common)
    if dirs is None:
        print(f"note: {args.cxx} did not list its include directories; no case is skipped for a missing header",
              file=sys.stderr)
    skipped = {}
    for name, headers in list(cases.items()):
        missing = [h for h in headers if dirs is not None and not header_found(h, dirs)]
        if missing:
            skipped[name] = f"header not found: {', '.join(missing)}"
            print(f"skip: case {name}: {skipped[name]}", file=sys.stderr)
            del cases[name]
    if not cases:
        print(f"{PROG}: no case left to measure", file=sys.stderr)
        return 1

    version = first_line_version(args.cxx_path)
    results = {n: {"headers": h, "wall_s": [], "cpu_s": []} for n, h in cases.items()}
    with tempfile.TemporaryDirectory(prefix="servebench-compile-time.") as tmp:
        paths = {}
        for i, name in enumerate(cases):
            tu = os.path.join(tmp, f"case{i}.cpp")
            paths[name] = (tu, [args.cxx_path, *common, "-c", tu, "-o", "/dev/null"])
        err_path = os.path.join(tmp, "stderr.txt")

        def run(name, sample):
            tu, cmd = paths[name]
            wall, cpu, code = compile_once(cmd, tu, tu_text(cases[name]), err_path)
            if code != 0:
                with open(err_path, errors="replace") as f:
                    err = f.read()
                sys.stderr.write(err)
                if err and not err.endswith("\n"):
                    sys.stderr.write("\n")
                print(f"{PROG}: case {name} failed to compile (exit {code}): {shlex.join(cmd)}", file=sys.stderr)
                sys.exit(1)
            if sample:
                results[name]["wall_s"].append(wall)
                results[name]["cpu_s"].append(cpu)

        print(f"{args.cxx}: {version}; {len(cases)} cases x (1 warm-up + {args.runs} runs)", file=sys.stderr)
        for name in cases:
            run(name, sample=False)
        for r in range(args.runs):
            print(f"run {r + 1}/{args.runs}", file=sys.stderr, flush=True)
            for name in cases:
                run(name, sample=True)

    for res in results.values():
        res["median_wall_s"] = statistics.median(res["wall_s"])
        res["min_wall_s"] = min(res["wall_s"])
        res["median_cpu_s"] = statistics.median(res["cpu_s"])
        res["min_cpu_s"] = min(res["cpu_s"])
    ref = results.get("reference")
    for res in results.values():
        res["ratio_median_wall"] = ratio(res["median_wall_s"], ref and ref["median_wall_s"])
        res["ratio_min_wall"] = ratio(res["min_wall_s"], ref and ref["min_wall_s"])
        res["ratio_median_cpu"] = ratio(res["median_cpu_s"], ref and ref["median_cpu_s"])

    width = max([len("case")] + [len(n) for n in results])
    print(f"{'case':<{width}}  {'median s':>9}  {'min s':>7}  {'cpu med s':>9}  {'ratio med':>9}  {'ratio min':>9}")
    for name, res in results.items():
        print(f"{name:<{width}}  {res['median_wall_s']:>9.3f}  {res['min_wall_s']:>7.3f}  {res['median_cpu_s']:>9.3f}"
              f"  {fmt_ratio(res['ratio_median_wall']):>9}  {fmt_ratio(res['ratio_min_wall']):>9}")

    sb = results.get("servebench")
    headline = sb["ratio_median_wall"] if sb else None
    passed = headline is not None and headline <= TARGET
    data = {
        "benchmark": "compile_time",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "nproc": os.cpu_count(),
            "uname": " ".join(platform.uname()),
            "compiler": version,
        },
        "cxx": args.cxx,
        "flags": args.flags,
        "pkg_config_flags": pkg_flags,
        "include": args.include,
        "command": [args.cxx, *common, "-c", "TU.cpp", "-o", "/dev/null"],
        "runs": args.runs,
        "warmup_runs": 1,
        "cases": results,
        "skipped": skipped,
        "ratios": {
            "servebench_over_reference_median_wall": headline,
            "servebench_over_reference_min_wall": sb["ratio_min_wall"] if sb else None,
            "servebench_over_reference_median_cpu": sb["ratio_median_cpu"] if sb else None,
        },
        "target": {"metric": "servebench/reference median wall time", "max_ratio": TARGET, "pass": passed},
    }
    write_json_atomically(args.json, data)
    print(f"json: {os.path.relpath(os.path.abspath(args.json))}", file=sys.stderr)

    if headline is None:
        why = "; ".join(f"{n}: {skipped[n]}" for n in ("reference", "servebench") if n in skipped) or "not measured"
        print(f"servebench/reference = n/a (target <= {TARGET:.2f}x): FAIL ({why})")
        return 1
    print(f"servebench/reference = {headline:.2f}x (target <= {TARGET:.2f}x): {'PASS' if passed else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
