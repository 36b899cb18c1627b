#!/usr/bin/python3
"""A lab HF server written on Python's http.server (ThreadingHTTPServer), as a student might: it implements only
POST, so GET /health is answered 501 by http.server itself. The model is a timed loop.
With --cert/--key it serves https (the tests make a self-signed certificate for 127.0.0.1).
Usage: lab_server_http.py --port N [--step-ms 2] [--cert PEM --key PEM]"""
import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--step-ms", type=float, default=2.0)
parser.add_argument("--cert", help="serve https with this PEM certificate (and --key)")
parser.add_argument("--key")
args = parser.parse_args()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/v1/completions":
            self.send_error(404)
            return
        max_tokens = int(body.get("max_tokens", 100))
        start = time.time()
        time.sleep(max_tokens * args.step_ms / 1000)
        out = json.dumps({"text": " ".join(f"w{i}" for i in range(max_tokens)),
                          "usage": {"completion_tokens": max_tokens}, "elapsed_sec": time.time() - start}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
if args.cert:
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
