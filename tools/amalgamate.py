#!/usr/bin/env python3
"""Generates the single-header editions, for people who vendor files instead of include/:

  single_include/servebench.hpp              the measurement core, from the umbrella include/servebench.hpp
  single_include/servebench_metrics.hpp      the Prometheus parser and the scraper, from include/servebench/metrics.hpp
  single_include/servebench_workloads.hpp    tokenizer-built prompts, data sets, traces, sessions (workloads.hpp)
  single_include/servebench_html_report.hpp  the HTML report, from include/servebench/html_report.hpp
  single_include/servebench_sim.hpp          the simulated servers, from include/servebench/sim.hpp
  single_include/servebench_event_loop.hpp   the event-loop transport (opt-in), from include/servebench/event_loop.hpp

Each part but the core is included on purpose: a program that never starts a simulated server, scrapes /metrics,
builds a tokenizer workload or writes an HTML report never compiles that part. So the core umbrella must not reach
any other part's own headers (an error under --check). A part includes the single headers of the parts before it
whose headers it reaches (each in place of those headers: keep the files in one directory), so no header is ever
inlined into two files.

Each file starts at its umbrella and follows every quoted include that names one of servebench's own headers
(resolved the way the compiler does: beside the including file first, then under include/), inlining each header
once, at its first inclusion, depth first -- the order the compiler would see them. `#pragma once` lines are
dropped (each generated file has one of its own). Angle-bracket includes (the standard library, nlohmann/json,
cpp-httplib) stay as they are: dependencies remain external.

Usage:
  tools/amalgamate.py            write every file
  tools/amalgamate.py --check    exit 1, saying what to run, when a committed file differs from a fresh one
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

CORE_UMBRELLA = "servebench.hpp"
CORE_OUTPUT = "servebench.hpp"


class Part:
    def __init__(self, name, umbrella, output, own, title):
        self.name, self.umbrella, self.output, self.title = name, umbrella, output, title
        self.own = re.compile(own)  # the headers (relative to include/) that belong to this part: the core must not
        #                             reach them


# The parts beyond the core, in the order they are made: a part may include the single headers of those before it.
PARTS = [
    Part("metrics", "servebench/metrics.hpp", "servebench_metrics.hpp",
         r"^servebench/metrics(\.hpp|/prometheus\.hpp|/scrape\.hpp)$", "the servers' own metrics (Prometheus, scraping)"),
    Part("workloads", "servebench/workloads.hpp", "servebench_workloads.hpp",
         r"^servebench/workload(s\.hpp|/)", "workload builders (tokenizer, data sets, traces, sessions)"),
    Part("html_report", "servebench/html_report.hpp", "servebench_html_report.hpp",
         r"^servebench/html_report\.hpp$", "the HTML report"),
    Part("sim", "servebench/sim.hpp", "servebench_sim.hpp", r"^servebench/sim(\.hpp|/)", "the simulated servers"),
    Part("event_loop", "servebench/event_loop.hpp", "servebench_event_loop.hpp",
         r"^servebench/event_loop(\.hpp|/)", "the event-loop transport (opt-in)"),
]


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


def inline(include_dir: pathlib.Path, umbrella: pathlib.Path, provided=None):
    """Inlines `umbrella` and what it includes. Headers in `provided` ({header: single header that holds it}) are
    not inlined: the first include of one from each single header becomes `#include "<that file>"`, later ones
    vanish. Returns (body lines, headers inlined in order, single headers included)."""
    provided = provided or {}
    seen = set()
    order = []
    body = []
    providers = []

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
                if target in provided:
                    provider = provided[target]
                    if provider not in providers:
                        body.append(f'#include "{provider}"  // {target.relative_to(include_dir).as_posix()} and the'
                                    f" rest of {'the core' if provider == CORE_OUTPUT else provider}\n")
                        providers.append(provider)
                elif target not in seen:
                    visit(target)
                continue  # inlined above, provided by the core, or already earlier in the file
            body.append(line.rstrip() + "\n")
        body.append(f"// ---- end {relative} ----\n")

    visit(umbrella)
    return body, order, providers


COMPILE_LINE = ("  g++ -std=c++17 -I single_include app.cpp"
                " $(pkg-config --cflags --libs cpp-httplib nlohmann_json) -pthread")
CORE_NOTES = [
    "GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/servebench.hpp and the headers it",
    "includes; edit those and run `python3 tools/amalgamate.py`. Dependencies stay external: compile with",
    "-std=c++17 and the flags of nlohmann_json and cpp-httplib, e.g.",
    COMPILE_LINE,
    "The parts included on purpose are files of their own beside this one: "
    + ", ".join(part.output for part in PARTS) + ".",
]


def part_notes(part: Part, providers: list) -> list:
    if not providers:  # a part that stands alone
        return [
            f"GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/{part.umbrella} and the headers it",
            "includes; edit those and run `python3 tools/amalgamate.py`. It needs no other part.",
            "Dependencies stay external:",
            COMPILE_LINE,
        ]
    return [
        f"GENERATED FILE, DO NOT EDIT. Made by tools/amalgamate.py from include/{part.umbrella} and the headers it",
        "includes; edit those and run `python3 tools/amalgamate.py`. In place of the headers of other parts it",
        "includes " + ", ".join(f'"{p}"' for p in providers) + ": keep the files in one directory.",
        "Dependencies stay external:",
        COMPILE_LINE,
    ]


def banner(version: str, title: str, notes: list, order: list, include_dir: pathlib.Path) -> list:
    lines = [f"// servebench {version} -- {title}.\n", "//\n"]
    lines += [f"// {note}\n" for note in notes]
    lines += ["//\n", "// Contents, in order:\n"]
    lines += [f"//   {p.relative_to(include_dir).as_posix()}\n" for p in order]
    lines += ["#pragma once\n", "\n"]
    return lines


def amalgamate(include_dir: pathlib.Path):
    """Returns {output file name: text}, the headers under include/ that no umbrella reaches, and the headers of
    other parts that the core umbrella reaches (it must reach none)."""
    include_dir = include_dir.resolve()
    version = read_version(include_dir)
    core_body, core_order, _ = inline(include_dir, include_dir / CORE_UMBRELLA)
    outputs = {CORE_OUTPUT: "".join(banner(version, "single-header edition", CORE_NOTES, core_order, include_dir)
                                    + core_body)}
    provided = {p: CORE_OUTPUT for p in core_order}
    reached = set(core_order)
    for part in PARTS:
        body, order, providers = inline(include_dir, include_dir / part.umbrella, provided)
        outputs[part.output] = "".join(banner(version, f"single-header edition of {part.title}",
                                              part_notes(part, providers), order, include_dir) + body)
        provided.update({p: part.output for p in order})
        reached |= set(order)

    # A header no umbrella reaches would silently be missing from every file.
    unreachable = sorted(p.relative_to(include_dir).as_posix()
                         for p in include_dir.rglob("*.hpp") if p.resolve() not in reached)
    others_in_core = [p.relative_to(include_dir).as_posix() for p in core_order
                      if any(part.own.match(p.relative_to(include_dir).as_posix()) for part in PARTS)]
    return outputs, unreachable, others_in_core


def check(path: pathlib.Path, text: str) -> bool:
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if current == text:
        print(f"amalgamate.py: {path} is up to date")
        return True
    if current is None:
        print(f"amalgamate.py: {path} does not exist.", file=sys.stderr)
    else:
        print(f"amalgamate.py: {path} is out of date with include/. First differences:", file=sys.stderr)
        diff = difflib.unified_diff(current.splitlines(), text.splitlines(),
                                    "committed", "generated from include/", lineterm="", n=1)
        for index, line in enumerate(diff):
            if index == 40:
                print("  ...", file=sys.stderr)
                break
            print("  " + line, file=sys.stderr)
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="compare with the existing files instead of writing them; exit 1 when they differ")
    parser.add_argument("--include-dir", type=pathlib.Path, default=ROOT / "include")
    parser.add_argument("--output-dir", type=pathlib.Path, default=ROOT / "single_include")
    args = parser.parse_args()

    try:
        outputs, unreachable, others_in_core = amalgamate(args.include_dir)
    except AmalgamationError as error:
        print(f"amalgamate.py: error: {error}", file=sys.stderr)
        return 2
    # A header in progress may not be in an umbrella yet: writing still works, but --check (CI) fails.
    kind = "amalgamate.py: error: " if args.check else "amalgamate.py: warning: "
    problems = False
    if unreachable:
        umbrellas = ", ".join(f"include/{u}" for u in [CORE_UMBRELLA] + [part.umbrella for part in PARTS])
        print(kind + f"not reachable from any umbrella ({umbrellas}), so missing from every single header: "
              + ", ".join(unreachable) + "\n  include each from the umbrella of its part", file=sys.stderr)
        problems = True
    if others_in_core:
        print(kind + f"include/{CORE_UMBRELLA} reaches headers of a part included on purpose (" +
              ", ".join(others_in_core) + "), so every program compiles them; only that part's umbrella and its "
              "users may include them", file=sys.stderr)
        problems = True
    if args.check and problems:
        return 1

    if args.check:
        fresh = [check(args.output_dir / name, text) for name, text in outputs.items()]
        if all(fresh):
            return 0
        print("Regenerate them with `python3 tools/amalgamate.py` and commit single_include/.", file=sys.stderr)
        return 1

    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        path = args.output_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")  # untouched when equal: no needless rebuilds
        print(f"amalgamate.py: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
