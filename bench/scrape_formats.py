#!/usr/bin/python3
"""Scrape cost by exposition format at 10,000 and 100,000 series (issue 20).

usage:
  scrape_formats.py --exe EXE [--series 10000,100000] [--scrapes 20] [--no-exemplars]

For each series count N: starts the daemon on 127.0.0.1:0 with a config of
one counter whose two labels (a: N/100 values, b: 100; 999 x 99 = 98,901 for
100,000, the store's cap per metric counting overflow values) make N series, feeds N
request lines (one per series, each with a trace_id of 128 random bits, as
tracers make them, so that every series has an exemplar in OpenMetrics;
--no-exemplars leaves them out), waits until all
are counted, then times --scrapes GETs of /metrics on one keep-alive
connection (as Prometheus scrapes) per format: text 0.0.4, OpenMetrics
(Prometheus's Accept header) and the protobuf format (Prometheus's Accept
header with native histograms on), each plain and gzip. Prints one line per
(N, format) with the median and best ms per scrape, µs per series and bytes.
Standard library only; every wait is bounded in time.
"""
import argparse
import http.client
import os
import random
import statistics
import sys
import tempfile
import time

sys.dont_write_bytecode = True
from scrape_latency import Daemon  # noqa: E402  (the daemon as a child process)

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
# As Prometheus 2.42 asks with --enable-feature=native-histograms.
PROTOBUF_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
# (name, request headers, the Content-Type the answer must have)
FORMATS = [("text", {}, "text/plain"),
           ("text+gzip", {"Accept-Encoding": "gzip"}, "text/plain"),
           ("openmetrics", {"Accept": PROMETHEUS_ACCEPT}, "application/openmetrics-text"),
           ("openmetrics+gzip", {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"},
            "application/openmetrics-text"),
           ("protobuf", {"Accept": PROTOBUF_ACCEPT}, "application/vnd.google.protobuf"),
           ("protobuf+gzip", {"Accept": PROTOBUF_ACCEPT, "Accept-Encoding": "gzip"},
            "application/vnd.google.protobuf")]


def shape(n):
    """(values of a, values of b): about n series within the store's cap of
    100,000 per metric, which counts each label's overflow value too."""
    b = 100 if (n // 100 + 1) * 101 <= 100000 else 99
    return min(max(1, n // b), 100000 // (b + 1) - 1), b


def config(n):
    a, b = shape(n)
    return ("namespace: bench\n"
            "requests: {keys: [a]}\n"
            "metrics:\n"
            "  - name: requests_total\n"
            "    type: counter\n"
            "    labels:\n"
            "      - {name: a, max_values: %d}\n"
            "      - {name: b, max_values: %d}\n" % (a, b))


def get(conn, headers, content_type=None):
    conn.request("GET", "/metrics", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200:
        raise RuntimeError("GET /metrics: HTTP %d" % resp.status)
    got = resp.getheader("Content-Type", "")
    if content_type is not None and not got.startswith(content_type):
        raise RuntimeError("GET /metrics with %r: Content-Type %r" % (headers, got))
    return body


def counted(conn):
    for line in get(conn, {}).decode().splitlines():
        if line.startswith('llm_log_exporter_lines_total{') and 'result="request"' in line:
            return float(line.rpartition(" ")[2])
    return 0.0


def run(exe, n, scrapes, exemplars):
    with tempfile.TemporaryDirectory(prefix="lle-scrape-formats-") as tmp:
        path = os.path.join(tmp, "c.yaml")
        with open(path, "w") as f:
            f.write(config(n))
        daemon = Daemon(exe, ["--config.file", path, "--store.max-bytes", str(1 << 31)])
        try:
            a, b = shape(n)
            n = a * b
            # Trace ids as tracers make them: 128 random bits (which gzip
            # cannot shrink, unlike sequential numbers); the same every run.
            ids = random.Random(n)
            trace = ',"trace_id":"%032x"' if exemplars else ""
            lines = "".join(('{"a":"a%d","b":"b%d"' + trace + '}\n')
                            % ((i // b, i % b, ids.getrandbits(128)) if exemplars
                               else (i // b, i % b))
                            for i in range(n))
            daemon.proc.stdin.write(lines.encode())
            daemon.proc.stdin.flush()
            def connect():
                return http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)

            # A new connection per poll: an idle keep-alive connection is
            # closed after civetweb's keep_alive_timeout_ms (500 ms), maybe
            # just as the next poll is sent.
            deadline = time.monotonic() + 240
            while counted(connect()) < n:
                if time.monotonic() > deadline or daemon.proc.poll() is not None:
                    raise RuntimeError("the daemon counted %d of %d lines in time (exit code %s): %r"
                                       % (counted(connect()) if daemon.proc.poll() is None else -1,
                                          n, daemon.proc.poll(),
                                          b"".join(daemon.stderr_lines[-3:])))
                time.sleep(0.5)  # polling with a deadline; a scrape holds the store a while
            conn = connect()  # the timed scrapes follow one another: kept alive
            for name, headers, content_type in FORMATS:
                # Warm, and the right format: the first scrape of a format is untimed.
                size = len(get(conn, headers, content_type))
                times = []
                for _ in range(scrapes):
                    t0 = time.perf_counter()
                    get(conn, headers)
                    times.append((time.perf_counter() - t0) * 1000)
                median = statistics.median(times)
                print("series=%d format=%s ms_median=%.2f ms_best=%.2f us_per_series=%.3f "
                      "bytes=%d" % (n, name, median, min(times), median * 1000 / n, size),
                      flush=True)
            conn.close()
        finally:
            daemon.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--series", default="10000,100000")
    ap.add_argument("--scrapes", type=int, default=20)
    ap.add_argument("--no-exemplars", action="store_true")
    args = ap.parse_args()
    for n in (int(x) for x in args.series.split(",")):
        run(args.exe, n, args.scrapes, not args.no_exemplars)


if __name__ == "__main__":
    main()
