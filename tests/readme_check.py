#!/usr/bin/env python3
"""The README prints example programs whole: every ```cpp block after a `<!-- listing: PATH -->` line must be the
file PATH byte for byte, so the README shows what the tests build and run. Exit 1 naming each listing that differs."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    readme = os.path.join(ROOT, "README.md")
    text = open(readme, encoding="utf-8").read()
    if sys.argv[1:] == ["--fix"]:  # copy each listed file into its block
        text = re.sub(r"(<!-- listing: (\S+) -->\n```cpp\n)(.*?)(```\n)",
                      lambda m: m.group(1) + open(os.path.join(ROOT, m.group(2)), encoding="utf-8").read() + m.group(4),
                      text, flags=re.S)
        open(readme, "w", encoding="utf-8").write(text)
    listings = re.findall(r"<!-- listing: (\S+) -->\n```cpp\n(.*?)```\n", text, flags=re.S)
    if not listings:
        print("README.md has no <!-- listing: PATH --> blocks")
        return 1
    bad = 0
    for path, block in listings:
        actual = open(os.path.join(ROOT, path), encoding="utf-8").read()
        if block != actual:
            print(f"README.md's listing of {path} differs from the file; run tests/readme_check.py --fix")
            bad += 1
        else:
            print(f"README.md lists {path} as it is")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
