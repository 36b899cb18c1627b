#!/usr/bin/python3
"""The reference client: Python asyncio + aiohttp, sending requests the way vLLM's benchmark does
(vllm/benchmarks/lib/endpoint_request_func.py: one shared aiohttp.ClientSession, one asyncio task per request,
an asyncio.Semaphore bounding concurrency, SSE read line by line from response.content, each chunk json.loads'ed,
time.perf_counter() timestamps). Prints one JSON object: requests, ok, failed, events, wall_s, cpu_s.
Run with Debian's /usr/bin/python3 and python3-aiohttp."""
import argparse
import asyncio
import json
import resource
import sys
import time

import aiohttp

AIOHTTP_TIMEOUT = aiohttp.ClientTimeout(total=6 * 60 * 60)


async def request_one(session, url, payload, stream, results):
    output = {"success": False, "ttft": 0.0, "itl": [], "latency": 0.0, "events": 0}
    st = time.perf_counter()
    most_recent_timestamp = st
    try:
        async with session.post(url=url, json=payload, headers={"Content-Type": "application/json"}) as response:
            if response.status != 200:
                output["error"] = response.reason
            elif not stream:
                data = await response.json()
                output["text"] = data["choices"][0]["text"]
                output["latency"] = time.perf_counter() - st
                output["success"] = True
            else:
                generated_text = ""
                first_chunk_received = False
                async for chunk_bytes in response.content:
                    chunk_bytes = chunk_bytes.strip()
                    if not chunk_bytes:
                        continue
                    chunk = chunk_bytes.decode("utf-8").removeprefix("data: ")
                    if chunk != "[DONE]":
                        data = json.loads(chunk)
                        if choices := data.get("choices"):
                            text = choices[0].get("text")
                            timestamp = time.perf_counter()
                            if not first_chunk_received:
                                first_chunk_received = True
                                output["ttft"] = timestamp - st
                            else:
                                output["itl"].append(timestamp - most_recent_timestamp)
                            most_recent_timestamp = timestamp
                            generated_text += text or ""
                            output["events"] += 1
                output["latency"] = most_recent_timestamp - st
                output["success"] = first_chunk_received
    except Exception as e:  # noqa: BLE001 — the benchmark records every failure, as vLLM's does
        output["error"] = repr(e)
    results.append(output)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()

    payload = {"prompt": "Question 0: Explain concept 0 briefly.", "max_tokens": 64, "temperature": 0}
    if args.stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    semaphore = asyncio.Semaphore(args.concurrency)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    results = []
    async with aiohttp.ClientSession(connector=connector, timeout=AIOHTTP_TIMEOUT) as session:
        async def limited(i):
            async with semaphore:
                await request_one(session, args.url, payload, args.stream, results)

        # Warm-up: open the connections first, as the C++ side does.
        await asyncio.gather(*[limited(i) for i in range(args.concurrency)])
        results.clear()
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        tasks = [asyncio.create_task(limited(i)) for i in range(args.requests)]
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    ok = sum(1 for r in results if r["success"])
    print(json.dumps({"requests": len(results), "ok": ok, "failed": len(results) - ok,
                      "events": sum(r["events"] for r in results), "wall_s": wall, "cpu_s": cpu}))


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
