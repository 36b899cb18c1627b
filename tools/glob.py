#!/usr/bin/env python3
"""Prints the files under DIR matching the patterns, sorted, one per line (Meson has no glob of its own)."""
import pathlib
import sys

root = pathlib.Path(sys.argv[1])
names = sorted({p.name for pattern in sys.argv[2:] for p in root.glob(pattern)})
print("\n".join(names))
