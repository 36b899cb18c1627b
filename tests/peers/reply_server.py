#!/usr/bin/python3
"""Replies of every HTTP/1.1 framing, each made by a server servebench did not write, for tests/http1_check.py:
  --framework http_server  Python's http.server (BaseHTTPRequestHandler, protocol_version HTTP/1.1):
                           GET /length (Content-Length), /close (no length nor Connection header: the close
                           ends the body), /empty (204), /cached (304), POST /echo (answers Expect: 100-continue
                           with 100 Continue first)
  --framework flask        Flask on Werkzeug's server: GET /length (a bytes body), /stream (a generator: chunked),
                           /sse (an event stream, chunked), /empty (204), /cached (304), /missing (404)
  --framework aiohttp      aiohttp: GET /length (web.Response), /chunked (a StreamResponse with chunked encoding
                           on), /sse (a StreamResponse of events), /empty (204), /missing (404)
A body's bytes follow from its query: ?n=BYTES (default 1000), the bytes a fixed cycle of printable characters.
The server stops by itself after --lifetime-s (default 120).
Usage: reply_server.py --framework NAME --port N [--lifetime-s 120]"""
import argparse
import os
import threading

parser = argparse.ArgumentParser()
parser.add_argument("--framework", required=True, choices=["http_server", "flask", "aiohttp"])
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--lifetime-s", type=float, default=120)
args = parser.parse_args()

# A server that outlives its check ends anyway.
lifetime = threading.Timer(args.lifetime_s, lambda: os._exit(0))
lifetime.daemon = True  # never what keeps the process from ending on SIGTERM
lifetime.start()

CYCLE = b"abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ\n"


def body_of(n):
    return (CYCLE * (n // len(CYCLE) + 1))[:n]


def sse_events(count):
    """`count` events shaped like an OpenAI completions stream, then [DONE]."""
    for i in range(count):
        yield b'data: {"choices":[{"index":0,"text":" token%d"}]}\n\n' % i
    yield b"data: [DONE]\n\n"


def serve_http_server():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            n = int(parse_qs(url.query).get("n", ["1000"])[0])
            if url.path == "/length":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                self.wfile.write(body_of(n))
            elif url.path == "/close":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()  # no length, no Connection: close: only the close says the body ended
                self.wfile.write(body_of(n))
                self.close_connection = True
            elif url.path == "/empty":
                self.send_response(204)
                self.end_headers()
            elif url.path == "/cached":
                self.send_response(304)
                self.send_header("ETag", '"v1"')
                self.end_headers()
            else:
                self.send_error(404)

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


def serve_flask():
    from flask import Flask, Response, request

    app = Flask(__name__)

    def n():
        return int(request.args.get("n", "1000"))

    @app.get("/length")
    def length():
        return Response(body_of(n()), mimetype="text/plain")

    @app.get("/stream")
    def stream():
        size = n()
        pieces = [body_of(size)[i:i + 100] for i in range(0, size, 100)]
        return Response(iter(pieces), mimetype="text/plain")

    @app.get("/sse")
    def sse():
        return Response(sse_events(20), mimetype="text/event-stream")

    @app.get("/empty")
    def empty():
        return "", 204

    @app.get("/cached")
    def cached():
        return Response(status=304, headers={"ETag": '"v1"'})

    app.run(host="127.0.0.1", port=args.port, threaded=True)


def serve_aiohttp():
    from aiohttp import web

    def n(request):
        return int(request.query.get("n", "1000"))

    async def length(request):
        return web.Response(body=body_of(n(request)), content_type="text/plain")

    async def chunked(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        data = body_of(n(request))
        for i in range(0, len(data), 333):
            await resp.write(data[i:i + 333])
        await resp.write_eof()
        return resp

    async def sse(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for event in sse_events(20):
            await resp.write(event)
        await resp.write_eof()
        return resp

    async def empty(_):
        return web.Response(status=204)

    app = web.Application()
    app.add_routes([web.get("/length", length), web.get("/chunked", chunked), web.get("/sse", sse),
                    web.get("/empty", empty)])
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


{"http_server": serve_http_server, "flask": serve_flask, "aiohttp": serve_aiohttp}[args.framework]()
