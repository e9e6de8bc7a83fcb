#!/usr/bin/python3
"""CPU per line and freshness at the rates servers really log (issue 21).

usage: low_rate.py [--exe build/llm_log_exporter] [--rates 100,1000,10000]
                   [--seconds 3] [--fresh-seconds 3] [--inputs stdin,file]
                   [--no-original] [--daemon-args ARGS]

For each input (stdin: a pipe; file: a file followed with --input.file) and
each rate, a fresh exporter with default flags is fed one request line per
write(2), on an absolute schedule, and measured twice:
  cpu:   nothing scrapes it while `--seconds` of lines are written; CPU is the
         sum over all its threads of /proc/PID/task/*/schedstat (time on CPU)
         from before the first write to 0.2 s after the last, divided by the
         lines written (then every line is checked to have been counted);
         wake-ups/line likewise from schedstat's count of times scheduled in;
  fresh: `--fresh-seconds` more lines while a separate process scrapes
         /metrics back to back (scrape_latency.py poll): a line's freshness is
         the end of the first scrape counting it minus its write time (an upper
         bound, by at most one scrape).
The original Python exporter (bench/original_exporter.py, stdin only) is
measured the same way; for a file it reads `tail -F -n0 FILE`, and the CPU of
tail is counted with it. Prints a Markdown table on stdout, progress on stderr.
Also prints what a bare wake-up costs here (a thread of this script that only
sleeps 25 ms at a time): the floor under any figure above 0 wake-ups per line.
Standard library only; every wait is bounded.
"""
import argparse
import glob
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

import scrape_latency as sl

HERE = os.path.dirname(os.path.abspath(__file__))
ORIGINAL = os.path.join(HERE, "original_exporter.py")
METRIC = "qwen_requests_total"  # counted by both exporters for each request line


def cpu_ns(pids):
    """(time on CPU in ns, times scheduled in: wake-ups) so far, summed over
    every thread of `pids`."""
    ns = runs = 0
    for pid in pids:
        for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
            try:
                with open(path) as f:
                    fields = f.read().split()
                ns, runs = ns + int(fields[0]), runs + int(fields[2])
            except (OSError, ValueError, IndexError):
                pass  # a thread that just ended
    return ns, runs


def wake_floor(period=0.025, wakes=80):
    """CPU µs per wake-up of a thread that only sleeps `period` at a time:
    what a wake-up costs on this machine before any work."""
    def stat():
        with open("/proc/thread-self/schedstat") as f:
            fields = f.read().split()
        return int(fields[0]), int(fields[2])
    before = stat()
    for _ in range(wakes):
        time.sleep(period)
    after = stat()
    return (after[0] - before[0]) / 1e3 / max(1, after[1] - before[1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Subject:
    """One exporter under test: its processes, its port, and where lines go."""

    def __init__(self, kind, input_kind, exe, daemon_args):
        self.procs, self.daemon = [], None
        self.path = None
        if input_kind == "file":
            fd, self.path = tempfile.mkstemp(prefix="lle_low_rate.", suffix=".log")
            os.close(fd)
        if kind == "exporter":
            args = list(daemon_args) + (["--input.file=" + self.path] if self.path else [])
            self.daemon = sl.Daemon(exe, args)
            self.port = self.daemon.port
            self.pids = [self.daemon.proc.pid]
            self.out = self.daemon.proc.stdin.fileno()
        else:
            self.port = free_port()
            src = None
            if self.path:
                tail = subprocess.Popen(["tail", "-F", "-n0", self.path], stdout=subprocess.PIPE)
                self.procs.append(tail)
                src = tail.stdout
            py = subprocess.Popen([sl.PY, ORIGINAL, "--port", str(self.port)],
                                  stdin=src if src else subprocess.PIPE,
                                  stdout=subprocess.DEVNULL)
            self.procs.append(py)
            self.pids = [p.pid for p in self.procs]
            self.out = None if src else py.stdin.fileno()
            deadline = time.monotonic() + 10
            while True:
                try:
                    sl.scrape(self.port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        if self.path:
            self.out = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        sl.warm_client(self.port)

    def counted(self):
        return sl.counted(sl.scrape(self.port), METRIC)

    def wait_counted(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        c = self.counted()
        while c < n and time.monotonic() < deadline:
            time.sleep(0.01)
            c = self.counted()
        return c

    def stop(self):
        if self.daemon:
            self.daemon.stop()
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.path:
            os.close(self.out)
            os.unlink(self.path)


def write_lines(fd, first, n, rate):
    """Writes request lines first..first+n-1, one write(2) each, `rate` per
    second on an absolute schedule; returns each write's monotonic time."""
    writes, period = [], 1.0 / rate
    t0 = time.monotonic()
    for i in range(n):
        delay = t0 + i * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        writes.append(time.monotonic())
        os.write(fd, (sl.REQUEST_LINE % (first + i)).encode())
    return writes


def measure(subject, rate, seconds, fresh_seconds):
    """{'cpu_us': CPU µs per line, 'wakes': threads scheduled in per line, 'p50_ms', 'p99_ms':
    freshness, 'lost': lines never counted}."""
    warm = 20
    write_lines(subject.out, 0, warm, 100)
    if subject.wait_counted(warm) < warm:
        raise RuntimeError("the warm-up lines were not counted")
    time.sleep(0.5)
    n = int(rate * seconds)
    before = cpu_ns(subject.pids)
    write_lines(subject.out, warm, n, rate)
    time.sleep(0.2)
    after = cpu_ns(subject.pids)
    base = subject.wait_counted(warm + n)
    out = {"cpu_us": (after[0] - before[0]) / 1e3 / n, "wakes": (after[1] - before[1]) / n,
           "lost": warm + n - base}
    m = int(rate * fresh_seconds)
    fd, rec = tempfile.mkstemp(prefix="lle_low_rate_polls.", suffix=".txt")
    os.close(fd)
    poller = subprocess.Popen(
        [sl.PY, os.path.join(HERE, "scrape_latency.py"), "poll", "--port", str(subject.port),
         "--until", str(base + m), "--seconds", str(fresh_seconds + 10), "--out", rec,
         "--metric", METRIC], stdout=subprocess.PIPE, text=True)
    try:
        poller.stdout.readline()  # "ready" after its first scrape
        writes = write_lines(subject.out, warm + n, m, rate)
        poller.wait(fresh_seconds + 15)
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    lat = sl.visibility(writes, sl.read_polls(rec), counted_before=base)
    out["lost"] += m - len(lat)
    out["p50_ms"] = 1e3 * sl.percentile(lat, 50) if lat else float("nan")
    out["p99_ms"] = 1e3 * sl.percentile(lat, 99) if lat else float("nan")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--exe", default=os.path.join(HERE, "..", "build", "llm_log_exporter"))
    ap.add_argument("--rates", default="100,1000,10000")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--fresh-seconds", type=float, default=3)
    ap.add_argument("--inputs", default="stdin,file")
    ap.add_argument("--no-original", action="store_true")
    ap.add_argument("--daemon-args", default="", help="extra flags for the exporter")
    a = ap.parse_args()
    kinds = ["exporter"] + ([] if a.no_original else ["original"])
    rows = []
    for input_kind in a.inputs.split(","):
        for rate in (float(r) for r in a.rates.split(",")):
            row = {}
            for kind in kinds:
                sl.log("%s, %s, %g lines/s" % (kind, input_kind, rate))
                subject = Subject(kind, input_kind, a.exe, shlex.split(a.daemon_args))
                try:
                    row[kind] = measure(subject, rate, a.seconds, a.fresh_seconds)
                finally:
                    subject.stop()
                sl.log("  %r" % row[kind])
            rows.append((input_kind, rate, row))
    head = "| input | lines/s | exporter CPU µs/line | wake-ups/line | exporter fresh p50 / p99 ms |"
    rule = "|---|---:|---:|---:|---:|"
    if "original" in kinds:
        head += " original CPU µs/line | original fresh p50 / p99 ms |"
        rule += "---:|---:|"
    print("A thread that only sleeps 25 ms at a time costs %.0f µs of CPU per wake-up here.\n"
          % wake_floor())
    print(head)
    print(rule)
    for input_kind, rate, row in rows:
        cells = [input_kind, "{:,.0f}".format(rate)]
        for kind in kinds:
            r = row[kind]
            cells.append("%.1f" % r["cpu_us"] + (" (%d lost)" % r["lost"] if r["lost"] else ""))
            if kind == "exporter":
                cells.append("%.2f" % r["wakes"])
            cells.append("%.1f / %.1f" % (r["p50_ms"], r["p99_ms"]))
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
