#!/usr/bin/python3
"""The lab's HF baseline server (Flask around transformers' model.generate), with the model replaced by a timed
loop so it runs without a GPU: POST /v1/completions {"prompt", "max_tokens"} -> {"text", "usage":
{"completion_tokens"}, "elapsed_sec"}. Like the lab's, it has no /health route and serves one request at a time.
Usage: lab_server_flask.py --port N [--step-ms 2]"""
import argparse
import threading
import time

from flask import Flask, jsonify, request

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--step-ms", type=float, default=2.0, help="time per generated token")
args = parser.parse_args()

app = Flask(__name__)
generate_lock = threading.Lock()  # one model.generate at a time, as on one GPU


@app.route("/v1/completions", methods=["POST"])
def completions():
    body = request.get_json(force=True)
    prompt, max_tokens = body["prompt"], int(body.get("max_tokens", 100))
    start = time.time()
    with generate_lock:
        words = []
        for i in range(max_tokens):
            time.sleep(args.step_ms / 1000)
            words.append(f"word{i}")
    return jsonify({"text": prompt + " " + " ".join(words), "usage": {"completion_tokens": max_tokens},
                    "elapsed_sec": time.time() - start})


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=args.port, threaded=True)
