#!/usr/bin/python3
"""Reliability checks that need real processes (issue 7), beside tests/examples_check.py (which covers the lab
examples' bad arguments and a single Ctrl-C):

  double_sigint  lab2_3_concurrent at real-time speed gets SIGINT, then a second SIGINT 50 ms later: it exits at once
                 (well before the grace period and the remaining levels), and every JSON file it left is whole.
  bad_args       the other examples (stream_one, custom_dialect, sim_server): bad arguments exit 2 with one line that
                 says what to fix, and an unreachable URL is an error, never a hang or a crash.

Usage: reliability_check.py --bin DIR --case NAME
"""
import glob
import json
import os
import signal
import subprocess
import time

import check_support
from check_support import case_functions, check, finish, in_temp_dir, parse_case


def run(binary, *args, timeout=60):
    return check_support.run([os.path.join(BIN, binary), *args], timeout)


def case_double_sigint(tmp):
    out = os.path.join(tmp, "artifacts")
    p = subprocess.Popen([os.path.join(BIN, "lab2_3_concurrent"), "--out", out, "--time-scale", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    time.sleep(0.05)
    second = time.monotonic()
    p.send_signal(signal.SIGINT)
    try:
        stdout, stderr = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        stdout, stderr = p.communicate()
        check(False, "a second SIGINT did not end the program within 30 s")
        return
    waited = time.monotonic() - second
    print(f"exit {p.returncode} {waited:.2f} s after the second SIGINT")
    check(p.returncode != 0, f"exit {p.returncode} after two SIGINTs, want non-zero")
    # "At once": the first SIGINT alone gives in-flight requests a grace period of seconds and then writes the
    # artifacts; the second must cut that short. 1.5 s is generous for a loaded machine.
    check(waited < 1.5, f"took {waited:.2f} s after the second SIGINT")
    left = sorted(glob.glob(os.path.join(out, "**", "*"), recursive=True))
    print("files left:", [os.path.relpath(f, out) for f in left])
    for path in left:
        if os.path.isfile(path):
            check(".tmp." not in os.path.basename(path), f"temporary file left behind: {path}")
            if path.endswith(".json"):
                try:
                    json.load(open(path))
                except ValueError as e:
                    check(False, f"{path} is not whole JSON: {e}")


def one_error_line(r, what):
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    check(r.returncode == 2, f"{what}: exit {r.returncode}, want 2 ({r.stderr.strip()[:200]})")
    check(r.stdout == "", f"{what}: nothing on stdout, got {r.stdout[:100]!r}")
    check(len(lines) >= 1, f"{what}: an error message")


def case_bad_args(tmp):
    for args in (["--bogus", "1"], ["--url", "http://127.0.0.1:1", "--api", "grpc"],
                 ["--url", "http://127.0.0.1:1", "--max-tokens", "-5"], ["--max-tokens", "5"], ["--url"]):
        one_error_line(run("stream_one", *args), f"stream_one {' '.join(args)}")
    for args in ([], ["--url"], ["--bogus", "x"], ["--url", "127.0.0.1:8080"]):
        one_error_line(run("custom_dialect", *args), f"custom_dialect {' '.join(args)}")
    for binary in ("stream_one", "custom_dialect", "sim_server"):
        r = run(binary, "--help")
        check(r.returncode == 0 and "--url" in r.stdout or binary == "sim_server" and r.returncode == 0,
              f"{binary} --help: exit {r.returncode}, usage on stdout")
    for args in (["--hf-port", "-5"], ["--time-scale", "-1"], ["--vllm-preset", "nope"], ["--bogus"]):
        one_error_line(run("sim_server", *args), f"sim_server {' '.join(args)}")
    # An unreachable server is an error with a message, quickly (no hang, no crash).
    for binary in ("stream_one", "custom_dialect"):
        start = time.monotonic()
        r = run(binary, "--url", "http://127.0.0.1:1")
        check(r.returncode == 2, f"{binary} unreachable: exit {r.returncode}, want 2")
        check(len(r.stderr.strip().splitlines()) == 1, f"{binary} unreachable: one line: {r.stderr.strip()[:300]}")
        check("is the server running" in r.stderr, f"{binary} unreachable: names the fix: {r.stderr.strip()[:200]}")
        check("connect_refused" in r.stderr, f"{binary} unreachable: names the cause: {r.stderr.strip()[:200]}")
        check(time.monotonic() - start < 20, f"{binary} unreachable: took too long")
    check(os.listdir(tmp) == [], f"nothing written: {os.listdir(tmp)}")


CASES = case_functions(globals())

if __name__ == "__main__":
    args = parse_case(CASES, "--bin")
    BIN = args.bin
    in_temp_dir(CASES[args.case], chdir=True)
    finish()
