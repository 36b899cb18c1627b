#!/usr/bin/python3
"""Repetitions with confidence, checked from outside: runs lab2_3_concurrent --repeat 3 (and --repeat 1) against
its embedded simulated servers, reads the full artifact and recomputes, with scipy.stats.t (Debian's python3-scipy),
what servebench wrote and printed:

  * the artifact's "repetitions": per (target, level), mean and 95% interval (Student's t, n - 1 degrees of freedom)
    of throughput (req/s, output tok/s) and of TTFT and latency p50/p99, from the levels' per-repetition summaries;
  * the relative column of the printed table: the paired interval of vLLM's throughput over HF's (the t interval of
    the per-repetition log ratios, exponentiated) and its mark (* excludes 1, ~ includes 1);
  * the order the levels ran in, from their requests' t_send and t_end: a warm-up per server first, then level by
    level HF, vLLM (A B A B), every level of a repetition before the next, no two levels overlapping;
  * --repeat 1 writes no "repetitions", every level is repetition 0 and the table has no interval.

Usage: repeat_check.py --bin DIR
"""
import argparse
import json
import math
import os
import re

import numpy as np
from scipy import stats

import check_support
from check_support import check, finish, in_temp_dir


def close(a, b, rel=1e-7):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def t_interval(values):
    """Mean and scipy's 95% t interval (n - 1 degrees of freedom); the mean itself for one value."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    return mean, float(low), float(high)


def run_lab(binary, out, *args):
    r = check_support.run([binary, "--out", out, "--quiet", "--stream", "--concurrency", "1,4", *args], timeout=240)
    check(r.returncode == 0, f"lab2_3_concurrent {' '.join(args)} exit {r.returncode}: {r.stderr}")
    with open(os.path.join(out, "concurrent_benchmark.full.json")) as f:
        return r.stdout, json.load(f)


def summary_value(summary, name):
    if name in ("throughput_req_per_sec", "output_tokens_per_sec"):
        return summary[name]
    metric, p = name.rsplit("_", 1)
    block = summary.get(metric)
    return None if block is None else block[p]


def check_repeated(binary, tmp):
    k = 3
    stdout, artifact = run_lab(binary, os.path.join(tmp, "repeat3"), "--repeat", str(k))
    levels = artifact["levels"]
    check(len(levels) == 2 * 2 * k, f"{len(levels)} levels, expected 2 servers x 2 levels x {k}")

    # Order: the array's order is the order they ran in (by t_send), levels never overlap, A B A B.
    spans = []
    for l in levels:
        sends = [r["t_send"] for r in l["records"] if not r.get("warmup") and r["t_send"] > 0]
        ends = [r["t_end"] for r in l["records"] if not r.get("warmup")]
        spans.append((min(sends), max(ends)))
    by_send = sorted(range(len(levels)), key=lambda i: spans[i][0])
    check(by_send == list(range(len(levels))), f"levels in the artifact in the order they ran: {by_send}")
    for i in range(1, len(levels)):
        check(spans[i][0] >= spans[i - 1][1], f"level {i} started before level {i - 1} ended")
    ran = [(l["repetition"], l["summary"]["level"], l["target"]["label"]) for l in (levels[i] for i in by_send)]
    expected = [(rep, lvl, t) for rep in range(k) for lvl in (1, 4) for t in ("hf", "vllm")]
    check(ran == expected, f"run order {ran}, expected {expected}")
    # Warm-up per server (its requests are not in the levels): one level each before the first measured one.
    check("repetitions" in artifact, "the artifact has its repetitions")

    # The intervals: recomputed with scipy from the per-repetition summaries.
    metrics = ["throughput_req_per_sec", "output_tokens_per_sec", "ttft_p50", "ttft_p99", "latency_p50",
               "latency_p99"]
    written = {(r["target"], r["level"]): r for r in artifact.get("repetitions", [])}
    check(len(written) == 4, f"{len(written)} repeated (target, level) entries, expected 4")
    compared = 0
    for (target, level), entry in written.items():
        check(entry["repetitions"] == k, f"{target}@{level}: {entry['repetitions']} repetitions")
        runs = [l for l in levels if l["target"]["label"] == target and l["summary"]["level"] == level]
        for name in metrics:
            values = [v for v in (summary_value(l["summary"], name) for l in runs) if v is not None]
            if not values:
                check(entry.get(name) is None, f"{target}@{level} {name}: no samples, no interval")
                continue
            mean, low, high = t_interval(values)
            got = entry[name]
            check(got["n"] == len(values), f"{target}@{level} {name}: n {got['n']} vs {len(values)}")
            for key, want in (("mean", mean), ("low", low), ("high", high)):
                check(close(got[key], want), f"{target}@{level} {name}.{key}: {got[key]} vs scipy {want}")
            compared += 1
    # vLLM streamed (TTFT), HF did not: 4 levels x throughput 2 + latency 2, plus vLLM's 2 levels x TTFT 2.
    check(compared == 4 * 4 + 2 * 2, f"{compared} intervals compared")

    # The relative column: vLLM over HF, paired by repetition.
    for level in (1, 4):
        hf = [l["summary"]["throughput_req_per_sec"] for l in levels
              if l["target"]["label"] == "hf" and l["summary"]["level"] == level]
        vllm = [l["summary"]["throughput_req_per_sec"] for l in levels
                if l["target"]["label"] == "vllm" and l["summary"]["level"] == level]
        logs = np.log(np.asarray(vllm) / np.asarray(hf))
        mean, low, high = t_interval(logs)
        mark = "*" if math.exp(low) > 1 or math.exp(high) < 1 else "~"
        cell = f"{math.exp(mean):.2f}x [{math.exp(low):.2f}, {math.exp(high):.2f}] {mark}"
        row = re.search(rf"^\s*{level}\s+vllm\s.*$", stdout, re.M)
        check(row is not None, f"a vllm row at level {level} in:\n{stdout}")
        if row:
            check(row.group(0).rstrip().endswith(cell), f"level {level} relative cell {cell!r} in {row.group(0)!r}")
    check(f"{k} repetitions per row" in stdout, "the table says what its rows are")
    # The lab's own file keeps one entry per level (the first repetition).
    with open(os.path.join(tmp, "repeat3", "concurrent_benchmark.json")) as f:
        lab = json.load(f)
    check(list(lab.keys()) == ["1", "4"], f"lab file levels {list(lab.keys())}")


def check_single(binary, tmp):
    stdout, artifact = run_lab(binary, os.path.join(tmp, "repeat1"))
    check("repetitions" not in artifact, "--repeat 1 writes no repetitions")
    check(all(l.get("repetition") == 0 for l in artifact["levels"]), "--repeat 1: every level is repetition 0")
    check(len(artifact["levels"]) == 4, "--repeat 1: one level per server and level")
    check("[" not in stdout and "repetitions" not in stdout, f"--repeat 1 prints today's table:\n{stdout}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    args = parser.parse_args()
    binary = os.path.join(args.bin, "lab2_3_concurrent")

    def both(tmp):
        check_repeated(binary, tmp)
        check_single(binary, tmp)

    in_temp_dir(both)
    finish("repetitions: intervals, ratios and order agree with scipy and the timestamps")


if __name__ == "__main__":
    main()
