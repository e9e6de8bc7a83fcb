#!/usr/bin/python3
"""The original Python exporter, re-implemented from its design for the
comparison in bench/peers.sh (docs/performance.md).

usage: original_exporter.py --once < LOG      # read LOG to its end, print the exposition
       original_exporter.py --port PORT < LOG  # serve /metrics while stdin is read

One JSON object per finished request per line on stdin (input_tokens,
output_tokens, total_time_ms, queue_time_ms, inference_time_ms, gpu_memory_mb,
status, ...) updates five prometheus_client metrics; anything else (not JSON,
not an object, or an object without `status` or `total_time_ms`, as the
preset's `requests.keys`) is skipped. Buckets are those of the preset's seed
series (config/qwen.yaml, config/qwen_seed.yaml). Debian package:
python3-prometheus-client.
"""
import argparse
import json
import signal
import sys

try:
    from prometheus_client import Counter, Gauge, Histogram, generate_latest, start_http_server
except ImportError:
    sys.exit("original_exporter.py: no prometheus_client for %s (Debian: apt-get install "
             "python3-prometheus-client)" % sys.executable)

REQUESTS = Counter("qwen_requests_total", "Total number of requests", ["status"])
DURATION = Histogram("qwen_request_duration_ms", "Request duration in milliseconds",
                     buckets=[100, 500, 1000, 2000, 5000])
INPUT_TOKENS = Histogram("qwen_input_tokens", "Number of input tokens per request",
                         buckets=[256, 512, 1024, 2048, 4096, 8192])
OUTPUT_TOKENS = Histogram("qwen_output_tokens", "Number of output tokens per request",
                          buckets=[64, 128, 256, 512, 1024, 2048])
GPU_MEMORY = Gauge("qwen_gpu_memory_mb", "GPU memory usage in MB")


def number(value):
    """A JSON number that is not a bool, else None."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def process(line):
    try:
        record = json.loads(line)
    except ValueError:
        return
    if not isinstance(record, dict) or ("status" not in record and "total_time_ms" not in record):
        return
    status = record.get("status")
    REQUESTS.labels(status=status if isinstance(status, str) and status else "unknown").inc()
    for histogram, key in ((DURATION, "total_time_ms"), (INPUT_TOKENS, "input_tokens"),
                           (OUTPUT_TOKENS, "output_tokens")):
        value = number(record.get(key))
        if value is not None:
            histogram.observe(value)
    value = number(record.get("gpu_memory_mb"))
    if value is not None:
        GPU_MEMORY.set(value)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true",
                      help="read stdin to its end, print the exposition and exit")
    mode.add_argument("--port", type=int, help="serve /metrics on this port while reading stdin")
    a = ap.parse_args()
    if a.port is not None:
        start_http_server(a.port)
    for line in sys.stdin.buffer:
        process(line)
    if a.once:
        sys.stdout.buffer.write(generate_latest())
    else:
        signal.pause()  # keep serving after the end of the input, until a signal


if __name__ == "__main__":
    main()
