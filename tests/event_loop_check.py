#!/usr/bin/python3
"""The event-loop transport against servers servebench did not write: each case runs the built `servebench run`
with `--transport event-loop --loop-threads 2` and the same run with the default `--transport threads`, and checks
both artifacts (results.json) record by record against each other and against what the server is known to send
(read from its script in tests/peers/):

  aiohttp     tests/peers/openai_server_aiohttp.py, three tokens a chunk: streamed (SSE, chunked) and not, at
              concurrency 1 and 4; every request ok with the text, token counts and events that server sends,
              TTFT <= latency, no reconnects (aiohttp keeps connections alive)
  flask       the lab's Flask (werkzeug) HF server: the text it builds from each prompt of a --prompts file
  http_server Python's http.server: the lab's HTTP/1.1 HF server (kept alive: no record has t_connect) and the
              streaming OpenAI server with --http10 (a close after every reply: every request but a stream's first
              reconnects, t_connect set), streamed and not
  hostile_*   tests/peers/hostile_server.py's modes (malformed status lines and headers, bad chunks, lying
              Content-Lengths, replies that never end, drips, silence, closes and resets): every request ends in
              the error kind the threads transport gives, or the one written here with the reason
  tls         an https target: a usage error at once that names the fix (exit 2), no connection opened
  bad_flags   --transport bogus and --loop-threads x: rejected by the command line parser (exit 2, one line)

Usage: event_loop_check.py --bin PATH/TO/servebench --case NAME"""
import json
import os
import socket
import subprocess
import time

import check_support
from check_support import case_functions, check, finish, free_port, in_temp_dir, parse_case, peer, serving

TRANSPORTS = {"threads": [], "event-loop": ["--loop-threads", "2"]}


def sb(*args, timeout=120):
    return check_support.run([BIN, *args], timeout)


def run_both(tmp, name, target, *flags, timeout=120):
    """`servebench run --target TARGET FLAGS` on both transports: {transport: (exit code, stderr, artifact)}."""
    out = {}
    for transport, extra in TRANSPORTS.items():
        d = os.path.join(tmp, f"{name}-{transport}")
        start = time.monotonic()
        r = sb("run", "--target", target, "--quiet", "--wait", "10", *flags, "--transport", transport, *extra,
               "--out", d, timeout=timeout)
        print(f"{name} over {transport}: exit {r.returncode} in {time.monotonic() - start:.2f} s {r.stderr.strip()}")
        path = os.path.join(d, "results.json")
        artifact = json.load(open(path)) if os.path.exists(path) else None
        check(r.returncode == 0 and artifact is not None, f"{name} over {transport}: exit 0, results.json written")
        out[transport] = (r.returncode, r.stderr, artifact)
    return out


def records(artifact):
    """{(level's concurrency, index): record} of the measured records."""
    if artifact is None:
        return {}
    return {(level["config"].get("concurrency"), r["index"]): r for level in artifact["levels"]
            for r in level["records"] if not r.get("warmup")}


def same_fields(name, both, fields):
    """Both transports recorded the same requests, with equal `fields` in each pair of records."""
    a, b = records(both["threads"][2]), records(both["event-loop"][2])
    check(a.keys() == b.keys() and len(a) > 0, f"{name}: the same {len(a)} requests on both transports")
    for key in sorted(set(a) & set(b)):
        differ = {f: (a[key].get(f), b[key].get(f)) for f in fields if a[key].get(f) != b[key].get(f)}
        check(not differ, f"{name} {key}: equal {', '.join(fields)} on both transports {differ or ''}")


def failed(recs):
    """(key, kind, message) of each failed record."""
    return [(k, r["error_kind"], r.get("error_message")) for k, r in recs.items() if r["error_kind"] != "none"]


def reconnected(r):
    """Whether the request had to open a connection (t_connect is written as null when it did not)."""
    return r.get("t_connect") is not None


def ms(r, field, start="t_send"):
    return (r[field] - r[start]) * 1e-6


# ---------------------------------------------------------------------------------------------------------------


def case_aiohttp(tmp):
    port = free_port()
    # --tokens-per-chunk 3: a streamed reply of 8 tokens comes in 3 events (3, 3, 2 tokens), each chunk k tokens x
    # 1 ms after the one before; the usage says prompt_tokens 3, completion_tokens 8; the text is " x" a token.
    with serving(peer("openai_server_aiohttp.py", "--port", str(port), "--step-ms", "1", "--tokens-per-chunk", "3"),
                 port):
        for stream in (True, False):
            name = "aiohttp " + ("streamed" if stream else "not streamed")
            both = run_both(tmp, name.replace(" ", "-"), f"a=openai@http://127.0.0.1:{port}", "--concurrency", "1,4",
                            "--requests", "8", "--max-tokens", "8", *(["--stream"] if stream else []))
            for transport, (_, _, artifact) in both.items():
                recs = records(artifact)
                what = f"{name} over {transport}"
                check(len(recs) == 16, f"{what}: 8 requests at each of 2 levels ({len(recs)})")
                bad = failed(recs)
                check(not bad, f"{what}: every request ok {bad[:3]}")
                check(all(r.get("text") == " x" * 8 for r in recs.values()), f"{what}: every text is ' x' x 8")
                check(all(r["n_out"] == 8 and r.get("token_source") == "usage" and r.get("n_in") == 3
                          for r in recs.values()), f"{what}: n_out 8 and n_in 3 from the usage")
                check(all(r.get("streamed", False) == stream for r in recs.values()), f"{what}: streamed {stream}")
                check(all(r["t_send"] <= r["t_first_token"] <= r["t_end"] for r in recs.values()),
                      f"{what}: t_send <= t_first_token <= t_end (TTFT <= latency) on every record")
                if stream:
                    times = [r.get("event_times", []) for r in recs.values()]
                    check(all(len(t) == 3 and t == sorted(t) for t in times), f"{what}: three events, in order")
                    check(all(r["event_times"][0] == r["t_first_token"] and r["event_times"][-1] == r["t_end"]
                              for r in recs.values()), f"{what}: TTFT at the first event, the end at the last")
                    # the first chunk is sent 3 ms after the request arrives, the whole stream 8 ms after
                    check(all(ms(r, "t_first_token") >= 3 and ms(r, "t_end") >= 8 for r in recs.values()),
                          f"{what}: TTFT >= 3 ms, latency >= 8 ms")
                else:
                    check(all(r["t_first_token"] == r["t_end"] and ms(r, "t_end") >= 8 for r in recs.values()),
                          f"{what}: TTFT = latency >= 8 ms (one reply after 8 x 1 ms)")
                check(not any(reconnected(r) for r in recs.values()),
                      f"{what}: no reconnect (aiohttp keeps the connections alive)")
            same_fields(name, both, ["error_kind", "text", "n_out", "n_in", "token_source", "http_status", "streamed"])


def write_prompts(tmp, n):
    path = os.path.join(tmp, "prompts.jsonl")
    prompts = [f"question {i}: what is {i} squared?" for i in range(n)]
    with open(path, "w") as f:
        for p in prompts:
            f.write(json.dumps({"prompt": p, "max_tokens": 5}) + "\n")
    return path, prompts


def check_hf_texts(name, both, want):
    """Every request ok, text want(index) and n_out 5 from the usage, on both transports."""
    for transport, (_, _, artifact) in both.items():
        recs = records(artifact)
        what = f"{name} over {transport}"
        bad = failed(recs)
        check(len(recs) > 0 and not bad, f"{what}: every one of {len(recs)} requests ok {bad[:3]}")
        wrong = [k for k, r in recs.items() if r.get("text") != want(r["index"]) or r["n_out"] != 5]
        check(not wrong, f"{what}: the text the server builds and n_out 5 from its usage {wrong[:3]}")
        check(all(r["t_send"] <= r["t_first_token"] == r["t_end"] for r in recs.values()),
              f"{what}: TTFT = latency (not streamed)")
    same_fields(name, both, ["error_kind", "text", "n_out", "http_status"])


def connects(artifact):
    """{level's concurrency: [index of each record with t_connect]}."""
    return {level["config"]["concurrency"]: sorted(r["index"] for r in level["records"] if reconnected(r))
            for level in (artifact or {"levels": []})["levels"]}


def case_flask(tmp):
    port = free_port()
    prompts_file, prompts = write_prompts(tmp, 6)
    # lab_server_flask.py answers {"text": prompt + " word0 ... word4", "usage": {"completion_tokens": 5}}, one
    # generate at a time
    with serving(peer("lab_server_flask.py", "--port", str(port), "--step-ms", "1"), port):
        both = run_both(tmp, "flask", f"f=hf@http://127.0.0.1:{port}", "--concurrency", "1,3", "--requests", "6",
                        "--prompts", prompts_file)
    check_hf_texts("flask", both, lambda i: prompts[i] + " " + " ".join(f"word{k}" for k in range(5)))
    # werkzeug's development server answers HTTP/1.1 but closes the connection after every reply (Connection:
    # close): each stream's first request goes on the connection opened before the clock, every later one (index
    # >= concurrency) opens its own, on both transports
    got = {t: connects(a) for t, (_, _, a) in both.items()}
    print(f"flask: requests that reconnected, by level: {got}")
    want = {c: list(range(c, 6)) for c in (1, 3)}
    check(got["threads"] == got["event-loop"] == want, f"flask: every request but a stream's first reconnects: {got}")


def case_http_server(tmp):
    port = free_port()
    prompts_file, _ = write_prompts(tmp, 6)
    # lab_server_http.py: HTTP/1.1 with Content-Length (kept alive), {"text": "w0 w1 w2 w3 w4"} for max_tokens 5
    with serving(peer("lab_server_http.py", "--port", str(port), "--step-ms", "1"), port):
        both = run_both(tmp, "http.server-lab", f"h=hf@http://127.0.0.1:{port}", "--concurrency", "1,3",
                        "--requests", "6", "--prompts", prompts_file)
    check_hf_texts("http.server lab", both, lambda i: "w0 w1 w2 w3 w4")
    for transport, (_, _, artifact) in both.items():
        got = connects(artifact)
        check(got == {1: [], 3: []}, f"http.server lab over {transport}: kept alive, no record has t_connect {got}")

    # openai_server_http.py --http10: HTTP/1.0, the connection closed after every reply (a stream's body ends with
    # the close): each stream's first request goes on the connection opened before the clock, every later one
    # opens its own
    port = free_port()
    with serving(peer("openai_server_http.py", "--port", str(port), "--step-ms", "1", "--http10", "--lifetime-s",
                      "100"), port):
        for stream in (True, False):
            name = "http.server HTTP/1.0 " + ("streamed" if stream else "not streamed")
            both = run_both(tmp, name.replace(" ", "-"), f"o=openai@http://127.0.0.1:{port}", "--concurrency",
                            "1,3", "--requests", "6", "--max-tokens", "5", *(["--stream"] if stream else []))
            for transport, (_, _, artifact) in both.items():
                recs = records(artifact)
                what = f"{name} over {transport}"
                bad = failed(recs)
                check(len(recs) == 12 and not bad, f"{what}: every one of {len(recs)} requests ok {bad[:3]}")
                check(all(r.get("text") == " x" * 5 and r["n_out"] == 5 for r in recs.values()),
                      f"{what}: text ' x' x 5, n_out 5")
                check(all(r["t_send"] <= r["t_first_token"] <= r["t_end"] for r in recs.values()),
                      f"{what}: TTFT <= latency")
                if stream:
                    check(all(len(r.get("event_times", [])) == 5 for r in recs.values()), f"{what}: 5 events each")
                for level in artifact["levels"] if artifact else []:
                    c = level["config"]["concurrency"]
                    firsts = sorted(r["index"] for r in level["records"] if not reconnected(r))
                    later = [r for r in level["records"] if reconnected(r)]
                    check(len(firsts) == c and len(later) == 6 - c,
                          f"{what} c={c}: {c} requests on the connections opened first, the other {6 - c} "
                          f"reconnect (t_connect), got {firsts}")
                    check(all(r["t_send"] <= r["t_connect"] <= r["t_first_token"] for r in later),
                          f"{what} c={c}: t_send <= t_connect <= t_first_token")
            same_fields(name, both, ["error_kind", "text", "n_out", "streamed"])


# mode: (extra flags, kind of every request on the threads transport, kind on the event loop). The runs: two
# requests one after another, 4 tokens each.
# Where the kinds differ: the event loop parses HTTP itself and names a malformed reply as such ("the reply is not
# valid HTTP/1.1 (...)", kind other), while cpp-httplib 0.11.4 (the threads transport) reports any reply it cannot
# read as a read error, which the shared classification (reply.hpp, fail_transport) can only take for a close:
# empty_reply before a status line, closed_mid_stream after; and it skips a header line without a colon, so that
# the JSON body then read as a stream has no terminator (incomplete_stream).
HOSTILE = {
    "framing": {
        "bad_status": ([], "empty_reply", "other"),
        "not_http": ([], "empty_reply", "other"),
        "bad_header": (["--stream"], "incomplete_stream", "other"),
        "bad_chunked": ([], "closed_mid_stream", "other"),
        "short_length": ([], "closed_mid_stream", "closed_mid_stream"),
        # Content-Length 20 before a longer reply: both read 20 bytes of JSON.
        "long_length": ([], "invalid_json", "invalid_json"),
    },
    "endless": {
        "endless_reply": ([], "reply_too_large", "reply_too_large"),
        "endless_stream": (["--stream"], "reply_too_large", "reply_too_large"),
    },
    "slow": {
        "drip_reply": (["--deadline", "1"], "deadline_exceeded", "deadline_exceeded"),
        "drip_stream": (["--stream", "--deadline", "1"], "deadline_exceeded", "deadline_exceeded"),
        "silent_reply": (["--deadline", "1"], "deadline_exceeded", "deadline_exceeded"),
        "silent_stream": (["--stream", "--deadline", "1"], "deadline_exceeded", "deadline_exceeded"),
    },
    "closes": {
        "close_at_once": ([], "empty_reply", "empty_reply"),
        "reset": ([], "empty_reply", "empty_reply"),
        "cut_stream": (["--stream"], "closed_mid_stream", "closed_mid_stream"),
        "stream_no_done": (["--stream"], "incomplete_stream", "incomplete_stream"),
    },
}
# Replies that leave the connection looking reusable (a Content-Length, no Connection: close) from a server that
# closes it afterwards: cpp-httplib keeps it, and its next request may meet the close first (empty_reply), a race
# (see hostile_check.py). The event loop closes a connection whose reply had bytes past its end (long_length) or was
# malformed (bad_header), so its every request has a fresh one and the same kind.
RACY_ON_THREADS = {"bad_header", "long_length"}
SERVER_MODE = {"drip_stream": "drip_reply", "silent_reply": "silent_reply", "silent_stream": "silent_reply"}


def hostile(tmp, group):
    for name, (flags, threads_kind, loop_kind) in HOSTILE[group].items():
        port = free_port()
        mode = SERVER_MODE.get(name, name)
        with serving(peer("hostile_server.py", "--port", str(port), "--mode", mode, "--lifetime", "60"), port):
            both = run_both(tmp, name, f"h=openai@http://127.0.0.1:{port}", "--concurrency", "1", "--requests", "2",
                            "--max-tokens", "4", *flags, timeout=60)
        for transport, want in (("threads", threads_kind), ("event-loop", loop_kind)):
            recs = records(both[transport][2])
            kinds = [r["error_kind"] for _, r in sorted(recs.items())]
            messages = sorted({r.get("error_message", "") for r in recs.values()})
            if transport == "threads" and name in RACY_ON_THREADS:
                check(len(kinds) == 2 and kinds[0] == want and kinds[1] in (want, "empty_reply"),
                      f"{name} over {transport}: the first request ends {want}, the second {want} or empty_reply: "
                      f"{kinds} {messages}")
            else:
                check(kinds == [want, want], f"{name} over {transport}: both requests end {want}: {kinds} {messages}")
            if not (transport == "threads" and name in RACY_ON_THREADS):
                # the server closes after every reply: each request but the first opens a connection (t_connect);
                # the first, on the connection opened before the clock, is sent once, not again on a new one
                got = connects(both[transport][2])
                check(got == {1: [1]}, f"{name} over {transport}: only the second request reconnects: {got}")
            if want == "other":
                check(all("the reply is not valid HTTP/1.1 (" in m for m in messages),
                      f"{name} over {transport}: the message names the malformed reply: {messages}")
            if want == "deadline_exceeded":
                # Each is ended by its 1 s deadline (the loop and the watchdog look every 5 ms): the second goes out
                # 1 s after the first. t_end is the last byte that came: a drip's is up to one drip (0.3 s) before
                # the deadline; a silent server's is the deadline itself.
                ordered = [r for _, r in sorted(recs.items())]
                gap = (ordered[1]["t_send"] - ordered[0]["t_send"]) * 1e-6 if len(ordered) == 2 else -1
                check(1000 <= gap < 1300, f"{name} over {transport}: the second request {gap:.0f} ms after the first")
                ends = [round(ms(r, "t_end")) for r in ordered]
                low = 1000 if mode == "silent_reply" else 650
                check(all(low <= e < 1300 for e in ends), f"{name} over {transport}: t_end in [{low}, 1300) ms: {ends}")


def case_hostile_framing(tmp):
    hostile(tmp, "framing")


def case_hostile_endless(tmp):
    hostile(tmp, "endless")


def case_hostile_slow(tmp):
    hostile(tmp, "slow")


def case_hostile_closes(tmp):
    hostile(tmp, "closes")


def case_tls(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], check=True,
                   capture_output=True)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    common = ["--concurrency", "1", "--requests", "2", "--max-tokens", "4", "--ca-cert", cert, "--quiet"]
    with serving(peer("lab_server_http.py", "--port", str(port), "--step-ms", "1", "--cert", cert, "--key", key), port):
        out = os.path.join(tmp, "threads")
        r = sb("run", "--target", f"t={'hf'}@{url}", *common, "--wait", "10", "--out", out)
        ok = r.returncode == 0 and all(rec["error_kind"] == "none" for rec in
                                       records(json.load(open(os.path.join(out, "results.json")))).values())
        check(ok, f"tls: the threads transport runs against the https server with --ca-cert (exit {r.returncode})")
        out = os.path.join(tmp, "event-loop")
        r = sb("run", "--target", f"t=hf@{url}", *common, "--wait", "10", "--transport", "event-loop", "--out", out)
        lines = r.stderr.strip().splitlines()
        print(f"tls over event-loop: exit {r.returncode}: {r.stderr.strip()}")
        check(r.returncode == 2 and len(lines) == 1 and "--transport event-loop speaks plain http only" in lines[0]
              and url in lines[0] and "drop --transport for https" in lines[0],
              f"tls: exit 2 and one line naming the problem, the URL and the fix: {lines}")
        check(not os.path.exists(out), "tls: nothing written")
    # Nothing is sent before the usage error, not even the readiness probes: a listener that never accepts takes
    # no connection, and the error comes at once, not after --wait.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        url = f"https://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        r = sb("run", "--target", f"t=openai@{url}", "--concurrency", "1", "--requests", "2", "--wait", "20",
               "--transport", "event-loop", "--out", os.path.join(tmp, "never"))
        took = time.monotonic() - start
        try:
            listener.accept()[0].close()
            connected = True
        except BlockingIOError:
            connected = False
    check(r.returncode == 2 and "plain http only" in r.stderr, f"tls: exit 2 without a server too: {r.stderr.strip()}")
    check(not connected, "tls: no connection was opened to the https target")
    check(took < 5, f"tls: the usage error comes at once ({took:.2f} s; --wait was 20 s)")


def case_bad_flags(tmp):
    target = ["--target", "t=openai@http://127.0.0.1:9", "--concurrency", "1", "--requests", "1"]
    for flags, names in ((["--transport", "bogus"], ["--transport", "bogus", "threads", "event-loop"]),
                         (["--transport", "event-loop", "--loop-threads", "x"], ["--loop-threads", "x"])):
        out = os.path.join(tmp, "never")
        start = time.monotonic()
        r = sb("run", *target, *flags, "--out", out)
        lines = r.stderr.strip().splitlines()
        print(f"{' '.join(flags)}: exit {r.returncode} in {time.monotonic() - start:.2f} s: {r.stderr.strip()}")
        check(r.returncode == 2 and len(lines) == 1 and lines[0].startswith("servebench run: error: ") and
              all(n in lines[0] for n in names) and "servebench run --help" in lines[0],
              f"{' '.join(flags)}: exit 2, one line naming the flag, the value and the choices: {lines}")
        check(not os.path.exists(out), f"{' '.join(flags)}: nothing written")
    r = sb("run", "--help")
    check(r.returncode == 0 and "--transport" in r.stdout and "event-loop" in r.stdout and "--loop-threads" in r.stdout,
          "run --help lists --transport and --loop-threads")


CASES = case_functions(globals())

if __name__ == "__main__":
    args = parse_case(CASES, "--bin")
    BIN = args.bin
    in_temp_dir(CASES[args.case])
    finish(f"ok {args.case}")
