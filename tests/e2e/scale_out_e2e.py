#!/usr/bin/env python3
"""Scale-out end-to-end test: three exporters in one Redis consumer group
behind one real Prometheus add up to one exporter reading everything.

Run by ctest (tests/e2e/CMakeLists.txt, ScaleOutEndToEnd); by hand:

    python3 tests/e2e/scale_out_e2e.py --exporter build/llm_log_exporter \
        --prometheus /usr/bin/prometheus --promtool /usr/bin/promtool \
        --redis-server /usr/bin/redis-server --repo .

1. Starts its own redis-server on a free 127.0.0.1 port and creates two
   consumer groups on one stream, both from its start: `replicas` and
   `reference`.
2. Starts three exporters in group `replicas` (consumers replica-1..3) and
   one in group `reference` (reads every entry), all on 127.0.0.1:0.
3. Starts Prometheus (1 s intervals) scraping the three as job
   llm_log_exporter and the reference as job reference, with
   deploy/prometheus/recording_rules.yml loaded; waits for a first scrape of
   all four (every counter at 0).
4. Writes request lines (deterministic durations, tokens and statuses) in
   waves, one XADD each, waiting after each wave until both groups have
   counted it and Prometheus has scraped it; more waves until every replica
   has a share.
5. With XPENDING 0 in both groups, at one evaluation time T (pass as time=):
   requests by status and every latency bucket summed over the replicas equal
   the reference's and the values computed here, exactly; p50/p95/p99 of
   `sum by (le) (rate(..._bucket[1m]))` over the replicas are close to the
   reference's (RATE_TOLERANCE_LIVE); every recorded series of
   recording_rules.yml equals its expression evaluated at the sample's own
   timestamp, and the job: series of the two jobs agree as closely.
6. Stops the exporters (each exits 0 on SIGTERM) and, at a T and window
   where rate() extrapolates every target by the same factor (exact_rates),
   the replicas' summed rates by status and by `le`, and p50/p95/p99 from
   them, equal the reference's to 1e-9.

Every wait polls with a deadline; nothing sleeps a fixed time. All children
are stopped and the temporary directory removed on every exit path.
"""

import math
import os
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
import yaml  # noqa: E402  (Debian python3-yaml, as tests/deploy)

from prometheus_e2e import (Checks, Child, Deadline, NotYet, DURATION_BUCKETS, fail,  # noqa: E402
                            free_port, histogram_quantile, http_get, main, parse_exposition,
                            start_prometheus, wait_for, bucket_counts)

OVERALL_TIMEOUT_S = 60.0
STREAM = "llm-logs"
REPLICAS = 3
WAVE = 60            # entries per wave
MIN_WAVES = 4
MAX_WAVES = 12
JOB = "llm_log_exporter"
REF_JOB = "reference"
# rate() extrapolates each series to the ends of its window from its own
# scrape times (promql/functions.go, extrapolatedRate), so a sum of three
# targets' rates is not bit for bit the rate of a fourth target scraped at
# other instants.
# While the targets are scraped, each one's factor is 1 + (T - last scrape) /
# (last - first scrape): up to 1 s over the ~10 s of the test. A mix of
# statuses or buckets that differs between replicas can then move a ratio by
# up to that much. (The exact comparison, with equal factors, is below.)
RATE_TOLERANCE_LIVE = 0.15
STATUSES = ["success"] * 8 + ["error", "timeout"]
DURATIONS_MS = [250, 420, 640, 900, 1200, 1700, 2300, 3100, 4400, 7000, 12000, 26000]


def request(i):
    return {"request_id": "req_%06d" % i, "input_tokens": 100 + (i * 37) % 1900,
            "output_tokens": 10 + (i * 13) % 700,
            "total_time_ms": DURATIONS_MS[(i * 7) % len(DURATIONS_MS)] + i % 5,
            "status": STATUSES[(i * 3) % len(STATUSES)]}


# --------------------------------------------------------------- Redis (RESP)

class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            fail("redis error: %s" % rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        fail("redis: unexpected reply %r" % line)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()


def start_redis(args, tmp, deadline, children):
    for attempt in range(3):
        port = free_port()
        redis = Child("redis-server", [
            args.redis_server, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", tmp, "--logfile", os.path.join(tmp, "redis.log")])
        children.append(redis)

        def ready():
            if not redis.running():
                return "exited"
            try:
                r = Redis(port)
            except OSError:
                return None
            try:
                return r if r.call("PING") == "PONG" else None
            except OSError:
                r.close()
                return None

        state = wait_for(deadline, "redis-server PING on 127.0.0.1:%d" % port, ready)
        if state != "exited":
            return port, state
        print("redis-server exited on port %d (taken?); retrying" % port, flush=True)
    fail("redis-server would not start; see %s" % os.path.join(tmp, "redis.log"))


# --------------------------------------------------------------- the test

def start_exporter(args, children, deadline, url, group, consumer):
    child = Child("llm_log_exporter %s/%s" % (group, consumer), [
        args.exporter, "--web.listen-address=127.0.0.1:0", "--input.redis.url=" + url,
        "--input.redis.stream=" + STREAM, "--input.redis.group=" + group,
        "--input.redis.consumer=" + consumer], stdin=subprocess.DEVNULL)
    children.append(child)
    m = wait_for(deadline, "%s listening" % child.name,
                 lambda: child.find(r"listening on 127\.0\.0\.1:(\d+)"), [child])
    return child, int(m.group(1))


def lines_counted(port):
    status, body = http_get("http://127.0.0.1:%d/metrics" % port)
    if status != 200:
        raise NotYet("/metrics on %d: HTTP %d" % (port, status))
    m = parse_exposition(body.decode())
    return sum(v for k, v in m.items() if k.startswith("llm_log_exporter_lines_total{"))


def run(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    c = Checks()
    rules_path = os.path.join(args.repo, "deploy", "prometheus", "recording_rules.yml")
    with open(rules_path) as f:
        rules = [r for g in yaml.safe_load(f)["groups"] for r in g["rules"]]
    if not rules or any("record" not in r for r in rules):
        fail("%s: expected recording rules only" % rules_path)

    redis_port, r = start_redis(args, tmp, deadline, children)
    url = "redis://127.0.0.1:%d" % redis_port
    for group in ("replicas", REF_JOB):  # from the stream's start (0): no entry is missed
        r.call("XGROUP", "CREATE", STREAM, group, "0", "MKSTREAM")

    replicas = [start_exporter(args, children, deadline, url, "replicas", "replica-%d" % (n + 1))
                for n in range(REPLICAS)]
    reference = start_exporter(args, children, deadline, url, REF_JOB, "all")
    exporters = [ch for ch, _ in replicas] + [reference[0]]
    print("redis on %d; replicas on %s; reference on %d" % (
        redis_port, [p for _, p in replicas], reference[1]), flush=True)

    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["recording_rules.yml"],
        "scrape_configs": [
            {"job_name": JOB, "static_configs": [
                {"targets": ["127.0.0.1:%d" % p for _, p in replicas]}]},
            {"job_name": REF_JOB, "static_configs": [
                {"targets": ["127.0.0.1:%d" % reference[1]]}]},
        ]}
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        yaml.safe_dump(config, f)
    with open(rules_path) as src, open(os.path.join(tmp, "recording_rules.yml"), "w") as dst:
        dst.write(src.read())
    api, prom = start_prometheus(args, tmp, deadline, children, exporters)
    watched = exporters + [prom]
    # Two scrapes of each at 0 before the first line (see exact_rates).
    wait_for(deadline, "two scrapes of the four exporters",
             lambda: len(api.query("count_over_time(up[1m]) >= 2 and up == 1")) == REPLICAS + 1,
             watched)

    # Waves of request lines, until every replica has a share.
    written = 0
    waves = 0
    while True:
        for i in range(written, written + WAVE):
            line = json_line(request(i))
            r.call("XADD", STREAM, "*", "message", line)
        written += WAVE
        waves += 1
        wait_for(deadline, "both groups to count %d entries" % written,
                 lambda: sum(lines_counted(p) for _, p in replicas) == written
                 and lines_counted(reference[1]) == written, watched)
        wait_for(deadline, "Prometheus to scrape %d lines of each job" % written,
                 lambda: [v for _, v in api.query(
                     'sum by (job) (llm_log_exporter_lines_total)')] == [written] * 2,
                 watched)
        shares = [lines_counted(p) for _, p in replicas]
        print("wave %d: %d entries written; replica shares %s" % (waves, written, shares),
              flush=True)
        if waves >= MIN_WAVES and all(s > 0 for s in shares):
            break
        if waves >= MAX_WAVES:
            fail("after %d waves a replica still has no share: %s" % (waves, shares))

    for group in ("replicas", REF_JOB):
        summary = r.call("XPENDING", STREAM, group)
        c.equal("XPENDING %s %s (pending entries)" % (STREAM, group), summary[0], 0)
    r.close()

    requests = [request(i) for i in range(written)]
    # One evaluation time T for every query, after Prometheus has scraped the
    # last wave.
    t = time.time()
    # A target's scrapes are stored in order: once each has one stamped after
    # T, every sample up to T is there.
    wait_for(deadline, "a scrape of every target stamped after T",
             lambda: len(api.query("timestamp(up) > %.3f" % t)) == REPLICAS + 1, watched)

    def q(expr):
        return [(s["metric"], float(s["value"][1]))
            for s in api.get("/api/v1/query", query=expr, time="%.3f" % t)["result"]]

    # Each replica got a share; together they read everything once.
    per_instance = q('sum by (instance) (llm_log_exporter_lines_total{job="%s"})' % JOB)
    shares = sorted(v for _, v in per_instance)
    if len(per_instance) != REPLICAS or any(v <= 0 for v in shares):
        fail("lines per replica: %s, expected %d replicas with a share each"
             % (per_instance, REPLICAS))
    print("  ok  lines per replica: %s" % {m["instance"]: int(v) for m, v in per_instance},
          flush=True)
    c.equal("sum(llm_log_exporter_lines_total) of the replicas",
            q('sum(llm_log_exporter_lines_total{job="%s"})' % JOB)[0][1], float(written))
    c.equal("llm_log_exporter_lines_total of the reference",
            q('sum(llm_log_exporter_lines_total{job="%s"})' % REF_JOB)[0][1], float(written))

    # Requests by status: exact.
    want = {}
    for req in requests:
        want[req["status"]] = want.get(req["status"], 0) + 1
    for job in (JOB, REF_JOB):
        got = {m["status"]: v for m, v in
               q('sum by (status) (qwen_requests_total{job="%s"})' % job)}
        c.equal("sum by (status) (qwen_requests_total{job=%s})" % job, got,
                {s: float(n) for s, n in want.items()})

    # Buckets: exact.
    seconds = [req["total_time_ms"] / 1000.0 for req in requests]
    want_buckets = bucket_counts(seconds, DURATION_BUCKETS)
    for job in (JOB, REF_JOB):
        got = {m["le"]: v for m, v in
               q('sum by (le) (qwen_request_duration_seconds_bucket{job="%s"})' % job)}
        keys = sorted(got, key=float)
        c.equal("sum by (le) (qwen_request_duration_seconds_bucket{job=%s})" % job,
                [got[k] for k in keys], [float(n) for n in want_buckets])
    exact_q = histogram_quantile(0.99, DURATION_BUCKETS, want_buckets)
    for job in (JOB, REF_JOB):
        c.equal("histogram_quantile(0.99, sum by (le) (..._bucket{job=%s}))" % job,
                q('histogram_quantile(0.99, sum by (le) (qwen_request_duration_seconds_bucket'
                  '{job="%s"}))' % job)[0][1], exact_q)

    # Quantiles of the summed rates, at the same T.
    for quantile in (0.5, 0.95, 0.99):
        expr = ('histogram_quantile(%s, sum by (le) (rate(qwen_request_duration_seconds_bucket'
                '{job="%%s"}[1m])))' % quantile)
        rep, ref = q(expr % JOB)[0][1], q(expr % REF_JOB)[0][1]
        if not (math.isfinite(rep) and math.isfinite(ref)):
            fail("%s: replicas %r, reference %r: not finite" % (expr, rep, ref))
        diff = abs(rep - ref) / ref
        if diff > RATE_TOLERANCE_LIVE:
            fail("%s: replicas %r, reference %r differ by %.4f%% (> %.1f%%)"
                 % (expr % "*", rep, ref, 100 * diff, 100 * RATE_TOLERANCE_LIVE))
        print("  ok  p%g of summed rate[1m]: replicas %.6f, reference %.6f (%.4f%% apart; "
              "from the counts: %.6f)" % (100 * quantile, rep, ref, 100 * diff,
                                          histogram_quantile(quantile, DURATION_BUCKETS,
                                                             want_buckets)), flush=True)

    # Recorded series exist, equal their expression at the sample's own
    # timestamp (polled: a scrape stored after an evaluation but stamped
    # before it can make one evaluation differ), for both jobs.
    def recorded(rule):
        name = rule["record"]
        extra = rule.get("labels", {})
        sel = "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(extra.items())))
        res = api.get("/api/v1/query", query="timestamp(%s)" % sel)["result"]
        if not res:
            raise NotYet("%s: no series" % sel)
        ts = max(float(s["value"][1]) for s in res)
        at = "%.3f" % ts
        got = {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in
               api.get("/api/v1/query", query=sel, time=at)["result"]}
        raw = {}
        for s in api.get("/api/v1/query", query=rule["expr"], time=at)["result"]:
            m = dict(s["metric"], **extra)
            m["__name__"] = name
            raw[tuple(sorted(m.items()))] = float(s["value"][1])
        got_clean = {tuple(kv for kv in k if kv[0] != "__name__"): v for k, v in got.items()}
        raw_clean = {tuple(kv for kv in k if kv[0] != "__name__"): v for k, v in raw.items()}
        if set(got_clean) != set(raw_clean) or any(
                not (v == raw_clean[k] or (math.isnan(v) and math.isnan(raw_clean[k])))
                for k, v in got_clean.items()):
            raise NotYet("%s at %s: recorded %s, expression %s" % (sel, at, got_clean, raw_clean))
        jobs = {dict(k).get("job") for k in got_clean}
        if jobs != {JOB, REF_JOB}:
            raise NotYet("%s: jobs %s" % (sel, jobs))
        return got_clean

    for rule in rules:
        got = wait_for(deadline, "recorded %s to equal its expression" % rule["record"],
                       lambda: recorded(rule), watched)
        print("  ok  %s%s: %d series, equal to its expression" % (
            rule["record"], rule.get("labels", ""), len(got)), flush=True)

    # The job: ratios of both jobs, at T (rates themselves carry each
    # target's own extrapolation factor; ratios and quantiles cancel most of it).
    for name, tol in (("job:qwen_requests:error_ratio_rate5m", RATE_TOLERANCE_LIVE),
                      ("job:qwen_request_duration_seconds:histogram_quantile_rate5m",
                       RATE_TOLERANCE_LIVE)):
        by_job = {}
        for m, v in q(name):
            key = tuple(sorted((k, x) for k, x in m.items() if k not in ("job", "__name__")))
            by_job.setdefault(key, {})[m["job"]] = v
        for key, vals in sorted(by_job.items()):
            a, b = vals.get(JOB), vals.get(REF_JOB)
            if a is None or b is None or abs(a - b) > tol * abs(b):
                fail("%s%s: replicas %r, reference %r" % (name, dict(key), a, b))
        print("  ok  %s: replicas and reference agree for %s" % (
            name, ", ".join("%s %.4g/%.4g" % (dict(k), v[JOB], v[REF_JOB])
                            for k, v in sorted(by_job.items()))), flush=True)

    for child in exporters:
        code = child.stop()
        if code != 0:
            fail("%s exited %s on SIGTERM, expected 0" % (child.name, code))
    exact_rates(api, deadline, [prom])
    print("elapsed: %.1f s" % (OVERALL_TIMEOUT_S - deadline.left()), flush=True)


def exact_rates(api, deadline, watched):
    """With the exporters stopped, picks T and a window [T-R, T] in which
    rate() extrapolates every target by the same factor: each target's first
    sample in the window is 0 (so nothing is added before it), its last is
    over 1.1 intervals before T (so half an interval is added after it), and
    each has the same number n of samples: the factor is then
    1 + 1/(2 (n - 1)) for all (promql/functions.go, extrapolatedRate), and the
    replicas' summed rates must equal the reference's to float precision."""
    def all_failed():
        return len(api.query("up == 0")) == REPLICAS + 1

    wait_for(deadline, "a failed scrape of each stopped exporter", all_failed, watched)
    t = max(float(s["value"][1]) for s in
            api.get("/api/v1/query", query="timestamp(up == 0)")["result"]) + 0.5
    wait_for(deadline, "T to pass", lambda: time.time() > t + 0.2, watched)
    samples = {}
    for s in api.get("/api/v1/query", query="qwen_request_duration_seconds_count[5m]",
                     time="%.3f" % t)["result"]:
        samples[s["metric"]["instance"]] = [(float(ts), float(v)) for ts, v in s["values"]]
    if len(samples) != REPLICAS + 1:
        fail("samples of %d targets, expected %d" % (len(samples), REPLICAS + 1))
    stamps = sorted(ts for v in samples.values() for ts, _ in v)
    chosen = None
    for a, b in zip(stamps, stamps[1:]):
        if b - a < 0.002:  # midpoints at least 1 ms from any sample
            continue
        c = (a + b) / 2
        inside = [[(ts, v) for ts, v in vals if ts > c] for vals in samples.values()]
        counts = {len(x) for x in inside}
        if len(counts) == 1 and counts.pop() >= 3 and all(x[0][1] == 0 for x in inside) and \
                all(t - x[-1][0] > 1.1 * (x[-1][0] - x[0][0]) / (len(x) - 1) for x in inside):
            chosen = (c, len(inside[0]))
    if not chosen:
        # Scrape phases can leave none (a target scraped once more before its
        # exporter stopped, and its first non-zero sample already in): the
        # same sums and quantiles were compared exactly from the counters
        # above; say so rather than fail on the scrape schedule.
        print("  note: no window where every target has as many samples, the first at 0; "
              "exact rates not compared this run: %s" % samples, flush=True)
        return
    c, n = chosen
    window = "%dms" % round((t - c) * 1000)
    print("exact rates: T=%.3f, window %s, %d samples of each target in it" % (t, window, n),
          flush=True)
    at = "%.3f" % t

    def one(expr):
        res = api.get("/api/v1/query", query=expr, time=at)["result"]
        return {tuple(sorted((k, v) for k, v in x["metric"].items() if k != "job")):
                float(x["value"][1]) for x in res}

    for what, expr in (
            ("requests/s by status", 'sum by (status) (rate(qwen_requests_total{job="%s"}[W]))'),
            ("buckets/s", 'sum by (le) (rate(qwen_request_duration_seconds_bucket{job="%s"}[W]))'),
            ("p50", 'histogram_quantile(0.5, sum by (le) (rate('
                    'qwen_request_duration_seconds_bucket{job="%s"}[W])))'),
            ("p95", 'histogram_quantile(0.95, sum by (le) (rate('
                    'qwen_request_duration_seconds_bucket{job="%s"}[W])))'),
            ("p99", 'histogram_quantile(0.99, sum by (le) (rate('
                    'qwen_request_duration_seconds_bucket{job="%s"}[W])))')):
        rep, ref = one(expr.replace("[W]", "[%s]" % window) % JOB), \
            one(expr.replace("[W]", "[%s]" % window) % REF_JOB)
        if set(rep) != set(ref) or not rep or any(
                not math.isclose(rep[k], ref[k], rel_tol=1e-9, abs_tol=1e-12) for k in rep):
            fail("%s (%s) at T: replicas %s, reference %s" % (what, expr, rep, ref))
        print("  ok  %s of the replicas' summed rates == the reference's: %s" % (
            what, ", ".join("%s%.6g" % ("%s " % dict(k) if k else "", v)
                            for k, v in sorted(rep.items())[:6])), flush=True)


def json_line(obj):
    import json
    return json.dumps(obj, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main(run_test=run, description=__doc__, add_arguments=lambda ap: ap.add_argument(
        "--redis-server", required=True, help="path of redis-server")))
