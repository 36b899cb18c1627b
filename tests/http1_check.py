#!/usr/bin/python3
"""The event-loop transport's HTTP/1.1 response parser (include/servebench/event_loop/http1.hpp) on replies made by
servers servebench did not write. Each case starts tests/peers/reply_server.py with one framework (Python's
http.server, Flask on Werkzeug, aiohttp) on a free port of 127.0.0.1, sends requests over a raw socket (several on
one connection where the server keeps it alive, the last asking Connection: close), captures the raw bytes until
the server closes, and compares, response by response:
  * what tests/http1_decode.cpp reads from the bytes (whole, byte by byte and in random splits, which must agree),
  * what Python's own http.client reads from the same bytes (status, decoded body, whether the connection closes),
  * the body the server was asked for (reply_server.py's bytes for ?n=N, rebuilt here).
It also checks that the framing under test was really on the wire (chunked, 100 Continue, a close-delimited body).
Usage: http1_check.py --decoder PATH --case http_server|flask|aiohttp"""
import http.client
import io
import json
import socket
import subprocess
import tempfile
import time

from check_support import case_functions, check, finish, free_port, parse_case, peer, serving

CYCLE = b"abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"  # reply_server.py's body bytes


def body_of(n):
    return (CYCLE * (n // len(CYCLE) + 1))[:n]


def sse_body(count=20):
    return b"".join(b'data: {"choices":[{"index":0,"text":" token%d"}]}\n\n' % i for i in range(count)) + \
        b"data: [DONE]\n\n"


class Request:
    def __init__(self, path, status, body, method="GET", payload=None):
        self.path, self.status, self.body, self.method, self.payload = path, status, body, method, payload

    def wire(self, port, last):
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        if self.payload is not None:
            head += f"Content-Length: {len(self.payload)}\r\nExpect: 100-continue\r\n"
        if last:
            head += "Connection: close\r\n"
        return (head + "\r\n").encode() + (self.payload or b"")


def capture(port, requests, limit_s=20):
    """The raw bytes the server sent on one connection for `requests` (sent at once), until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit_s) as s:
        s.sendall(b"".join(r.wire(port, i == len(requests) - 1) for i, r in enumerate(requests)))
        received = []
        deadline = time.time() + limit_s
        while time.time() < deadline:
            data = s.recv(65536)
            if not data:
                break
            received.append(data)
        return b"".join(received)


class Stream(io.BytesIO):
    """The captured bytes as http.client's socket file: one file for every response read from them, never closed
    by a response that ends."""

    def close(self):
        pass


class Socket:
    def __init__(self, stream):
        self.stream = stream

    def makefile(self, *_args, **_kwargs):
        return self.stream


def http_client_replies(wire):
    """[(status, body, will_close)] of every response in `wire`, as http.client reads them (it skips 100
    Continue), and the bytes it left unread."""
    stream = Stream(wire)
    replies = []
    while stream.tell() < len(wire):
        r = http.client.HTTPResponse(Socket(stream))
        r.begin()
        body = r.read()
        replies.append((r.status, body, r.will_close))
        if r.will_close:
            break
    return replies, len(wire) - stream.tell()


def compare(decoder, name, requests, wire):
    with tempfile.NamedTemporaryFile(suffix=".bin") as f:
        f.write(wire)
        f.flush()
        r = subprocess.run([decoder, f.name], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"{name}: http1_decode reads the bytes the same however split ({r.stderr.strip()})")
    if r.returncode != 0:
        return
    ours = json.loads(r.stdout)
    theirs, unread = http_client_replies(wire)
    check(unread == 0, f"{name}: http.client read every byte")
    check(len(ours) == len(theirs) == len(requests),
          f"{name}: {len(requests)} response(s) (the parser: {len(ours)}, http.client: {len(theirs)})")
    for i, (mine, (status, body, will_close), request) in enumerate(zip(ours, theirs, requests)):
        what = f"{name}: response {i + 1} ({request.method} {request.path})"
        got = bytes.fromhex(mine["body_hex"])
        check(mine["state"] == "done" and mine["error"] == "", f"{what}: done, no error ({mine['error']})")
        check(mine["status"] == status == request.status, f"{what}: status {mine['status']}, http.client {status}")
        check(got == body, f"{what}: the body equals http.client's ({len(got)} and {len(body)} bytes)")
        if request.body is not None:  # None: the server's own page (a 404), compared with http.client only
            check(got == request.body, f"{what}: the body equals the one asked for ({len(request.body)} bytes)")
        check(mine["keep_alive"] == (not will_close),
              f"{what}: keep-alive {mine['keep_alive']}, http.client will_close {will_close}")


def run_case(framework, connections):
    """Every connection of `connections` (each a list of requests) captured from reply_server.py --framework and
    compared; returns the captured bytes, for the case's checks that the framing was on the wire."""
    port = free_port()
    captured = []
    with serving(peer("reply_server.py", "--framework", framework, "--port", str(port), "--lifetime-s", "60"), port):
        for k, requests in enumerate(connections):
            wire = capture(port, requests)
            captured.append(wire)
            compare(DECODER, f"{framework} connection {k + 1}", requests, wire)
    return captured


def case_http_server():
    payload = body_of(300)
    wire, = run_case("http_server", [[
        Request("/length?n=5000", 200, body_of(5000)),
        Request("/empty", 204, b""),
        Request("/cached", 304, b""),
        Request("/echo", 200, payload, method="POST", payload=payload),
        Request("/length?n=0", 200, b""),
        Request("/close?n=2000", 200, body_of(2000)),
    ]])
    check(b"HTTP/1.1 100 Continue\r\n" in wire, "http_server: an interim 100 Continue was on the wire")
    check(wire.count(b"Content-Length") == 3, "http_server: the last body was close-delimited (no Content-Length)")


def case_flask():
    # Werkzeug's server closes every connection after one response: one request per connection.
    requests = [Request("/length?n=3000", 200, body_of(3000)), Request("/stream?n=2500", 200, body_of(2500)),
                Request("/sse", 200, sse_body()), Request("/empty", 204, b""), Request("/cached", 304, b""),
                Request("/missing", 404, None)]
    captured = run_case("flask", [[r] for r in requests])
    check(all(b"Transfer-Encoding: chunked\r\n" in w for w in captured[1:3]), "flask: the streams were chunked")


def case_aiohttp():
    wire, = run_case("aiohttp", [[
        Request("/length?n=4000", 200, body_of(4000)),
        Request("/chunked?n=10000", 200, body_of(10000)),
        Request("/empty", 204, b""),
        Request("/sse", 200, sse_body()),
        Request("/length?n=70000", 200, body_of(70000)),
        Request("/chunked?n=1", 200, body_of(1)),
        Request("/missing", 404, None),
    ]])
    check(wire.count(b"Transfer-Encoding: chunked\r\n") == 3, "aiohttp: three chunked replies were on the wire")


if __name__ == "__main__":
    CASES = case_functions(globals())
    ARGS = parse_case(CASES, "--decoder")
    DECODER = ARGS.decoder
    CASES[ARGS.case]()
    finish()
