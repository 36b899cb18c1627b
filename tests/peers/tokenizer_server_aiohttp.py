#!/usr/bin/python3
"""An OpenAI-compatible completions server on aiohttp with a tokenizer of its own, unlike servebench::sim's (four
bytes a token): a beginning-of-sequence token, then every whitespace-separated word cut into pieces of at most three
characters, the first carrying the word's leading space ("\u2581"), as SentencePiece marks it. POST /tokenize
{"prompt"} -> {"tokens", "count"}; POST /detokenize {"tokens"} -> {"prompt"}, special tokens included in the text (as
vLLM's detokenize does unless told to skip them); POST /v1/completions counts usage.prompt_tokens with the same
tokenizer; GET /stats -> {"requests", "prompts": [...], "prompt_tokens": [...], "max_tokens": [...]} of the
completions served. With --no-tokenizer the tokenizer routes answer 404, as a server without them does; with
--malformed-tokenize POST /tokenize answers 200 with JSON cut short, as a broken proxy in front of a server might.
Usage: tokenizer_server_aiohttp.py --port N (0: a free port, printed as "PORT N" on stdout)"""
import argparse
import socket

from aiohttp import web

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--no-tokenizer", action="store_true")
parser.add_argument("--malformed-tokenize", action="store_true")
parser.add_argument("--tokens-not-a-list", action="store_true")
args = parser.parse_args()

BOS = "<s>"
vocab = {BOS: 1}
pieces = {1: BOS}
served = {"requests": 0, "prompts": [], "prompt_tokens": [], "max_tokens": []}


def piece_id(piece):
    if piece not in vocab:
        vocab[piece] = len(vocab) + 1
        pieces[vocab[piece]] = piece
    return vocab[piece]


def tokenize(text):
    ids = [1]
    for word in text.split():
        for i in range(0, len(word), 3):
            ids.append(piece_id(("\u2581" if i == 0 else "") + word[i:i + 3]))
    return ids


def detokenize(ids):
    return "".join(pieces[i] for i in ids).replace("\u2581", " ").lstrip(" ")


async def tokenize_route(request):
    body = await request.json()
    if args.malformed_tokenize:
        return web.Response(text='{"tokens": [1, 17, ', content_type="application/json")
    if args.tokens_not_a_list:  # valid JSON, but no token ids: a string, then ids that are not integers
        return web.json_response({"tokens": "1 17" if "servebench" in body["prompt"] else [1, "17"], "count": 2})
    ids = tokenize(body["prompt"])
    return web.json_response({"tokens": ids, "count": len(ids), "max_model_len": 1 << 20})


async def detokenize_route(request):
    body = await request.json()
    if any(i not in pieces for i in body["tokens"]):
        return web.json_response({"error": {"message": "unknown token id"}}, status=400)
    return web.json_response({"prompt": detokenize(body["tokens"])})


async def completions(request):
    body = await request.json()
    n = int(body.get("max_tokens", 16))
    p = len(tokenize(body["prompt"]))
    served["requests"] += 1
    served["prompts"].append(body["prompt"])
    served["prompt_tokens"].append(p)
    served["max_tokens"].append(n)
    usage = {"prompt_tokens": p, "completion_tokens": n, "total_tokens": n + p}
    return web.json_response({"choices": [{"index": 0, "text": " x" * n}], "usage": usage})


async def stats(_):
    return web.json_response(served)


app = web.Application()
app.router.add_post("/v1/completions", completions)
app.router.add_get("/stats", stats)
if not args.no_tokenizer:
    app.router.add_post("/tokenize", tokenize_route)
    app.router.add_post("/detokenize", detokenize_route)
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", args.port))
sock.listen(128)  # before the port is printed, so that a client may connect at once
print(f"PORT {sock.getsockname()[1]}", flush=True)
web.run_app(app, sock=sock, print=None)
