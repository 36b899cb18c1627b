#!/usr/bin/env python3
"""Generates single_include/servebench.hpp: the whole library in one header, for people who vendor one file.

Starts at the umbrella include/servebench.hpp and follows every quoted include that names one of servebench's own
headers (resolved the way the compiler does: beside the including file first, then under include/), inlining each
header once, at its first inclusion, depth first -- the order the compiler would see them. `#pragma once` lines are
dropped (the generated file has one of its own). Angle-bracket includes (the standard library, nlohmann/json,
cpp-httplib) stay as they are: dependencies remain external.

Usage:
  tools/amalgamate.py            write single_include/servebench.hpp
  tools/amalgamate.py --check    exit 1, saying what to run, when the committed file differs from a fresh one
"""
import argparse
import difflib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
PRAGMA_ONCE_RE = re.compile(r"^\s*#\s*pragma\s+once\b")
VERSION_RE = re.compile(r'#define SERVEBENCH_VERSION_STRING "([^"]+)"')


class AmalgamationError(Exception):
    pass


def read_version(include_dir: pathlib.Path) -> str:
    header = include_dir / "servebench" / "version.hpp"
    match = VERSION_RE.search(header.read_text(encoding="utf-8"))
    if not match:
        raise AmalgamationError(f"no SERVEBENCH_VERSION_STRING in {header}")
    return match.group(1)


def display(path: pathlib.Path) -> str:
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def resolve(name: str, including: pathlib.Path, include_dir: pathlib.Path) -> pathlib.Path:
    # Same order as the compiler for "...": the including file's directory, then the -I directory.
    for base in (including.parent, include_dir):
        candidate = (base / name).resolve()
        if candidate.is_file():
            return candidate
    raise AmalgamationError(
        f'{display(including)}: #include "{name}" names no file beside it nor under include/; '
        "servebench's own headers use quotes, every other header angle brackets (<...>)")


def amalgamate(include_dir: pathlib.Path):
    """Returns the single header's text and the headers under include/ that the umbrella never reaches."""
    include_dir = include_dir.resolve()
    umbrella = include_dir / "servebench.hpp"
    version = read_version(include_dir)
    seen = set()
    order = []
    body = []

    def visit(path: pathlib.Path) -> None:
        seen.add(path)
        order.append(path)
        relative = path.relative_to(include_dir).as_posix()
        body.append(f"// ---- begin {relative} ----\n")
        for line in path.read_text(encoding="utf-8").splitlines():
            if PRAGMA_ONCE_RE.match(line):
                continue
            match = INCLUDE_RE.match(line)
            if match:
                target = resolve(match.group(1), path, include_dir)
                try:
                    target.relative_to(include_dir)
                except ValueError:
                    raise AmalgamationError(
                        f'{display(path)}: #include "{match.group(1)}" leaves include/') from None
                if target not in seen:
                    visit(target)
                continue  # inlined above, or already earlier in the file
            body.append(line.rstrip() + "\n")
        body.append(f"// ---- end {relative} ----\n")

    visit(umbrella)

    # A header the umbrella never reaches would silently be missing from the single header.
    unreachable = sorted(p.relative_to(include_dir).as_posix()
                         for p in include_dir.rglob("*.hpp") if p.resolve() not in seen)

    banner = [
        f"// servebench {version} -- single-header edition.\n",
        "//\n",
        "// GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench.hpp and the headers it\n",
        "// includes; edit those and run `python3 tools/amalgamate.py`. Dependencies stay external: compile with\n",
        "// -std=c++17 and the flags of nlohmann_json and cpp-httplib, e.g.\n",
        "//   g++ -std=c++17 -I single_include app.cpp $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread\n",
        "//\n",
        "// Contents, in order:\n",
    ]
    banner += [f"//   {p.relative_to(include_dir).as_posix()}\n" for p in order]
    banner += ["#pragma once\n", "\n"]
    return "".join(banner + body), unreachable


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="compare with the existing output instead of writing it; exit 1 when they differ")
    parser.add_argument("--include-dir", type=pathlib.Path, default=ROOT / "include")
    parser.add_argument("--output", type=pathlib.Path, default=ROOT / "single_include" / "servebench.hpp")
    args = parser.parse_args()

    try:
        text, unreachable = amalgamate(args.include_dir)
    except AmalgamationError as error:
        print(f"amalgamate.py: error: {error}", file=sys.stderr)
        return 2
    if unreachable:
        # A header in progress may not be in the umbrella yet: writing still works, but --check (CI) fails.
        print(("amalgamate.py: error: " if args.check else "amalgamate.py: warning: ") +
              "not reachable from the umbrella include/servebench.hpp, so missing from the single header: " +
              ", ".join(unreachable) +
              '\n  add an #include "servebench/<name>.hpp" line for each to include/servebench.hpp', file=sys.stderr)
        if args.check:
            return 1

    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
        if current == text:
            print(f"amalgamate.py: {args.output} is up to date")
            return 0
        if current is None:
            print(f"amalgamate.py: {args.output} does not exist.", file=sys.stderr)
        else:
            print(f"amalgamate.py: {args.output} is out of date with include/. First differences:", file=sys.stderr)
            diff = difflib.unified_diff(current.splitlines(), text.splitlines(),
                                        "committed", "generated from include/", lineterm="", n=1)
            for index, line in enumerate(diff):
                if index == 40:
                    print("  ...", file=sys.stderr)
                    break
                print("  " + line, file=sys.stderr)
        print("Regenerate it with `python3 tools/amalgamate.py` and commit single_include/servebench.hpp.",
              file=sys.stderr)
        return 1

    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not args.output.is_file() or args.output.read_text(encoding="utf-8") != text:
        args.output.write_text(text, encoding="utf-8")  # untouched when equal: no needless rebuilds
    print(f"amalgamate.py: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
