#!/usr/bin/python3
"""HTTP ingest throughput: post a log file to a running exporter in NDJSON
batches over keep-alive connections, as Fluent Bit's `http` output would.

usage: ingest_load.py --port PORT --log LOG [--batch 1000] [--connections 4]
                      [--path /api/v1/logs] [--gzip]

Reads LOG into memory first (so the disk is not measured), cuts it into batches
of --batch lines, and posts them from --connections threads (one keep-alive
connection each), retrying a 429 after its Retry-After like Fluent Bit. Prints
lines/s and MB/s over the posting time, and the answer codes. Exit 1 if any
batch was finally refused. Standard library only; loopback only.
"""
import argparse
import gzip
import http.client
import queue
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--path", default="/api/v1/logs")
    ap.add_argument("--gzip", action="store_true")
    a = ap.parse_args()

    with open(a.log, "rb") as f:
        lines = f.read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    bodies = queue.Queue()
    for i in range(0, len(lines), a.batch):
        body = b"\n".join(lines[i:i + a.batch]) + b"\n"
        bodies.put(gzip.compress(body, 1) if a.gzip else body)
    total_bytes = sum(len(x) + 1 for x in lines)
    codes = {}
    lock = threading.Lock()
    failed = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30)
        headers = {"Content-Type": "application/x-ndjson"}
        if a.gzip:
            headers["Content-Encoding"] = "gzip"
        while True:
            try:
                body = bodies.get_nowait()
            except queue.Empty:
                return
            for _attempt in range(100):  # bounded retries
                conn.request("POST", a.path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                with lock:
                    codes[r.status] = codes.get(r.status, 0) + 1
                if r.status != 429:
                    break
                time.sleep(min(float(r.getheader("Retry-After", "1")), 1.0) / 100)
            if r.status >= 300:
                failed.append(r.status)

    threads = [threading.Thread(target=worker) for _ in range(a.connections)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - start
    print("lines=%d seconds=%.3f lines_per_s=%.0f MB_per_s=%.1f codes=%s" %
          (len(lines), took, len(lines) / took, total_bytes / took / 1e6,
           ",".join("%d:%d" % kv for kv in sorted(codes.items()))))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
