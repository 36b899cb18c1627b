#!/usr/bin/python3
"""The lab's plotting script (task 2.4), as the lab writes it, reading concurrent_benchmark.json unchanged.

Usage: lab_plot.py concurrent_benchmark.json out.png. Run with Debian's python3 and MPLBACKEND=Agg.
"""
import json
import sys

import matplotlib.pyplot as plt
import numpy as np

with open(sys.argv[1]) as f:
    data = json.load(f)

concurrency = sorted(int(k) for k in data)
hf_throughput = [data[str(c)]["hf"]["throughput_req_per_sec"] for c in concurrency]
vllm_throughput = [data[str(c)]["vllm"]["throughput_req_per_sec"] for c in concurrency]

x = np.arange(len(concurrency))
width = 0.35
fig, ax = plt.subplots(figsize=(10, 6))
ax.bar(x - width / 2, hf_throughput, width, label="HuggingFace", color="#ff6b6b")
ax.bar(x + width / 2, vllm_throughput, width, label="vLLM", color="#4ecdc4")
for i, (hf, vllm) in enumerate(zip(hf_throughput, vllm_throughput)):
    speedup = vllm / hf
    ax.text(i + width / 2, vllm, f"{speedup:.1f}x", ha="center", va="bottom", fontweight="bold")
ax.set_xlabel("Concurrent Requests")
ax.set_ylabel("Throughput (requests/sec)")
ax.set_title("HuggingFace vs vLLM Throughput")
ax.set_xticks(x)
ax.set_xticklabels(concurrency)
ax.legend()
plt.tight_layout()
plt.savefig(sys.argv[2], dpi=100)
print(f"plotted {len(concurrency)} levels to {sys.argv[2]}")
