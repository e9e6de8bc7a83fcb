#!/usr/bin/python3
"""Lines/s from a Redis stream or list (issue 19), and the lag at a steady rate.

usage: redis_speed.py [--build build] [--lines 1000000] [--kinds stream,list]
                      [--rate 20000] [--rate-seconds 5] [--unix]

For each kind, a fresh redis-server (on a free port, no persistence) is
filled with LINES request lines of `lle_sample_log LINES 42` (one entry each,
in the `message` field for a stream), through `redis-cli --pipe`; then the
exporter (`--input.redis.url`, default flags otherwise) is started and timed
from its start to the scrape at which `llm_log_exporter_lines_total` for the
input reaches LINES (scrapes every 20 ms): lines/s is LINES / that time, start-up
included. Its `qwen_requests_total` must then equal `--once`'s on the same
lines, by status, and the stream's pending entries be 0 (every entry
acknowledged) or the list and its processing list empty. CPU seconds of the
exporter and of redis-server over that time come from /proc/PID/stat.

Then, with the exporter still running, a writer adds lines at `--rate` lines/s
for `--rate-seconds` (XADD or RPUSH in batches every 10 ms, on an absolute
schedule), and the lag is sampled every 50 ms: the lines written minus the
lines counted, as /metrics shows them (p50, p99, max, in lines and in ms at
that rate).

With --unix, the exporter and the writers reach Redis over a unix socket
instead of TCP on 127.0.0.1.

Prints a Markdown table on stdout, progress on stderr. Standard library only;
every wait is bounded.
"""
import argparse
import os
import socket
import subprocess
import tempfile
import time

from queue_bench import (build_dir, check_reference, cpu_seconds, lines_counted,
                         sample_and_reference, say, scrape, steady_lag)

# The `source` label of this input's lines.
SOURCES = ("redis://", "unix://")



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def where(port):
    """redis-cli's flags for the server: a TCP port, or a unix socket's path."""
    return ["-s", port] if isinstance(port, str) else ["-p", str(port)]


def redis_cli(port, *args):
    return subprocess.run(["redis-cli", *where(port), *map(str, args)], check=True,
                          capture_output=True, text=True, timeout=60).stdout.strip()


def fill(port, kind, key, lines):
    """Writes `lines` through redis-cli --pipe (one entry per line)."""
    payload = b"".join(
        resp("XADD", key, "*", "message", line) if kind == "stream" else resp("RPUSH", key, line)
        for line in lines)
    out = subprocess.run(["redis-cli", *where(port), "--pipe"], input=payload, check=True,
                         capture_output=True, timeout=300).stdout.decode()
    if "errors: 0" not in out:
        raise SystemExit("redis-cli --pipe: " + out)


def wait_started(proc, deadline):
    """The port from the exporter's `listening on` log line."""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("exporter exited: " + (proc.stderr.read() or ""))
        if "listening on 127.0.0.1:" in line:
            return int(line.split("listening on 127.0.0.1:")[1].split()[0].rstrip(")"))
    raise SystemExit("exporter did not start")


def run_kind(args, kind, lines, expected):
    with tempfile.TemporaryDirectory() as tmp:
        tcp_port = free_port()
        rport = os.path.join(tmp, "redis.sock") if args.unix else tcp_port
        redis = subprocess.Popen(["redis-server", "--port", str(tcp_port), "--bind", "127.0.0.1",
                                  "--unixsocket", os.path.join(tmp, "redis.sock"),
                                  "--save", "", "--appendonly", "no", "--dir", tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        exporter = None
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if redis_cli(rport, "PING") == "PONG":
                        break
                except subprocess.CalledProcessError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not start")
                time.sleep(0.05)
            key = "llm-logs"
            say(kind, ": filling", len(lines), "entries")
            t0 = time.monotonic()
            if kind == "stream":
                redis_cli(rport, "XGROUP", "CREATE", key, "llm_log_exporter", "$", "MKSTREAM")
            fill(rport, kind, key, lines)
            say(kind, ": filled in %.1f s" % (time.monotonic() - t0))
            flag = "--input.redis.stream" if kind == "stream" else "--input.redis.list"
            exe = os.path.join(args.build, "llm_log_exporter")
            cpu_redis0 = cpu_seconds(redis.pid)
            start = time.monotonic()
            exporter = subprocess.Popen(
                [exe, "--web.listen-address=127.0.0.1:0",
                 "--input.redis.url=" + ("unix://" + rport if args.unix else
                                         "redis://127.0.0.1:%d" % rport),
                 "%s=%s" % (flag, key),
                 "--input.redis.consumer=bench"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                text=True)
            port = wait_started(exporter, start + 10)
            deadline = start + 300
            while True:
                text = scrape(port)
                if lines_counted(text, SOURCES) >= len(lines):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("%s: only %d of %d lines after 300 s" %
                                     (kind, lines_counted(text, SOURCES), len(lines)))
                time.sleep(0.02)
            seconds = time.monotonic() - start
            # A scrape merges the self-metrics and the other series one after
            # the other: the last batch may land between the two. Every line
            # is applied now: check the next scrape.
            text = scrape(port)
            cpu_exporter = cpu_seconds(exporter.pid)
            cpu_redis = cpu_seconds(redis.pid) - cpu_redis0
            check_reference(text, expected, kind + ": ")
            deadline = time.monotonic() + 10
            while True:
                if kind == "stream":
                    left = int(redis_cli(rport, "XPENDING", key, "llm_log_exporter").split()[0])
                else:
                    left = int(redis_cli(rport, "LLEN", key)) + int(
                        redis_cli(rport, "LLEN", key + ":processing:bench"))
                if left == 0:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("%s: %d entries still not acknowledged" % (kind, left))
                time.sleep(0.02)
            # Steady rate.
            if args.unix:
                sock = socket.socket(socket.AF_UNIX)
                sock.connect(rport)
            else:
                sock = socket.create_connection(("127.0.0.1", rport))

            def send(batch):
                sock.sendall(b"".join(
                    resp("XADD", key, "*", "message", b) if kind == "stream" else
                    resp("RPUSH", key, b) for b in batch))

            steady = steady_lag(port, SOURCES, lines, args.rate, args.rate_seconds, send)
            sock.close()
            return {
                "seconds": seconds,
                "lines_per_s": len(lines) / seconds,
                "cpu_exporter": cpu_exporter,
                "cpu_redis": cpu_redis,
                **steady,
            }
        finally:
            if exporter is not None:
                exporter.terminate()
                try:
                    exporter.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    exporter.kill()
            redis.terminate()
            redis.wait(timeout=10)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--lines", type=int, default=1000000)
    p.add_argument("--kinds", default="stream,list")
    p.add_argument("--rate", type=int, default=20000)
    p.add_argument("--rate-seconds", type=float, default=5)
    p.add_argument("--unix", action="store_true",
                   help="the exporter and the writers reach Redis over a unix socket")
    args = p.parse_args()
    args.build = build_dir(args.build)
    sample, expected = sample_and_reference(args.build, args.lines)
    lines = sample.splitlines()
    rows = []
    for kind in args.kinds.split(","):
        r = run_kind(args, kind, lines, expected)
        say(kind, r)
        rows.append((kind, r))
    print("| Redis | lines | s (start-up included) | lines/s | CPU s exporter / redis-server | "
          "steady rate lines/s | lag p50 / p99 / max lines | lag p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, r in rows:
        print("| %s | {:,} | %.2f | {:,.0f} | %.2f / %.2f | {:,.0f} | %d / %d / %d | %.1f |".format(
            args.lines, r["lines_per_s"], r["rate"]) %
              (kind, r["seconds"], r["cpu_exporter"], r["cpu_redis"], r["lag_p50"], r["lag_p99"],
               r["lag_max"],
               1000.0 * r["lag_p99"] / r["rate"]))


if __name__ == "__main__":
    main()
