#!/usr/bin/python3
"""Writes tests/data/prometheus_client.txt: real exposition text from the Prometheus Python client library (Debian:
python3-prometheus-client), for unit_metrics.cpp. Every kind of metric, labels that need escapes, NaN and +Inf."""
import sys

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, Summary, generate_latest

registry = CollectorRegistry()
running = Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", ["model_name"],
                registry=registry)
running.labels(model_name="sim-model").set(7)
waiting = Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", ["model_name"],
                registry=registry)
waiting.labels(model_name="sim-model").set(3)
usage = Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", ["model_name"],
              registry=registry)
usage.labels(model_name="sim-model").set(0.4375)
odd = Gauge("odd_values", "Help with a backslash \\ and a\nnewline.", ["path"], registry=registry)
odd.labels(path='C:\\dir "quoted"\nline').set(float("nan"))
odd.labels(path="inf").set(float("inf"))
odd.labels(path="minus_inf").set(float("-inf"))
preempt = Counter("vllm:num_preemptions", "Cumulative number of preemptions.", ["model_name"], registry=registry)
preempt.labels(model_name="sim-model").inc(5)
hist = Histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                 buckets=(0.01, 0.1, 1.0), registry=registry)
for v in (0.005, 0.05, 0.05, 0.5, 2.0):
    hist.observe(v)
summ = Summary("request_latency_seconds", "Request latency.", registry=registry)
summ.observe(0.25)
summ.observe(0.75)
Info("build", "Build information.", registry=registry).info({"version": "1.2.3"})
sys.stdout.write(generate_latest(registry).decode("utf-8"))
