#!/usr/bin/env python3
"""Memory of the daemon under parallel gzip bombs on the ingest endpoint.

Starts BINARY on 127.0.0.1:0 with --ingest.enable (and any EXTRA flags),
posts ROUNDS rounds of PARALLEL gzip bombs at once (each about 64 KB of gzip
inflating to 64 MiB), and prints the answers and the daemon's VmRSS and VmHWM
(/proc/PID/status) before, after each round, and a second later.

    bench/ingest_memory.py build/llm_log_exporter [--parallel 8] [--rounds 3] [-- EXTRA...]

Figures, not a test: issue 17 item 4 measured 251 MiB after 8 parallel bombs
with the 256Mi limit of deploy/; the budget (--ingest.memory-budget-bytes,
64 MiB by default) bounds it now.
"""
import argparse
import collections
import http.client
import re
import subprocess
import sys
import threading
import time
import zlib


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def memory(pid):
    return f"VmRSS {status_kib(pid, 'VmRSS') // 1024} MiB, VmHWM {status_kib(pid, 'VmHWM') // 1024} MiB"


def bomb(inflated_mib):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    out = b"".join(z.compress(chunk) for _ in range(inflated_mib))
    return out + z.flush()


def post(port, body, answers, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/api/v1/logs", body,
                     {"Content-Type": "text/plain", "Content-Encoding": "gzip"})
        status = conn.getresponse().status
    except OSError as e:
        status = type(e).__name__
    with lock:
        answers[status] += 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inflated-mib", type=int, default=64)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    daemon = subprocess.Popen(
        [args.binary, "--web.listen-address=127.0.0.1:0", "--ingest.enable"] + args.extra,
        stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in daemon.stderr:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit("the daemon did not start")
        body = bomb(args.inflated_mib)
        print(f"bomb: {len(body)} bytes of gzip, {args.inflated_mib} MiB inflated; "
              f"{args.parallel} at once, {args.rounds} rounds")
        print(f"before:        {memory(daemon.pid)}")
        answers = collections.Counter()
        lock = threading.Lock()
        for r in range(args.rounds):
            threads = [threading.Thread(target=post, args=(port, body, answers, lock))
                       for _ in range(args.parallel)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            print(f"after round {r + 1}: {memory(daemon.pid)}")
        time.sleep(1)
        print(f"1 s later:     {memory(daemon.pid)}")
        print("answers:", dict(sorted(answers.items(), key=str)))
    finally:
        daemon.terminate()
        daemon.wait()


if __name__ == "__main__":
    main()
