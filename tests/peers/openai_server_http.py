#!/usr/bin/python3
"""A streaming OpenAI-compatible completions server on Python's http.server (ThreadingHTTPServer), as small wrappers
are written: its listen backlog is socketserver's default request_queue_size of 5, and each token is a timed loop
step. POST /v1/completions, streamed (Server-Sent Events, chunked) or not, with usage.
With --http10 it speaks HTTP/1.0 and closes the connection after every reply (no keep-alive), as old servers do.
Usage: openai_server_http.py --port N [--step-ms 2] [--http10] [--lifetime-s 120]"""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--step-ms", type=float, default=2.0)
parser.add_argument("--http10", action="store_true", help="HTTP/1.0: close the connection after each reply")
parser.add_argument("--lifetime-s", type=float, default=120.0, help="stop by itself after this long")
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0" if args.http10 else "HTTP/1.1"

    def log_message(self, *a):
        pass

    def write_chunk(self, data):
        if args.http10:  # no chunked encoding in HTTP/1.0: the body ends when the connection closes
            self.wfile.write(data)
        else:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        if self.path != "/v1/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        n = int(body.get("max_tokens", 16))
        usage = {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": n + 3}
        if not body.get("stream"):
            time.sleep(n * args.step_ms / 1000)
            out = json.dumps({"choices": [{"index": 0, "text": " x" * n}], "usage": usage}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if not args.http10:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for _ in range(n):
            time.sleep(args.step_ms / 1000)
            self.write_chunk(b"data: " + json.dumps({"choices": [{"index": 0, "text": " x"}]}).encode() + b"\n\n")
        self.write_chunk(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
        self.write_chunk(b"data: [DONE]\n\n")
        if not args.http10:
            self.wfile.write(b"0\r\n\r\n")


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)  # request_queue_size: 5, the default
server.daemon_threads = True
threading.Timer(args.lifetime_s, server.shutdown).start()
server.serve_forever()
