#!/usr/bin/python3
"""A /metrics endpoint served by the Prometheus Python client library (Debian's python3-prometheus-client), for
tests/peers_check.py: vLLM's running and waiting gauges at fixed values (3 and 2) and a preemption counter that
grows by one every 10 ms. Stops by itself after --lifetime seconds."""
import argparse
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--lifetime", type=float, default=120)
args = parser.parse_args()
registry = CollectorRegistry()
Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", ["model_name"],
      registry=registry).labels(model_name="m").set(3)
Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", ["model_name"],
      registry=registry).labels(model_name="m").set(2)
preemptions = Counter("vllm:num_preemptions", "Cumulative number of preemptions.", ["model_name"], registry=registry)
start_http_server(args.port, addr="127.0.0.1", registry=registry)
end = time.time() + args.lifetime
while time.time() < end:
    preemptions.labels(model_name="m").inc()
    time.sleep(0.01)
