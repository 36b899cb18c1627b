#!/usr/bin/python3
"""Runs the lab examples (examples/lab2_*.cpp) as a user would, against their embedded simulated servers, and
checks exit codes, the files written and their exact shapes; bad command lines, an unreachable server and an
unwritable --out (exit 2, one error line, nothing written); Ctrl-C (exit 130, artifacts marked interrupted); and
that the lab's own plotting code (tests/lab_plot.py, Debian's matplotlib) reads our concurrent_benchmark.json.

Usage: examples_check.py --bin DIR --case NAME   (cases: run, bad_args, interrupt, datasets)
"""
import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import check_support
from check_support import HERE, PYTHON, case_functions, check, finish, in_temp_dir, parse_case

LAB_FIELDS = ["total_time", "successful", "failed", "throughput_req_per_sec", "mean_latency", "p95_latency"]


def run(binary, *args, timeout=120):
    return check_support.run([os.path.join(BIN, binary), *args], timeout)


def load(path):
    with open(path) as f:
        return json.load(f, object_pairs_hook=lambda pairs: pairs)  # keep key order


def case_run(tmp):
    out = os.path.join(tmp, "artifacts")
    r = run("lab2_3_concurrent", "--help")
    for preset, machine in [("hf-transformers-h200", "H200"), ("transformers-cb-h200", "H200"), ("vllm-h100", "H100")]:
        check(f"  {preset}: 1x NVIDIA {machine}" in r.stdout, f"--help gives {preset}'s provenance once")
        check(r.stdout.count(f"  {preset}: ") == 1, f"--help lists {preset} once")
    r = run("lab2_1_check_server", "--max-tokens", "8")
    check(r.returncode == 0, f"lab2_1 exit {r.returncode}: {r.stderr}")
    check("hf (" in r.stdout and "vllm (" in r.stdout and r.stdout.count(": OK in") == 2, f"lab2_1 output: {r.stdout}")

    r = run("lab2_2_single_request", "--out", out)
    check(r.returncode == 0, f"lab2_2 exit {r.returncode}: {r.stderr}")
    check("faster than real time" in r.stderr + r.stdout, "lab2_2 says the time scale")
    single = load(os.path.join(out, "single_request_comparison.json"))
    check(len(single) == 3, "three prompts")
    for row in single:
        keys = [k for k, _ in row]
        check(keys == ["prompt", "hf", "vllm", "speedup"], f"single row keys {keys}")
        d = dict(row)
        check(len(d["prompt"]) <= 50, "prompt[:50]")
        hf, vllm = dict(d["hf"]), dict(d["vllm"])
        check([k for k, _ in d["hf"]] == ["engine", "elapsed", "tokens", "tok_per_sec"], "engine block keys")
        check(hf["engine"] == "HuggingFace" and vllm["engine"] == "vLLM", "engine names")
        check(hf["tokens"] == 100 and vllm["tokens"] == 100, "100 tokens each")
        check(abs(d["speedup"] - hf["elapsed"] / vllm["elapsed"]) < 1e-9, "speedup = hf elapsed / vllm elapsed")
    full = json.load(open(os.path.join(out, "single_request_comparison.full.json")))
    check(full["schema"] == "servebench.artifact/2" and full["metadata"]["time_scale"] == 20, "2.2 full artifact")
    check([l["target"]["label"] for l in full["levels"]] == ["hf", "vllm"], "2.2 levels carry their targets")

    r = run("lab2_3_concurrent", "--out", out, "--stream")
    check(r.returncode == 0, f"lab2_3 exit {r.returncode}: {r.stderr}")
    print(r.stdout)
    check("vs hf" in r.stdout and "concurrent_benchmark.full.json" in r.stdout, "lab2_3 table and paths")
    conc = load(os.path.join(out, "concurrent_benchmark.json"))
    check([k for k, _ in conc] == ["1", "5", "10", "20"], f"levels {[k for k, _ in conc]}")
    for level, engines in conc:
        check([k for k, _ in engines] == ["hf", "vllm"], "engines per level")
        for name, fields in engines:
            check([k for k, _ in fields] == LAB_FIELDS, f"{level} {name} fields {[k for k, _ in fields]}")
            f = dict(fields)
            check(f["successful"] == int(level) and f["failed"] == 0, f"{level} {name} all succeeded")
    # The embedded servers' /metrics were scraped at every level: running and waiting series, never more requests
    # than were sent at once; the HF-like server runs all of its level's requests together (interleaved loops).
    full = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
    for level in full["levels"]:
        m = level.get("server_metrics")
        where = f"2.3 {level['target']['label']} at {level['config']['concurrency']}"
        check(m is not None and m["scrapes"] >= 2, f"{where}: metrics scraped")
        series = {s["name"]: s["values"] for s in m["series"]}
        for name in ("vllm:num_requests_running", "vllm:num_requests_waiting"):
            check(name in series and series[name], f"{where}: {name} series")
        n = level["config"]["concurrency"]
        # One scrape's answer holds both: together they are the requests inside the server at that moment.
        both = zip(series["vllm:num_requests_running"], series["vllm:num_requests_waiting"])
        check(all(a + b <= n for a, b in both), f"{where}: never more than {n} requests in the server")
        if level["target"]["label"] == "hf" and n == 20:
            check(max(series["vllm:num_requests_running"]) == 20, f"{where}: all 20 loops ran together")
    report = os.path.join(out, "concurrent_benchmark.html")
    check("concurrent_benchmark.html" in r.stdout and os.path.isfile(report), "lab2_3 points to its HTML report")
    check(open(report, encoding="utf-8").read().count("<svg") >= 6, "the report holds the charts and 4 timelines")
    data = json.load(open(os.path.join(out, "concurrent_benchmark.json")))
    hf = [data[c]["hf"]["throughput_req_per_sec"] for c in ("1", "5", "10", "20")]
    vllm = [data[c]["vllm"]["throughput_req_per_sec"] for c in ("1", "5", "10", "20")]
    # The calibration's shape: HF flat from 5 on (within 25%: timing on a loaded machine), vLLM far ahead at 20.
    check(max(hf[1:]) / min(hf[1:]) < 1.25, f"HF throughput flat from 5 on: {hf}")
    # Modelled time and the measured pair's ratios, as the lab's plotting script draws them (vllm / hf per level):
    # h200-transformers-batching-vs-lab-server.json measured 1.82 / 1.72 / 3.14 / 6.56 and HF 0.301 .. 0.546 req/s.
    for got, want in zip([v / h for v, h in zip(vllm, hf)], [1.82, 1.72, 3.14, 6.56]):
        check(abs(got / want - 1) <= 0.15, f"ratio {got:.2f} within 15% of the measured {want}: {vllm} / {hf}")
    check(all(0.25 < h < 0.65 for h in hf), f"HF in modelled req/s (0.30-0.55 measured): {hf}")
    check("times are modelled GPU time" in r.stdout, "the table says modelled time once")
    full = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
    check(full["metadata"]["time_scale"] == 20 and full["metadata"]["interrupted"] is False, "2.3 metadata")
    presets = full["metadata"]["configuration"]["presets"]
    check(presets["hf"]["preset"] == "hf-transformers-h200" and presets["vllm"]["preset"] == "transformers-cb-h200"
          and all("H200" in p["machine"] and ".json" in p["source"] for p in presets.values()), f"provenance {presets}")
    check(all(l["time_scale"] == 20 for l in full["levels"]), "every level in modelled time")
    check(len(full["levels"]) == 8, "8 runs in the full artifact")
    check(sum(len(l["records"]) for l in full["levels"]) == 2 * (1 + 5 + 10 + 20), "every record kept")
    check(any(l["summary"]["ttft"] for l in full["levels"]), "streamed TTFT present")

    charts = os.path.join(tmp, "charts")
    r = run("lab2_4_visualize", "--in", os.path.join(out, "concurrent_benchmark.json"), "--out", charts)
    check(r.returncode == 0, f"lab2_4 exit {r.returncode}: {r.stderr}")
    for name in ("throughput.svg", "latency.svg", "ttft_tpot.svg"):
        path = os.path.join(charts, name)
        check(os.path.exists(path) and path in r.stdout, f"{name} written and printed")
        if os.path.exists(path):
            ET.parse(path)  # raises on malformed XML
    check("x</text>" in open(os.path.join(charts, "throughput.svg")).read(), "speedup labels in the bars")

    env = dict(os.environ, MPLBACKEND="Agg")
    png = os.path.join(tmp, "lab_plot.png")
    plot = [PYTHON, os.path.join(HERE, "lab_plot.py"), os.path.join(out, "concurrent_benchmark.json"), png]
    r = check_support.run(plot, env=env)
    check(r.returncode == 0 and os.path.getsize(png) > 1000, f"the lab's plotting script reads our file: {r.stderr}")


def one_error_line(r, what, expect_usage=True):
    lines = r.stderr.strip().splitlines()
    errors = [l for l in lines if ": error: " in l]
    check(r.returncode == 2, f"{what}: exit {r.returncode}, want 2 ({r.stderr.strip()[:200]})")
    check(len(errors) == 1, f"{what}: exactly one error line, got {errors}")
    check(r.stdout == "", f"{what}: nothing on stdout")
    if expect_usage:
        # A bad command line: the error first, then the usage.
        check(lines and lines[0] == errors[0] and "usage:" in r.stderr.lower(), f"{what}: error, then usage")
    else:
        # The world, not the command line: the error is the last line (after at most a "waiting for" note).
        check(lines and lines[-1] == errors[0] and "usage:" not in r.stderr.lower(),
              f"{what}: error last, no usage: {lines}")


def case_bad_args(tmp):
    for binary in ("lab2_1_check_server", "lab2_2_single_request", "lab2_3_concurrent"):
        for args in (["--bogus"], ["--max-tokens", "abc"], ["--max-tokens", "-5"], ["--api", "grpc"],
                     ["--time-scale"]):
            one_error_line(run(binary, *args), f"{binary} {' '.join(args)}")
        r = run(binary, "--help")
        check(r.returncode == 0 and f"Usage: {binary} [OPTIONS]" in r.stdout and "--help" in r.stdout,
              f"{binary} --help")
        one_error_line(run(binary, "--hf", "http://127.0.0.1:1", "--vllm", "http://127.0.0.1:1", "--wait", "0.3"),
                       f"{binary} unreachable", expect_usage=False)
        # One real server alone is allowed (the other side is embedded, or skipped by 2.1); unreachable, it is named.
        r = run(binary, "--hf", "http://127.0.0.1:1", "--wait", "0.3")
        one_error_line(r, f"{binary} --hf unreachable alone", expect_usage=False)
        check("the HF server at http://127.0.0.1:1" in r.stderr, f"{binary}: names the HF server")
    for args in (["--concurrency", "1,-5"], ["--concurrency", "x"], ["--concurrency", ""], ["--repeat", "0"],
                 ["--repeat", "two"]):
        one_error_line(run("lab2_3_concurrent", *args), f"lab2_3 {' '.join(args)}")
    blocker = os.path.join(tmp, "a_file")
    open(blocker, "w").write("x")
    for binary in ("lab2_2_single_request", "lab2_3_concurrent"):
        r = run(binary, "--out", os.path.join(blocker, "out"))
        one_error_line(r, f"{binary} unwritable --out", expect_usage=False)
        check(blocker in r.stderr, f"{binary}: the error names the path")
    check(os.listdir(tmp) == ["a_file"], f"nothing written: {os.listdir(tmp)}")
    # lab2_4: a truncated file and a foreign one get a clear one-line error.
    truncated = os.path.join(tmp, "truncated.json")
    open(truncated, "w").write('{"1": {"hf": {"total_time": 1.0,')
    r = run("lab2_4_visualize", "--in", truncated, "--out", os.path.join(tmp, "charts"))
    one_error_line(r, "lab2_4 truncated", expect_usage=False)
    check("not valid JSON" in r.stderr, "truncated: says so")
    foreign = os.path.join(tmp, "foreign.json")
    json.dump({"schema": "servebench.artifact/1", "levels": []}, open(foreign, "w"))
    r = run("lab2_4_visualize", "--in", foreign, "--out", os.path.join(tmp, "charts"))
    one_error_line(r, "lab2_4 foreign", expect_usage=False)
    check("concurrent_benchmark.json" in r.stderr, "foreign: names the expected file")
    one_error_line(run("lab2_4_visualize", "--in", os.path.join(tmp, "missing.json")), "lab2_4 missing",
                   expect_usage=False)


def case_interrupt(tmp):
    out = os.path.join(tmp, "artifacts")
    # At real-time speed the HF-like server needs ~3 s for the first level: Ctrl-C lands inside it.
    p = subprocess.Popen([os.path.join(BIN, "lab2_3_concurrent"), "--out", out, "--time-scale", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    check(p.returncode == 130, f"exit {p.returncode}, want 130: {stderr}")
    full = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
    check(full["metadata"]["interrupted"] is True, "metadata.interrupted")
    check(len(full["levels"]) >= 1, "partial records kept")
    check(os.path.exists(os.path.join(out, "concurrent_benchmark.json")), "lab file written")


def case_datasets(tmp):
    """lab2_3_concurrent's workload flags: the prefix cache in numbers, exact lengths, and bad data sets refused."""
    out = os.path.join(tmp, "prefix")
    r = run("lab2_3_concurrent", "--dataset", "prefix", "--prefix-tokens", "1024", "--groups", "2", "--input-tokens",
            "32", "--output-tokens", "8", "--stream", "--concurrency", "1,8", "--out", out, "--quiet")
    check(r.returncode == 0, f"prefix run: exit {r.returncode} ({r.stderr[-300:]})")
    check("vllm @ 8: 8448 input tokens, 0 of 8 off their exact length, prefix cache hits" in r.stdout,
          f"prefix run prints the hit rate: {r.stdout[-400:]}")
    full = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
    check(full["metadata"]["configuration"]["workload"]["input_lengths"] == "exact", "workload marked exact")
    vllm = [l for l in full["levels"] if l["target"]["label"] == "vllm"]
    for level in vllm:
        for rec in level["records"]:
            check(rec["n_in"] == 1056 and rec["n_in_expected"] == 1056, f"exact length: {rec['n_in']}")
            check(rec["n_out"] == 8, "output length forced")
    # At 1 the one request finds nothing. At 8 the first group's 1024-token prefix is cached from level 1: its four
    # prompts hit at least 4 x 1024 of the 8 x 1056 input tokens (0.485); the second group's hit too when its prompts
    # reach the engine in different steps (with connections opened before the clock they mostly arrive in one).
    rates = [l["summary"]["prefix_hit_rate"] for l in vllm]
    check(rates[0] == 0 and rates[-1] >= 4 * 1024 / (8 * 1056), f"hit rates at 1 and 8: {rates}")
    hf = [l for l in full["levels"] if l["target"]["label"] == "hf"]
    check(all("prefix_hit_rate" not in l["summary"] or l["summary"]["prefix_hit_rate"] is None for l in hf),
          "the sequential HF side reports no cache")

    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('[{"conversations": [{"from": "human", "value": 3}]}]')
    for args, expect, usage in (
            (["--dataset", "sharegpt"], "--dataset sharegpt needs --dataset-path FILE", True),
            (["--dataset", "trace"], "--dataset trace replays arrival times", True),
            (["--dataset", "sharegpt", "--dataset-path", bad],
             bad + ': entry 0: field "conversations[0].value" must be a string', False),
            (["--dataset", "random", "--range-ratio", "2"], "--range-ratio", True)):
        bad_out = os.path.join(tmp, "bad_out")
        r = run("lab2_3_concurrent", *args, "--out", bad_out)
        one_error_line(r, " ".join(args), expect_usage=usage)
        check(expect in r.stderr, f"{' '.join(args)}: names the problem: {r.stderr.strip()[:300]}")
        check(not os.path.exists(os.path.join(bad_out, "concurrent_benchmark.json")), "nothing written")


CASES = case_functions(globals())

if __name__ == "__main__":
    args = parse_case(CASES, "--bin")
    BIN = args.bin
    in_temp_dir(CASES[args.case])
    finish()
