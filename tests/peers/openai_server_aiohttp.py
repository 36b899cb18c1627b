#!/usr/bin/python3
"""An OpenAI-compatible completions server on aiohttp, as small inference wrappers are written: GET /v1/models, POST
/v1/completions (streamed or not, with usage), no /health route (aiohttp answers 404, or 405 for a POST-only path).
With --tokens-per-chunk K a stream sends K tokens in each chunk (the last may hold fewer), K x --step-ms apart, and
when the request asks for stream_options.continuous_usage_stats (vLLM's) every chunk carries a cumulative usage.
Usage: openai_server_aiohttp.py --port N [--step-ms 2] [--tokens-per-chunk K]"""
import argparse
import asyncio
import json

from aiohttp import web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--step-ms", type=float, default=2.0)
parser.add_argument("--tokens-per-chunk", type=int, default=1)
parser.add_argument("--require-key", help="answer 401 unless Authorization: Bearer KEY")
parser.add_argument("--require-header", help="answer 400 unless this 'Name: value' header is sent")
args = parser.parse_args()


async def models(_):
    return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})


async def completions(request):
    if args.require_key and request.headers.get("Authorization") != f"Bearer {args.require_key}":
        return web.json_response({"error": {"message": "invalid API key"}}, status=401)
    if args.require_header:
        name, value = (p.strip() for p in args.require_header.split(":", 1))
        if request.headers.get(name) != value:
            return web.json_response({"error": {"message": f"missing header {name}"}}, status=400)
    body = await request.json()
    n = int(body.get("max_tokens", 16))
    usage = {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": n + 3}
    if not body.get("stream"):
        await asyncio.sleep(n * args.step_ms / 1000)
        return web.json_response({"choices": [{"index": 0, "text": " x" * n}], "usage": usage})
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    options = body.get("stream_options") or {}
    continuous = bool(options.get("continuous_usage_stats"))
    sent = 0
    while sent < n:
        k = min(args.tokens_per_chunk, n - sent)
        await asyncio.sleep(k * args.step_ms / 1000)
        sent += k
        chunk = {"choices": [{"index": 0, "text": " x" * k}]}
        if continuous:
            chunk["usage"] = {"prompt_tokens": 3, "completion_tokens": sent, "total_tokens": sent + 3}
        await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    await resp.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n")
    await resp.write(b"data: [DONE]\n\n")
    return resp


app = web.Application()
app.add_routes([web.get("/v1/models", models), web.post("/v1/completions", completions)])
web.run_app(app, host="127.0.0.1", port=args.port, print=None)
