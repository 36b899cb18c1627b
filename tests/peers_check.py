#!/usr/bin/python3
"""The lab programs and servebench's driver against servers servebench did not write, each started here on a free
port of 127.0.0.1 and stopped by its PID:
  * the lab's HF server on Flask (tests/peers/lab_server_flask.py: no /health route, one generate at a time),
  * a lab HF server on Python's http.server (tests/peers/lab_server_http.py: GET /health answers 501),
  * an OpenAI-compatible server on aiohttp (tests/peers/openai_server_aiohttp.py: /v1/models, streaming),
  * a /metrics endpoint of the Prometheus Python client library (tests/peers/metrics_server_prometheus.py).
Each program must find the server ready (wait_until_ready), run, and say which side was real and which embedded.
Usage: peers_check.py --bin DIR --case flask|http_server|aiohttp|tls|endpoint_flags|prometheus"""
import json
import os
import subprocess
import tempfile

import check_support
from check_support import case_functions, check, finish, free_port, parse_case, peer, serving


def serving_peer(script, port, *extra):
    """The peer tests/peers/SCRIPT on `port`, for a with-block: the port accepting is enough (readiness is what the
    programs check)."""
    return serving(peer(script, "--port", str(port), *extra), port)


def run(binary, *args, timeout=120, env=None):
    return check_support.run([os.path.join(BIN, binary), *args], timeout, env=env, echo=True)


def lab_hf_server(script):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving_peer(script, port):
        r = run("lab2_1_check_server", "--hf", url, "--max-tokens", "8", "--wait", "10")
        check(r.returncode == 0, f"{script}: lab2_1 --hf alone exits 0")
        check(f"hf ({url}, hf_simple): OK in" in r.stdout and "8 tokens" in r.stdout, f"{script}: hf answered")
        check("vllm: skipped" in r.stdout, f"{script}: lab2_1 says the missing side was skipped")
        check("is up (" in r.stderr, f"{script}: readiness named its probe")
        with tempfile.TemporaryDirectory() as out:
            r = run("lab2_3_concurrent", "--hf", url, "--concurrency", "1,5", "--max-tokens", "8", "--out", out)
            check(r.returncode == 0, f"{script}: lab2_3 --hf alone exits 0")
            check("vLLM side: embedded simulated server" in r.stderr, f"{script}: lab2_3 says vLLM is embedded")
            check(" 5  hf " in r.stdout and "vs hf" in r.stdout, f"{script}: lab2_3 table has both levels")
            check(os.path.exists(os.path.join(out, "concurrent_benchmark.json")), f"{script}: lab file written")


def case_flask():
    lab_hf_server("lab_server_flask.py")


def case_http_server():
    lab_hf_server("lab_server_http.py")


def case_aiohttp():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving_peer("openai_server_aiohttp.py", port):
        r = run("lab2_1_check_server", "--vllm", url, "--model", "m", "--stream", "--max-tokens", "8")
        check(r.returncode == 0, "aiohttp: lab2_1 --vllm alone exits 0")
        check(f"vllm ({url}, openai_completions): OK in" in r.stdout and "first token after" in r.stdout,
              "aiohttp: vllm answered, streamed")
        check("hf: skipped" in r.stdout, "aiohttp: lab2_1 says the HF side was skipped")
        r = run("stream_one", "--url", url, "--max-tokens", "6")
        check(r.returncode == 0 and "tokens   6 (from usage)" in r.stdout, "aiohttp: stream_one reads usage")


def case_per_token_itl():
    """aiohttp sends 3 tokens a chunk, 3 x 20 ms apart, with a cumulative usage in every chunk when asked
    (continuous_usage_stats): per-event ITL is about 60 ms, per-token ITL about 20 ms. The expected values are the
    server's known timing, and the summary's percentiles are recomputed here with numpy from the records."""
    import numpy
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving_peer("openai_server_aiohttp.py", port, "--tokens-per-chunk", "3", "--step-ms", "20"):
        with tempfile.TemporaryDirectory() as out:
            r = run("lab2_3_concurrent", "--vllm", url, "--model", "m", "--stream", "--continuous-usage",
                    "--concurrency", "1,2", "--max-tokens", "12", "--out", out, "--time-scale", "200")
            check(r.returncode == 0, "per_token_itl: lab2_3 exits 0")
            check("ITL/token p95 ms" in r.stdout, "per_token_itl: the table has the per-token ITL column")
            artifact = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
            levels = [lv for lv in artifact["levels"] if lv["summary"]["target"] == "vllm"]
            check(len(levels) == 2, "per_token_itl: two vLLM levels")
            for lv in levels:
                records = [x for x in lv["records"] if not x.get("warmup")]
                check(all(x["event_tokens"] == [3, 6, 9, 12] for x in records),
                      f"per_token_itl: every record counts 3 tokens a chunk: {records[0].get('event_tokens')}")
                samples = []
                for x in records:  # the rule of docs/metrics.md, written again here
                    t, c = x["event_times"], x["event_tokens"]
                    for i in range(1, len(t)):
                        k = c[i] - c[i - 1]
                        samples += [(t[i] - t[i - 1]) / 1e9 / k] * k
                s = lv["summary"]["itl_per_token"]
                check(s is not None and s["count"] == len(samples) == 9 * len(records),
                      f"per_token_itl: {len(samples)} samples, 9 a request")
                check(abs(s["mean"] - numpy.mean(samples)) < 1e-9 and abs(s["p95"] - numpy.percentile(samples, 95))
                      < 1e-9, "per_token_itl: mean and p95 agree with numpy over the records")
                check(0.018 <= s["p50"] <= 0.030, f"per_token_itl: median {s['p50'] * 1e3:.1f} ms, the server's 20 ms")
                e = lv["summary"]["itl"]
                check(0.055 <= e["p50"] <= 0.080, f"per_token_itl: per-event median {e['p50'] * 1e3:.1f} ms, 60 ms")
            r = run("lab2_3_concurrent", "--vllm", url, "--model", "m", "--stream", "--concurrency", "1",
                    "--max-tokens", "6", "--out", out, "--time-scale", "200")
            artifact = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
            lv = [lv for lv in artifact["levels"] if lv["summary"]["target"] == "vllm"][0]
            check(lv["summary"].get("itl_per_token") is None and "ITL/token" not in r.stdout,
                  "per_token_itl: without --continuous-usage no per-token ITL (the server sent no counts)")


def case_tls():
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        port = free_port()
        url = f"https://127.0.0.1:{port}"
        with serving_peer("lab_server_http.py", port, "--cert", cert, "--key", key):
            r = run("lab2_1_check_server", "--hf", url, "--ca-cert", cert, "--max-tokens", "4", "--wait", "5")
            check(r.returncode == 0 and f"hf ({url}, hf_simple): OK in" in r.stdout, "tls: works with --ca-cert")
            r = run("lab2_1_check_server", "--hf", url, "--max-tokens", "4", "--wait", "1")
            errors = [l for l in r.stderr.splitlines() if ": error: " in l]
            check(r.returncode == 2 and len(errors) == 1 and "is not trusted" in errors[0] and "--ca-cert" in errors[0],
                  f"tls: without --ca-cert one line names the certificate problem and the fix: {errors}")
            with tempfile.TemporaryDirectory() as out:
                r = run("lab2_2_single_request", "--hf", url, "--insecure", "--max-tokens", "4", "--out", out)
                check(r.returncode == 0, "tls: --insecure works")
                check("warning: --insecure" in r.stderr, "tls: --insecure is warned about")
                full = json.load(open(os.path.join(out, "single_request_comparison.full.json")))
                hf = [l["target"] for l in full["levels"] if l["target"]["label"] == "hf"]
                check(hf and hf[0]["insecure"] is True, f"tls: the artifact records --insecure: {hf}")


def case_endpoint_flags():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving_peer("openai_server_aiohttp.py", port, "--require-key", "sk-test", "--require-header", "X-Team: lab"):
        env = dict(os.environ, LAB_KEY="sk-test")
        args = ["--vllm", url, "--model", "m", "--max-tokens", "4", "--api-key-env", "LAB_KEY", "--header",
                "X-Team: lab"]
        r = run("lab2_1_check_server", *args, timeout=60, env=env)
        check(r.returncode == 0 and "OK in" in r.stdout, "endpoint: key from the environment and the header are sent")
        r = run("lab2_1_check_server", *args[:-4], timeout=60, env=env)
        check(r.returncode == 1 and "FAILED http_status" in r.stdout, "endpoint: without them the server refuses")
        r = run("lab2_1_check_server", *args, timeout=60, env={k: v for k, v in os.environ.items() if k != "LAB_KEY"})
        check(r.returncode == 2 and "LAB_KEY" in r.stderr and "not set" in r.stderr, "endpoint: an unset variable")


def case_prometheus():
    port = free_port()
    with serving_peer("metrics_server_prometheus.py", port, "--lifetime", "100"):
        with tempfile.TemporaryDirectory() as out:
            r = run("lab2_3_concurrent", "--concurrency", "1,5", "--time-scale", "5", "--metrics-url",
                    f"http://127.0.0.1:{port}/metrics", "--metrics-interval", "0.5", "--out", out)
            check(r.returncode == 0, "prometheus: lab2_3 ran with --metrics-url")
            full = json.load(open(os.path.join(out, "concurrent_benchmark.full.json")))
            for level in full["levels"]:
                m = level["server_metrics"]
                where = f"prometheus: {level['target']['label']} at {level['config']['concurrency']}"
                series = {s["name"]: s for s in m["series"]}
                check(m["failed"] == 0 and m["scrapes"] >= 2, f"{where}: {m['scrapes']} scrapes, none failed")
                running, waiting = series["vllm:num_requests_running"], series["vllm:num_requests_waiting"]
                check(set(running["values"]) == {3} and set(waiting["values"]) == {2}, f"{where}: gauges as served")
                check(running["labels"] == '{model_name="m"}', f"{where}: labels kept")
                counter = series["vllm:num_preemptions_total"]
                check(counter["type"] == "counter" and counter["delta"] > 0, f"{where}: counter delta {counter['delta']}")


CASES = case_functions(globals())

if __name__ == "__main__":
    args = parse_case(CASES, "--bin")
    BIN = args.bin
    CASES[args.case]()
    finish()
