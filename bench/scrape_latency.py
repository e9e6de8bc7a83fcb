#!/usr/bin/python3
"""Daemon-mode measurements of llm_log_exporter over real HTTP on 127.0.0.1.

usage:
  scrape_latency.py ingest --exe EXE --log LOG [--once-prom FILE]
                           [--final-prom FILE] [--interval 0.1] [--timeout 300] [--daemon-args ARGS]
                           [--copies N]
  scrape_latency.py freshness --exe EXE [--rate 1000] [--seconds 3] [--daemon-args ARGS]
  scrape_latency.py poll ...      (internal: the freshness poller process; also bench/low_rate.py's)

Prints its results as key=value lines on stdout (for run.sh) and progress on
stderr. Standard library only; every loop is bounded in time.

ingest:    `cat LOG` into the daemon's stdin as fast as the pipe takes it, while a
           scraper gets /metrics every --interval s and times each scrape. Like
           Prometheus, the scraper keeps one keep-alive connection, and is
           connected (first scrape done) before the input starts. The run
           ends when llm_log_exporter_lines_total (all results summed) reaches the
           number of lines in LOG. Then the final exposition is compared with
           `--once` output (which bench/peers.sh compares with the original
           Python exporter and mtail). LLE_SCRAPES=1 logs every scrape's latency.
freshness: a writer puts one request line into the daemon's stdin every 1/rate s
           and records when; a separate poller process scrapes back to back and
           records (start, end, requests counted). Line i's visibility latency is
           taken as end(first scrape counting >= i) - write time(i): an upper
           bound, above the truth by at most one scrape round-trip. Both
           processes use CLOCK_MONOTONIC (time.monotonic), which is system-wide.
"""
import argparse
import http.client
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

PY = "/usr/bin/python3"
LISTEN_RE = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")
REQUEST_LINE = ('{"timestamp":"2025-04-05T10:23:45Z","request_id":"req_%09d","method":"POST",'
                '"path":"/v1/chat/completions","input_tokens":1240,"output_tokens":320,'
                '"total_time_ms":1876,"queue_time_ms":120,"inference_time_ms":1756,'
                '"gpu_memory_mb":18432,"status":"success"}\n')


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))]


class Daemon:
    """The exporter as a child process with its stdin a pipe we own; stderr is
    drained by a thread (so it never blocks the daemon) and searched for the port."""

    def __init__(self, exe, args=(), start_timeout=10.0):
        self.proc = subprocess.Popen(
            [exe, "--web.listen-address=127.0.0.1:0", *args], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr_lines = []
        self.port = None
        self._found = threading.Event()
        threading.Thread(target=self._pump, daemon=True).start()
        if not self._found.wait(start_timeout) or self.port is None:
            self.stop()
            raise RuntimeError("daemon did not log 'listening on 127.0.0.1:PORT' within %gs; "
                               "stderr: %r" % (start_timeout, b"".join(self.stderr_lines[-5:])))

    def _pump(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            m = LISTEN_RE.search(line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._found.set()
        self._found.set()  # EOF: the daemon is gone

    def peak_rss_mib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            pass
        return float("nan")

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after `timeout`; returns (exit code, seconds to exit)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is not None:
            return self.proc.returncode, 0.0
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(5)
        return code, time.monotonic() - t0


def scrape(port, timeout=5.0, path="/metrics"):
    """One GET `path` on a new connection; returns the body as text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError("GET %s: HTTP %d" % (path, resp.status))
        return body.decode("utf-8")
    finally:
        conn.close()


def warm_client(port):
    """The first request of this process pays for http.client's lazy imports
    (~3 ms): made untimed, on /-/healthy, so that no scrape is measured with it."""
    scrape(port, path="/-/healthy")


def samples(text):
    """{'name{labels}': 'value'} of an exposition (HELP/TYPE lines skipped)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = value
    return out


def lines_total(text, result=None):
    total = 0.0
    for key, value in samples(text).items():
        if key.startswith("llm_log_exporter_lines_total{") and (
                result is None or ('result="%s"' % result) in key):
            total += float(value)
    return int(total)


def compare_with_once(daemon_text, once_text):
    """Differences between two expositions of the same input: the line-time gauge
    is expected to differ, host metrics are the daemon's only, and _sum may
    differ in the last bits when shards add in another order."""
    a, b = samples(daemon_text), samples(once_text)
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key.startswith("qwen_last_request_timestamp_seconds"):
            continue
        # Host metrics exist in the daemon only (--once describes the log alone).
        if key.startswith(("process_", "nvml_", "llm_log_exporter_nvml_")):
            continue
        if key not in a or key not in b:
            diffs.append("%s: daemon %s, --once %s" % (key, a.get(key), b.get(key)))
            continue
        x, y = float(a[key]), float(b[key])
        name = key.split("{", 1)[0]
        tol = 1e-9 * max(abs(x), abs(y)) if name.endswith("_sum") else 0.0
        if abs(x - y) > tol:
            diffs.append("%s: daemon %s, --once %s" % (key, a[key], b[key]))
    return len(set(a) | set(b)), diffs


def count_lines(path):
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 22)
            if not block:
                break
            n += block.count(b"\n")
            last = block[-1:]
    return n + (0 if last == b"\n" else 1)


# ---------------------------------------------------------------------------

def cmd_ingest(a):
    n = count_lines(a.log) * a.copies
    d = Daemon(a.exe, shlex.split(a.daemon_args))
    out = {"daemon_port": d.port}
    try:
        stop = threading.Event()
        latencies, errors = [], []
        deadline = time.monotonic() + a.timeout

        def scraper():
            # Like Prometheus: a fixed period (the next scrape is due `interval`
            # after the previous one was due, not after it ended), on one
            # keep-alive connection (opened anew only after an error).
            due = time.monotonic()
            conn = None
            while not stop.is_set() and time.monotonic() < deadline:
                t = time.monotonic()
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5.0)
                    conn.request("GET", "/metrics")
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 200:
                        raise RuntimeError("GET /metrics: HTTP %d" % resp.status)
                    latencies.append(time.monotonic() - t)
                    connected.set()
                except Exception as e:  # counted, reported; the run goes on
                    errors.append(str(e))
                    if conn is not None:
                        conn.close()
                    conn = None
                due += a.interval
                stop.wait(max(0.0, due - time.monotonic()))
            if conn is not None:
                conn.close()

        warm_client(d.port)
        # As in production, the burst finds Prometheus connected already: the
        # input starts once the first scrape is in.
        connected = threading.Event()
        th = threading.Thread(target=scraper)
        th.start()
        connected.wait(5)
        t0 = time.monotonic()
        cat = subprocess.Popen(["cat"] + [a.log] * a.copies, stdout=d.proc.stdin)
        d.proc.stdin.close()  # the daemon's only writer is now cat: EOF when it ends
        try:
            cat.wait(max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            cat.kill()
            cat.wait()
        t_cat = time.monotonic() - t0
        # cat ends once the pipe has taken its last byte; from there, poll every
        # ~1 ms to pin when the last line is counted (the 100 ms scraper is too coarse).
        counted, polls = -1, 0
        while time.monotonic() < deadline:
            counted = lines_total(scrape(d.port))
            polls += 1
            if counted >= n:
                break
            time.sleep(0.001)
        t_done = time.monotonic() - t0
        stop.set()
        th.join(10)
        if counted != n:
            log("ingest: counted %d of %d lines before the %gs timeout" % (counted, n, a.timeout))
        final = scrape(d.port)
        dropped = lines_total(final, "dropped")
        if a.final_prom:
            with open(a.final_prom, "w") as f:
                f.write(final)
        out.update({
            "lines": n, "counted": counted, "complete": int(counted == n),
            "dropped": dropped,
            "seconds": "%.3f" % t_done, "cat_seconds": "%.3f" % t_cat,
            "lines_per_s": "%.0f" % (n / t_done),
            "parsed_lines_per_s": "%.0f" % ((n - dropped) / t_done),
            "scrapes": len(latencies), "scrape_errors": len(errors), "end_polls": polls,
            "scrape_p50_ms": "%.2f" % (1e3 * percentile(latencies, 50)) if latencies else "nan",
            "scrape_p99_ms": "%.2f" % (1e3 * percentile(latencies, 99)) if latencies else "nan",
            "scrape_max_ms": "%.2f" % (1e3 * max(latencies)) if latencies else "nan",
            "exposition_bytes": len(final.encode()),
        })
        if errors:
            log("ingest: %d scrape errors, first: %s" % (len(errors), errors[0]))
        if os.environ.get("LLE_SCRAPES"):
            log("scrapes ms: " + " ".join("%.1f" % (1e3 * x) for x in latencies))
        if a.once_prom:
            with open(a.once_prom) as f:
                total, diffs = compare_with_once(final, f.read())
            out["vs_once"] = "EQUAL" if not diffs else "DIFF"
            out["vs_once_samples"] = total
            out["vs_once_diffs"] = len(diffs)
            for line in diffs[:5]:
                log("vs --once: " + line)
        out["peak_rss_mib"] = "%.1f" % d.peak_rss_mib()
    finally:
        code, secs = d.stop()
    out["exit_code"] = code
    out["stop_seconds"] = "%.3f" % secs
    for k, v in out.items():
        print("%s=%s" % (k, v))
    return 0


def visibility(writes, scrapes, counted_before=0):
    """Seconds from each write (monotonic times, in order) to the end of the
    first scrape (start, end, count) counting it; lines never counted are left
    out. `counted_before`: the count before the first write."""
    lat, k = [], 0
    for i, w in enumerate(writes, start=counted_before + 1):
        while k < len(scrapes) and scrapes[k][2] < i:
            k += 1
        if k == len(scrapes):
            break
        lat.append(scrapes[k][1] - w)
    return lat


def read_polls(path):
    """The (start, end, count) records a `poll` process wrote to `path`, which is removed."""
    scrapes = []
    with open(path) as f:
        for line in f:
            s, e, c = line.split()
            scrapes.append((float(s), float(e), int(c)))
    os.unlink(path)
    return scrapes


def counted(text, metric=None):
    """Requests counted: llm_log_exporter_lines_total{result="request"}, or the
    sum of `metric`'s samples (e.g. qwen_requests_total, which the original
    Python exporter has too)."""
    if metric is None:
        return lines_total(text, "request")
    return int(sum(float(v) for k, v in samples(text).items()
                   if k == metric or k.startswith(metric + "{")))


def cmd_freshness(a):
    total = int(a.rate * a.seconds)
    period = 1.0 / a.rate
    d = Daemon(a.exe, shlex.split(a.daemon_args))
    out = {}
    poller = None
    try:
        fd_rec, rec = tempfile.mkstemp(prefix="lle_fresh.", suffix=".txt")
        os.close(fd_rec)
        poller = subprocess.Popen(
            [PY, os.path.abspath(__file__), "poll", "--port", str(d.port), "--until", str(total),
             "--seconds", str(a.seconds + 10), "--out", rec], stdout=subprocess.PIPE, text=True)
        poller.stdout.readline()  # "ready" after its first scrape (or EOF if it died)
        fd = d.proc.stdin.fileno()
        writes = []
        t0 = time.monotonic()
        for i in range(total):
            # Absolute schedule, so a late wake-up does not shift all later lines.
            delay = t0 + i * period - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            writes.append(time.monotonic())  # before write(2): the line's age includes it
            os.write(fd, (REQUEST_LINE % i).encode())
        write_seconds = time.monotonic() - t0
        try:
            poller.wait(a.seconds + 15)
        except subprocess.TimeoutExpired:
            poller.kill()
            poller.wait()
        scrapes = read_polls(rec)
        lat = visibility(writes, scrapes)
        durations = [e - s for s, e, _ in scrapes]
        # The other view asked for: at each scrape, lines written before it
        # started but not yet counted (a backlog of 0 or 1 means "immediately").
        backlog, j = [], 0
        for s, _, c in scrapes:
            while j < len(writes) and writes[j] < s:
                j += 1
            backlog.append(max(0, j - c))
        out.update({
            "lines_written": total, "write_seconds": "%.3f" % write_seconds,
            "lines_seen": len(lat), "scrapes": len(scrapes),
            "scrape_p50_ms": "%.2f" % (1e3 * percentile(durations, 50)) if durations else "nan",
            "visible_p50_ms": "%.2f" % (1e3 * percentile(lat, 50)) if lat else "nan",
            "visible_p99_ms": "%.2f" % (1e3 * percentile(lat, 99)) if lat else "nan",
            "visible_max_ms": "%.2f" % (1e3 * max(lat)) if lat else "nan",
            "backlog_p50": percentile(backlog, 50) if backlog else "nan",
            "backlog_max": max(backlog) if backlog else "nan",
        })
    finally:
        if poller and poller.poll() is None:
            poller.kill()
            poller.wait()
        code, secs = d.stop()
    out["exit_code"] = code
    for k, v in out.items():
        print("%s=%s" % (k, v))
    return 0 if out.get("lines_seen") == total else 1


def cmd_poll(a):
    """Scrapes back to back until `until` requests are counted or time is up;
    writes 'start end count' per scrape."""
    recs = []
    deadline = time.monotonic() + a.seconds
    ready = False
    warm_client(a.port)
    while time.monotonic() < deadline:
        s = time.monotonic()
        try:
            c = counted(scrape(a.port), a.metric)
        except Exception:
            time.sleep(0.01)  # the daemon may be busy or going: retry, bounded by deadline
            continue
        recs.append((s, time.monotonic(), c))
        if not ready:
            print("ready", flush=True)
            ready = True
        if c >= a.until:
            break
    with open(a.out, "w") as f:
        for r in recs:
            f.write("%.6f %.6f %d\n" % r)
    return 0


def main():
    # SIGTERM (run.sh's trap) must run the `finally` blocks that stop the daemon.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ingest")
    p.add_argument("--exe", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--once-prom")
    p.add_argument("--final-prom")
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--daemon-args", default="", help="extra flags for the daemon")
    p.add_argument("--copies", type=int, default=1,
                   help="feed LOG this many times (a longer run: more scrapes under load);"
                        " compare with --once-prom only with 1")
    p = sub.add_parser("freshness")
    p.add_argument("--exe", required=True)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--daemon-args", default="", help="extra flags for the daemon")
    p = sub.add_parser("poll")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--until", type=int, required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--metric", help="count the samples of this metric, not lines_total's requests")
    a = ap.parse_args()
    return {"ingest": cmd_ingest, "freshness": cmd_freshness, "poll": cmd_poll}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
