#!/usr/bin/env python3
"""Prints servebench's version, read from include/servebench/version.hpp (the one place it is written)."""
import pathlib
import re

header = pathlib.Path(__file__).resolve().parent.parent / "include" / "servebench" / "version.hpp"
match = re.search(r'#define SERVEBENCH_VERSION_STRING "([0-9]+\.[0-9]+\.[0-9]+)"', header.read_text())
if not match:
    raise SystemExit(f"no SERVEBENCH_VERSION_STRING in {header}")
print(match.group(1))
