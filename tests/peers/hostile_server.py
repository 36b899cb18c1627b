#!/usr/bin/python3
"""A hostile OpenAI-compatible server on raw sockets (no framework would send these replies): one request per
connection, GET /health and POST /v1/completions, misbehaving as --mode says:

  endless_health  /health answers 200 and a chunked body without end; completions are normal
  drip_health     /health answers 200, Content-Length 100000, then one byte every --drip-s; completions are normal
  endless_reply   completions answer 200 and a chunked body without end (64 KiB chunks)
  endless_stream  completions answer 200 text/event-stream and one SSE event that never ends
  drip_reply      completions answer 200, Content-Length 100000, then one byte every --drip-s
  bad_chunked     completions answer a chunked body whose second chunk size is not hexadecimal
  short_length    completions say Content-Length 1000 and send a whole JSON reply of fewer bytes, then close
  long_length     completions say Content-Length 20 and send a longer JSON reply
  never_ready     every route answers 503 (a server loading its model for ever)
  silent          reads the request and never answers
  silent_reply    /health is normal; completions read the request and never answer
  bad_status      completions answer a status line whose code is not three digits ("HTTP/1.1 2x0 OK")
  not_http        completions answer a line that is not HTTP (another service on the port), then close
  bad_header      completions answer a header line without a colon
  close_at_once   completions read the request and close the connection without a byte
  reset           completions read the request and reset the connection (RST: SO_LINGER 0)
  cut_stream      completions stream two SSE events, then close inside the third chunk
  stream_no_done  completions stream two SSE events over a close-delimited body and close without [DONE]

Stops by itself after --lifetime seconds. Usage: hostile_server.py --port N --mode MODE [--drip-s 0.3]"""
import argparse
import json
import socket
import socketserver
import struct
import threading
import time

MODES = ["endless_health", "drip_health", "endless_reply", "endless_stream", "drip_reply", "bad_chunked",
         "short_length", "long_length", "never_ready", "silent", "silent_reply", "bad_status", "not_http", "bad_header",
         "close_at_once", "reset", "cut_stream", "stream_no_done"]
parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--mode", choices=MODES, required=True)
parser.add_argument("--drip-s", type=float, default=0.3)
parser.add_argument("--lifetime", type=float, default=90)
args = parser.parse_args()
started = time.monotonic()


def alive():
    return time.monotonic() - started < args.lifetime


def normal_reply(body):
    n = int(json.loads(body or b"{}").get("max_tokens", 4))
    return json.dumps({"choices": [{"index": 0, "text": " x" * n}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": n + 3}}).encode()


def head(status, *headers):
    reason = {200: "OK", 503: "Service Unavailable"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


class Handler(socketserver.BaseRequestHandler):
    def read_request(self):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return None, None
            data += chunk
        header, body = data.split(b"\r\n\r\n", 1)
        lines = header.decode("latin-1").split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(body) < length:
            chunk = self.request.recv(65536)
            if not chunk:
                break
            body += chunk
        return lines[0].split(" ")[1], body

    def endless(self, piece):
        while alive():
            self.request.sendall(piece)

    def drip(self):
        self.request.sendall(head(200, "Content-Type: application/json", "Content-Length: 100000"))
        while alive():
            self.request.sendall(b" ")
            time.sleep(args.drip_s)

    def handle(self):
        try:
            self.answer()
        except OSError:  # the client gave up: what a hostile server expects
            pass

    def answer(self):
        path, body = self.read_request()
        if path is None:
            return
        mode = args.mode
        if mode == "silent":
            while alive():
                time.sleep(0.1)
            return
        if mode == "never_ready":
            self.request.sendall(head(503, "Content-Length: 0", "Connection: close"))
            return
        if path == "/health":
            if mode == "endless_health":
                self.request.sendall(head(200, "Content-Type: text/plain", "Transfer-Encoding: chunked"))
                self.endless(b"10000\r\n" + b"h" * 0x10000 + b"\r\n")
            elif mode == "drip_health":
                self.drip()
            else:
                self.request.sendall(head(200, "Content-Length: 2", "Connection: close") + b"ok")
            return
        reply = normal_reply(body)
        event = b'data: {"choices":[{"index":0,"text":" x"}]}\n\n'
        if mode == "silent_reply":
            while alive():
                time.sleep(0.1)
        elif mode == "bad_status":
            self.request.sendall(b"HTTP/1.1 2x0 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(reply), reply))
        elif mode == "not_http":
            self.request.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        elif mode == "bad_header":
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(reply), reply))
        elif mode == "close_at_once":
            pass
        elif mode == "reset":
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.request.close()  # now, before socketserver's shutdown(SHUT_WR) would send a FIN first
        elif mode == "cut_stream":
            self.request.sendall(head(200, "Content-Type: text/event-stream", "Transfer-Encoding: chunked") +
                                 b"%x\r\n%s\r\n" % (len(event), event) * 2 + b"64\r\ndata: {\"cho")
        elif mode == "stream_no_done":
            self.request.sendall(head(200, "Content-Type: text/event-stream", "Connection: close") + event * 2)
        elif mode == "endless_reply":
            self.request.sendall(head(200, "Content-Type: application/json", "Transfer-Encoding: chunked"))
            self.request.sendall(b"1\r\n[\r\n")
            self.endless(b"10000\r\n" + b"1," * 0x8000 + b"\r\n")
        elif mode == "endless_stream":
            self.request.sendall(head(200, "Content-Type: text/event-stream", "Transfer-Encoding: chunked"))
            start = b'data: {"choices":[{"text":"'
            self.request.sendall(b"%x\r\n%s\r\n" % (len(start), start))
            self.endless(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
        elif mode == "drip_reply":
            self.drip()
        elif mode == "bad_chunked":
            self.request.sendall(head(200, "Content-Type: application/json", "Transfer-Encoding: chunked") +
                                 b"5\r\n{\"cho\r\nZZ\r\nices\":[]}\r\n0\r\n\r\n")
        elif mode == "short_length":
            self.request.sendall(head(200, "Content-Type: application/json", "Content-Length: 1000") + reply)
        elif mode == "long_length":
            self.request.sendall(head(200, "Content-Type: application/json", "Content-Length: 20") + reply)
        else:
            self.request.sendall(head(200, "Content-Type: application/json", f"Content-Length: {len(reply)}",
                                      "Connection: close") + reply)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


with Server(("127.0.0.1", args.port), Handler) as server:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    while alive():
        time.sleep(0.2)
    server.shutdown()
