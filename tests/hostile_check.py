#!/usr/bin/python3
"""Hostile servers are bounded: lab2_2_single_request against tests/peers/hostile_server.py (raw sockets, one mode a
case) as the vLLM side. For each case: the program ends within its limits, its peak resident memory (ru_maxrss of
the child, from os.wait4) stays bounded, every vLLM request ends in the expected error kind, and the full artifact
is written and whole. The interrupt cases send SIGINT while the program waits for a server that never becomes
ready and check it exits 130 promptly.

Usage: hostile_check.py --bin DIR --case NAME"""
import json
import os
import signal
import subprocess
import time

from check_support import check, finish, free_port, in_temp_dir, parse_case, peer, start_server, stop

# name: (server mode, extra lab2_2 flags, expected kind of every vLLM request (None: success), wall limit in s,
#        peak RSS limit in MiB)
CASES = {
    "endless_health": ("endless_health", [], None, 30, 96),
    "drip_health": ("drip_health", ["--wait", "3"], None, 30, 96),
    "endless_reply": ("endless_reply", [], "reply_too_large", 40, 320),
    "endless_stream": ("endless_stream", ["--stream"], "reply_too_large", 40, 320),
    "drip_reply": ("drip_reply", ["--deadline", "1.5"], "deadline_exceeded", 30, 96),
    "drip_stream": ("drip_reply", ["--stream", "--deadline", "1.5"], "deadline_exceeded", 30, 96),
    "bad_chunked": ("bad_chunked", [], "closed_mid_stream", 30, 96),
    "short_length": ("short_length", [], "closed_mid_stream", 30, 96),
    "long_length": ("long_length", [], "invalid_json", 30, 96),
}


def start_hostile(mode):
    port = free_port()
    p = start_server(peer("hostile_server.py", "--port", str(port), "--mode", mode, "--lifetime", "90"), port)
    return p, f"http://127.0.0.1:{port}"


def spawn(args, out_dir):
    stdout = open(os.path.join(out_dir, "stdout.txt"), "w")
    stderr = open(os.path.join(out_dir, "stderr.txt"), "w")
    return subprocess.Popen([os.path.join(BIN, "lab2_2_single_request"), *args], stdout=stdout, stderr=stderr)


def reap(p, limit_s):
    """Waits for p (killing it past limit_s); returns (exit code or None when killed, wall s, peak RSS MiB)."""
    start = time.monotonic()
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, time.monotonic() - start, usage.ru_maxrss / 1024
        if time.monotonic() - start > limit_s:
            p.kill()
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = -9
            return None, time.monotonic() - start, usage.ru_maxrss / 1024
        time.sleep(0.02)


def run_case(name, tmp):
    mode, extra, kind, wall_limit, rss_limit = CASES[name]
    server, url = start_hostile(mode)
    out = os.path.join(tmp, "artifacts")
    os.makedirs(out)
    try:
        p = spawn(["--vllm", url, "--max-tokens", "4", "--time-scale", "200", "--out", out, *extra], tmp)
        code, wall, rss = reap(p, wall_limit)
    finally:
        stop(server)
    print(open(os.path.join(tmp, "stdout.txt")).read() + open(os.path.join(tmp, "stderr.txt")).read())
    print(f"{name}: exit {code}, {wall:.2f} s, peak RSS {rss:.1f} MiB")
    check(code == 0, f"{name}: exits 0 (got {code})")
    check(wall < wall_limit, f"{name}: ends within {wall_limit} s ({wall:.2f} s)")
    check(rss < rss_limit, f"{name}: peak RSS {rss:.1f} MiB < {rss_limit} MiB")
    full = os.path.join(out, "single_request_comparison.full.json")
    check(os.path.exists(full), f"{name}: the full artifact is written")
    if not os.path.exists(full):
        return
    artifact = json.load(open(full))
    vllm = [lv for lv in artifact["levels"] if lv["records"] and lv["records"][0]["target"] == "vllm"]
    check(len(vllm) == 1, f"{name}: the artifact holds the vLLM level")
    if not vllm:
        return
    kinds = [r.get("error_kind", "none") for r in vllm[0]["records"]]
    want = kind or "none"
    if name == "long_length":
        # The first reply is cut at its lying Content-Length: invalid_json. The connection looks reusable to the
        # client, but the server closes it after the extra bytes, so a later request on it may meet the close
        # first (empty_reply) — a race either way, never a success.
        check(len(kinds) == 3 and kinds[0] == want and all(k in (want, "empty_reply") for k in kinds),
              f"{name}: the first vLLM request ended {want}, the others {want} or empty_reply: {kinds}")
    else:
        check(len(kinds) == 3 and all(k == want for k in kinds), f"{name}: every vLLM request ended {want}: {kinds}")
    if kind == "deadline_exceeded":  # three requests one after another, each ended by its 1.5 s deadline
        wall = vllm[0]["summary"]["wall_s"]
        # wall_s ends at the last byte, up to one drip (0.3 s) before each deadline
        check(3 * 1.2 <= wall < 3 * 2.5, f"{name}: the vLLM level took {wall:.2f} s for three 1.5 s deadlines")


def run_interrupt(mode, tmp):
    server, url = start_hostile(mode)
    out = os.path.join(tmp, "artifacts")
    os.makedirs(out)
    try:
        p = spawn(["--vllm", url, "--wait", "60", "--out", out], tmp)
        time.sleep(1.5)  # the embedded HF side is up and the vLLM side's readiness probes are in progress
        check(p.poll() is None, f"{mode}: still waiting for the server before SIGINT")
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        code, wall, _ = reap(p, 10)
        waited = time.monotonic() - sent
    finally:
        stop(server)
    err = open(os.path.join(tmp, "stderr.txt")).read()
    print(err)
    print(f"interrupt while {mode}: exit {code} {waited:.2f} s after SIGINT")
    check(code == 130, f"{mode}: exit 130 after SIGINT during the readiness wait (got {code})")
    check(waited < 1.0, f"{mode}: ended {waited:.2f} s after SIGINT (< 1 s)")
    check("interrupted while waiting for the vLLM server" in err, f"{mode}: says it was interrupted")


if __name__ == "__main__":
    args = parse_case([*CASES, "interrupt_never_ready", "interrupt_silent"], "--bin")
    BIN = args.bin
    if args.case.startswith("interrupt_"):
        in_temp_dir(lambda tmp: run_interrupt(args.case[len("interrupt_"):], tmp))
    else:
        in_temp_dir(lambda tmp: run_case(args.case, tmp))
    finish()
