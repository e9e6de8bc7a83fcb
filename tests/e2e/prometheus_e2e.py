#!/usr/bin/env python3
"""End-to-end test: llm_log_exporter scraped by a real Prometheus server.

Run by ctest (tests/e2e/CMakeLists.txt); by hand:

    python3 tests/e2e/prometheus_e2e.py --exporter build/llm_log_exporter \
        --prometheus /usr/bin/prometheus --promtool /usr/bin/promtool --repo . \
        --fake-nvml build/tests/fake_nvml/libnvidia-ml.so.1

Standard library only. What it does:

1. Lints deploy/grafana/dashboard.json (variables, data source of every panel,
   every selector filtered by $instance, every range $__rate_interval), and
   checks every metric family of docs/metrics.md and README.md is on a panel
   or in NO_PANEL (also run alone, without Prometheus: dashboard_coverage.py).
2. Starts the daemon on 127.0.0.1:0 and writes a generated log (requests with
   known statuses, durations and tokens, plus garbage lines) into its stdin,
   which stays open; waits until the daemon has counted all of it.
3. Starts Prometheus on a free 127.0.0.1 port with a temporary data directory
   and the shipped deploy/prometheus/prometheus.yml (target, 1 s intervals
   substituted) next to copies of alerts.yml and recording_rules.yml; waits
   until it has scraped.
4. Checks the rules are loaded and evaluate without error, checks values
   computed from the log, writes a second batch and waits for the counters to
   grow, then runs every PromQL expression of the dashboard and of alerts.yml
   through /api/v1/query: each must succeed, the dashboard's must return
   finite samples, several must equal values computed here, and the alerts
   the log should trigger must be pending (and the others must not).

Every wait polls with a deadline (60 s overall); nothing sleeps a fixed time.
Both processes are stopped and the temporary directory removed on every exit
path, including SIGTERM/SIGINT; if this script is SIGKILLed (ctest's timeout),
the kernel kills the children (PR_SET_PDEATHSIG) and only the directory stays.
Exit code 0 on pass, 1 on failure, with a message saying what differed and the
last stderr lines of both processes.
"""

import argparse
import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

OVERALL_TIMEOUT_S = 60.0
POLL_S = 0.1
# Substituted for Grafana's $__rate_interval. Longer than the whole test, so a
# rate() window always reaches back to Prometheus' first scrape, which is taken
# after the first batch was counted: rates then cover exactly the second batch.
RATE_INTERVAL = "5m"
JOB = "llm_log_exporter"

# qwen_request_duration_seconds buckets (docs/metrics.md).
DURATION_BUCKETS = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60,
                    120, 240, 480, 960, 1920, 7680]
MAX_LINE_BYTES = 4096
QUEUE_MS = 100
# The vLLM stats line of the second batch.
VLLM_RUNNING = 3
VLLM_WAITING = 1
VLLM_KV_PERCENT = b"7.4"
GPU_MB_BATCH1 = 18432
GPU_MB_BATCH2 = 20480

# Alerts the log written here must make pending (or firing) after the second
# batch, as (alertname, extra label or None), and alerts that must stay quiet.
EXPECTED_ACTIVE = [("LLMHighErrorRate", None), ("LLMHighP99Latency", None),
                   ("LLMLogExporterLinesLost", ("result", "invalid_utf8")),
                   ("LLMLogExporterLinesLost", ("result", "too_long"))]
EXPECTED_QUIET = ["LLMNoRequests", "LLMLogExporterDown", "LLMLogFileNotRead", "LLMLogInputDown",
                  "LLMLogExporterConfigReloadFailed", "LLMLogExporterIngestRejected",
                  "LLMLogExporterCertificateReloadFailed"]
# Metrics that alerts read but that this exporter (reading stdin, no TLS)
# does not have.
NOT_ON_STDIN = {"llm_log_exporter_input_file_readable", "llm_log_exporter_input_up",
                "llm_log_exporter_http_ingest_requests_total",
                "llm_log_exporter_web_config_last_reload_successful"}

# Metric families of the docs (docs/metrics.md, README.md) deliberately
# without a dashboard panel, and why. The coverage check fails on a family
# that is on neither a panel nor this list, and on an entry here that is no
# longer documented or that a panel now shows.
NO_PANEL = {
    "qwen_request_duration_ms": "seed-compatible copy of qwen_request_duration_seconds",
    "qwen_input_tokens": "seed-compatible copy of qwen_request_prompt_tokens",
    "qwen_output_tokens": "seed-compatible copy of qwen_request_generation_tokens",
    "qwen_gpu_memory_mb": "seed-compatible copy of qwen_gpu_memory_used_bytes",
}
# Families on panels that this test's daemon cannot have (it reads stdin, with
# neither TLS nor a config), and why: their queries must still succeed, and
# may return nothing. Every other panel query must return samples.
NO_DATA_HERE = {
    "llm_log_exporter_input_file_readable": "needs --input.file (the daemon reads stdin here)",
    "llm_log_exporter_input_up": "needs a queue input (RedisInputTest, KafkaInputTest check it)",
    "llm_log_exporter_input_reconnects_total": "needs a queue input, as above",
    "llm_log_exporter_input_entries_skipped_total": "needs a queue input, as above",
    "llm_log_exporter_web_config_reloads_total":
        "needs TLS (WebSecurityTest.RotatedCertificateIsServed... checks it)",
    "llm_log_exporter_web_config_last_reload_successful": "needs TLS, as above",
    "qwen_log_sensitive_lines_total": "opt-in through a config file (golden test sensitive_audit)",
}
# Panels whose series may be 0 here (counters of things this log does not
# cause, CPU time below the clock tick); the others must be > 0 ...
MAY_BE_ZERO = {"Exporter: unusable fields", "Exporter: config reloads",
               "Exporter: label values refused", "Exporter: HTTP ingest",
               "Exporter: input files and NVML", "Exporter CPU", "Exporter: bytes read"}
# ... but for these, whose label values exist from the start at 0 (or came
# only in the first batch), where one series at least must be > 0.
SOME_POSITIVE = {"Log lines by level", "Exceptions by class", "Finish reason",
                 "HTTP requests by route", "HTTP responses by code"}
FAMILY_RE = r"(?:qwen|llm_log_exporter|nvml|process)_[a-zA-Z0-9_]*"


class TestFailure(Exception):
    pass


class NotYet(Exception):
    """Raised by a probe of wait_for: not there yet, poll again."""


def fail(msg):
    raise TestFailure(msg)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def expired(self):
        return self.left() <= 0


# --------------------------------------------------------------- the log

def request(i, gpu_mb):
    """Request line i: statuses, durations and tokens follow i, so every
    aggregate is computable. Of each 10: 1 error, 1 timeout, 8 success. Of each
    20: 9 take 700 ms, 6 take 1800 ms, 5 take 4000 ms."""
    status = "error" if i % 10 == 3 else "timeout" if i % 10 == 7 else "success"
    k = i % 20
    total_ms = 700 if k < 9 else 1800 if k < 15 else 4000
    return {
        "timestamp": "2025-04-05T10:%02d:%02dZ" % (i // 60 % 60, i % 60),
        "request_id": "req_%06d" % i,
        "method": "POST",
        "path": "/v1/chat/completions",
        "input_tokens": 200 + (i * 37) % 1800,
        "output_tokens": 20 + (i * 13) % 500,
        "total_time_ms": total_ms,
        "queue_time_ms": QUEUE_MS,
        "inference_time_ms": total_ms - QUEUE_MS,
        "gpu_memory_mb": gpu_mb,
        "status": status,
        # Fields of the panels beyond the seed's: finish reasons, HTTP codes,
        # latency stages, cached tokens, and one system prompt change (at 250).
        "finish_reason": "length" if i % 4 == 1 else "stop",
        "status_code": "200" if status == "success" else "500" if status == "error" else "504",
        "ttft_ms": 50 + i % 7,
        "prefill_time_ms": 30 + i % 5,
        "validation_time_ms": 2,
        "cached_tokens": 64,
        "system_prompt": "You are a helpful assistant." if i < 250 else "You are terse.",
    }


class Batch:
    def __init__(self, first, count, gpu_mb, garbage):
        self.requests = [request(i, gpu_mb) for i in range(first, first + count)]
        lines = [json.dumps(r, separators=(",", ":")).encode() for r in self.requests]
        # Spread the garbage among the requests.
        out = []
        step = max(1, len(lines) // (len(garbage) + 1))
        g = list(garbage)
        for n, line in enumerate(lines):
            out.append(line)
            if g and (n + 1) % step == 0:
                out.append(g.pop(0)[1])
        out.extend(line for _, line in g)
        self.data = b"\n".join(out) + b"\n"
        self.results = {"request": len(lines)}
        for result, line in garbage:  # an entry may hold several lines
            self.results[result] = self.results.get(result, 0) + line.count(b"\n") + 1
        self.lines = sum(line.count(b"\n") + 1 for line in out)


TRACEBACK = (b"Traceback (most recent call last):\n"
             b'  File "/app/engine.py", line 42, in step\n'
             b"ValueError: bad sampling parameters")
GARBAGE_1 = [
    ("event", b'{"level":"warning","message":"KV cache usage 91%"}'),
    ("event", b'{"level":"info","message":"model loaded","model":"Qwen2.5-7B"}'),
    ("event", b'{"event":"startup"}'),
    ("not_json", b"INFO:     Started server process [4242]"),
    ("not_json", b"Traceback (most recent call last):"),
    ("not_json", b""),
    ("not_json", b"{'status': 'success', 'total_time_ms': 10}"),
    ("not_json", b'{"status":"success","total_time_ms":'),
    ("invalid_utf8", b'{"status":"success","note":"\xff\xfe"}'),
    ("invalid_utf8", b"\xc3\x28 broken"),
    ("too_long", b"x" * (MAX_LINE_BYTES + 100)),
    ("too_long", b'{"status":"success","total_time_ms":100,"pad":"' + b"y" * MAX_LINE_BYTES + b'"}'),
    # A series must exist before the batch whose increase a panel shows.
    ("not_json", TRACEBACK),
]
GARBAGE_2 = [
    ("invalid_utf8", b"\xff\xff\xff"),
    ("invalid_utf8", b'{"status":"error","total_time_ms":5,"x":"\xed\xa0\x80"}'),  # UTF-16 surrogate
    ("invalid_utf8", b"\x80"),
    ("too_long", b"z" * (MAX_LINE_BYTES * 2)),
    # Lines of a stock vLLM server for the engine and log panels: its periodic
    # stats, a preemption, request logging (max_tokens), a traceback, an error.
    ("not_json", b"INFO 04-05 10:05:00 metrics.py:449] Avg prompt throughput: 605.5 tokens/s, "
                 b"Avg generation throughput: 61.0 tokens/s, Running: %d reqs, Swapped: 0 reqs, "
                 b"Pending: %d reqs, GPU KV cache usage: %s%%, CPU KV cache usage: 0.0%%."
                 % (VLLM_RUNNING, VLLM_WAITING, VLLM_KV_PERCENT)),
    ("not_json", b"WARNING 04-05 10:05:01 scheduler.py:1560] Sequence group chatcmpl-e2e is "
                 b"preempted by PreemptionMode.RECOMPUTE mode because there is not enough KV "
                 b"cache space. total_num_cumulative_preemption=1"),
    ("not_json", b"INFO 04-05 10:05:02 [logger.py:39] Received request chatcmpl-e2e: prompt: "
                 b"'hi', params: SamplingParams(n=1, temperature=0.7, max_tokens=256, "
                 b"min_tokens=0), prompt_token_ids: None, lora_request: None."),
    ("not_json", TRACEBACK),
    ("event", b'{"level":"error","message":"engine step failed"}'),
]


def bucket_counts(values, bounds):
    """Cumulative counts per bound, +Inf last, as Prometheus stores them."""
    return [sum(1 for v in values if v <= b) for b in bounds] + [len(values)]


def histogram_quantile(q, bounds, cumulative):
    """Prometheus' bucketQuantile (promql/quantile.go) on one histogram."""
    total = cumulative[-1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(n for n, c in enumerate(cumulative) if c >= rank)
    if b == len(bounds):
        return bounds[-1]
    start, below = (0.0, 0) if b == 0 else (bounds[b - 1], cumulative[b - 1])
    return start + (bounds[b] - start) * ((rank - below) / (cumulative[b] - below))


# --------------------------------------------------------------- processes

PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up once, not in the forked child
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def _die_with_parent():
    # If this script is killed (ctest timeout), the kernel kills the child too.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Child:
    """A child process whose stderr is collected by a thread (so the pipe
    never fills) and searched for a pattern. Its stdout goes nowhere unless
    given; other keyword arguments go to subprocess.Popen (env, pass_fds)."""

    def __init__(self, name, argv, stdin=None, log_path=None, stdout=subprocess.DEVNULL,
                 **popen):
        self.name = name
        self.argv = argv
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent, close_fds=True, **popen)
        self.log = open(log_path, "wb") if log_path else None
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            if self.log:
                self.log.write(raw)
                self.log.flush()
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def find(self, pattern):
        with self.lock:
            for line in self.lines:
                m = re.search(pattern, line)
                if m:
                    return m
        return None

    def tail(self, n=25):
        with self.lock:
            return self.lines[-n:]

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print("%s did not exit %.0f s after SIGTERM; killing it" % (self.name, timeout))
                self.proc.kill()
                self.proc.wait(5)
        self.thread.join(5)
        if self.log:
            self.log.close()
            self.log = None
        return self.proc.returncode


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------- HTTP

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def http_get(url, timeout=5.0):
    """(status, body); status 0 when the connection failed."""
    try:
        with _opener.open(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


class PromAPI:
    def __init__(self, port):
        self.port = port
        self.base = "http://127.0.0.1:%d" % port

    def get(self, path, **params):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params, doseq=True)
        status, body = http_get(url)
        if status == 0:
            fail("Prometheus did not answer GET %s" % path)
        try:
            doc = json.loads(body)
        except ValueError:
            fail("Prometheus answered GET %s with HTTP %d and no JSON: %r" % (path, status, body[:300]))
        if doc.get("status") != "success":
            fail("Prometheus answered GET %s with HTTP %d: %s: %s"
                 % (path, status, doc.get("errorType"), doc.get("error")))
        return doc["data"]

    def query(self, expr):
        """Instant query; returns the result vector as [(labels, float)]."""
        try:
            data = self.get("/api/v1/query", query=expr)
        except TestFailure as e:
            fail("query %r: %s" % (expr, e))
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            fail("query %r: result type %s, expected a vector" % (expr, data["resultType"]))
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def scalar(self, expr):
        """Value of a query that must return exactly one sample."""
        res = self.query(expr)
        if len(res) != 1:
            fail("query %r returned %d samples, expected exactly 1: %s" % (expr, len(res), res))
        return res[0][1]


# --------------------------------------------------------------- files

def dashboard_targets(path):
    """[(panel title, legend, expr)] of every panel target, nested rows too."""
    with open(path) as f:
        dash = json.load(f)
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if "expr" in t:
                    out.append((p.get("title", "?"), t.get("legendFormat", ""), t["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return dash, out


def documented_families(repo):
    """Metric families named in docs/metrics.md and README.md: every
    `name` or `name{labels}` code span (not PromQL, not `process_*`)."""
    names = set()
    for doc in ("docs/metrics.md", "README.md"):
        with open(os.path.join(repo, doc)) as f:
            names.update(re.findall(r"`(%s)(?=[`{])" % FAMILY_RE, f.read()))
    return names


def uses_family(expr, family):
    return re.search(r"(?<![a-zA-Z0-9_:])%s(?:_bucket|_sum|_count)?(?![a-zA-Z0-9_:])"
                     % re.escape(family), expr) is not None


def check_coverage(repo, dash, targets):
    """Every documented family is on a panel (or in a variable's query), or
    listed in NO_PANEL with a reason; NO_PANEL holds nothing stale."""
    exprs = [expr for _, _, expr in targets]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if isinstance(q, str):
            exprs.append(q)
    families = documented_families(repo)
    if len(families) < 40:
        fail("found only %d metric families in docs/metrics.md and README.md: %s"
             % (len(families), sorted(families)))
    problems = []
    for family in sorted(families):
        shown = any(uses_family(e, family) for e in exprs)
        if family in NO_PANEL:
            if shown:
                problems.append("%s is on a panel but listed in NO_PANEL" % family)
        elif not shown:
            problems.append("%s (docs/metrics.md) has no dashboard panel; add one, or list it "
                            "in NO_PANEL with the reason" % family)
    for family in sorted(set(NO_PANEL) - families):
        problems.append("NO_PANEL lists %s, which the docs no longer name" % family)
    if problems:
        fail("deploy/grafana/dashboard.json against the documented metrics:\n  "
             + "\n  ".join(problems))
    return families


def lint_dashboard(dash, targets):
    problems = []
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        problems.append("schemaVersion %r (want >= 36, Grafana 9+)" % dash.get("schemaVersion"))
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no variable 'datasource' of type datasource / prometheus")
    inst = variables.get("instance")
    if not inst:
        problems.append("no variable 'instance'")
    else:
        q = inst.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if q != "label_values(llm_log_exporter_build_info, instance)":
            problems.append("variable instance: query %r" % q)
        if not (inst.get("multi") and inst.get("includeAll")):
            problems.append("variable instance must be multi-value with All")
        if inst.get("datasource", {}).get("uid") != "${datasource}":
            problems.append("variable instance does not use ${datasource}")

    def panels(ps):
        for p in ps:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append("panel %r: data source is not ${datasource}" % p.get("title"))
        if not p.get("targets"):
            problems.append("panel %r has no targets" % p.get("title"))
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("uid", "${datasource}") != "${datasource}":
                problems.append("panel %r target %s: data source is not ${datasource}"
                                % (p.get("title"), t.get("refId")))
    for title, legend, expr in targets:
        for m in re.finditer(r"\b(%s)(\{[^}]*\})?" % FAMILY_RE, expr):
            if not m.group(2) or 'instance=~"$instance"' not in m.group(2):
                problems.append('panel %r: %s is not filtered by instance=~"$instance"'
                                % (title, m.group(1)))
        for r in re.findall(r"\[([^\]]*)\]", expr):
            if r != "$__rate_interval":
                problems.append("panel %r: range [%s], use [$__rate_interval]" % (title, r))
    if problems:
        fail("deploy/grafana/dashboard.json:\n  " + "\n  ".join(problems))


def substitute_grafana(expr):
    out = expr.replace("$__rate_interval", RATE_INTERVAL).replace("${instance}", ".*") \
              .replace("$instance", ".*")
    left = re.findall(r"\$\{?\w+", out)
    if left:
        fail("dashboard expression uses variables this test does not know: %s in %r" % (left, expr))
    return out


def alert_rules(path):
    """[(alertname, expr)] from alerts.yml, without a YAML library: handles
    `expr: <one line>` and block scalars `expr: |` / `expr: >`."""
    with open(path) as f:
        lines = f.read().split("\n")
    rules, name, n = [], None, 0
    while n < len(lines):
        line = lines[n]
        m = re.match(r"^\s*(?:- )?alert:\s*(\S+)\s*$", line)
        if m:
            name = m.group(1).strip("'\"")
        m = re.match(r"^(\s*)(?:- )?expr:\s*(.*?)\s*$", line)
        if m:
            indent, value = len(m.group(1)), m.group(2)
            if value.startswith(("|", ">")):
                block = []
                n += 1
                while n < len(lines) and (not lines[n].strip()
                                          or len(lines[n]) - len(lines[n].lstrip()) > indent):
                    block.append(lines[n])
                    n += 1
                text = "\n".join(block).strip("\n")
                strip = min(len(l) - len(l.lstrip()) for l in block if l.strip())
                value = "\n".join(l[strip:] for l in text.split("\n"))
                if value.startswith(">"):
                    value = " ".join(value.split("\n"))
                n -= 1
            elif value[:1] in "'\"":
                value = value[1:-1]
            if name is None:
                fail("%s: expr without an alert name (recording rules are not expected): %r"
                     % (path, value))
            rules.append((name, value))
            name = None
        n += 1
    if not rules:
        fail("%s: no alert rules found" % path)
    return rules


def prometheus_config(repo, exporter_port):
    """The shipped prometheus.yml, aimed at the test's exporter, 1 s intervals."""
    path = os.path.join(repo, "deploy", "prometheus", "prometheus.yml")
    with open(path) as f:
        text = f.read()
    subs = [
        (r'targets:\s*\["localhost:9879"\]', 'targets: ["127.0.0.1:%d"]' % exporter_port),
        (r"scrape_interval:\s*\S+", "scrape_interval: 1s"),
        (r"evaluation_interval:\s*\S+", "evaluation_interval: 1s"),
        (r"job_name:\s*%s\b" % JOB, "job_name: %s" % JOB),
        (r"rule_files:\s*\n\s*-\s*alerts\.yml", None),
    ]
    for pattern, repl in subs:
        text, count = re.subn(pattern, repl, text) if repl else (text, len(re.findall(pattern, text)))
        if count != 1:
            fail("%s: expected exactly one match of /%s/ (found %d); update this test to the "
                 "new layout of the file" % (path, pattern, count))
    return text


# --------------------------------------------------------------- checks

class Checks:
    def __init__(self):
        self.done = []

    def equal(self, what, got, want, tol=1e-9):
        ok = (math.isclose(got, want, rel_tol=tol, abs_tol=tol) if isinstance(want, float)
              else got == want)
        if not ok:
            fail("%s\n    got      %r\n    expected %r" % (what, got, want))
        self.done.append("%s = %r" % (what, got))
        print("  ok  %s = %r" % (what, got), flush=True)

    def within(self, what, got, low, high):
        if not (low < got <= high):
            fail("%s = %r, expected in (%r, %r]" % (what, got, low, high))
        print("  ok  %s = %r in (%r, %r]" % (what, got, low, high), flush=True)


def wait_for(deadline, what, probe, children=()):
    """Polls probe() until it returns a true value (NotYet: poll again). Fails
    at the deadline, or at once when one of children has exited."""
    last = None
    while True:
        try:
            last = probe()
            if last:
                return last
        except NotYet as e:
            last = str(e)
        for child in children:
            if not child.running():
                fail("%s exited with code %s while waiting for %s"
                     % (child.name, child.proc.returncode, what))
        if deadline.expired():
            fail("timed out waiting for %s (last: %s)" % (what, last))
        time.sleep(POLL_S)


def parse_exposition(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def start_prometheus(args, tmp, deadline, children, watched, flags=()):
    """Checks tmp/prometheus.yml with promtool, starts Prometheus on it on a
    free 127.0.0.1 port (appended to children), with `flags` added, and waits
    until it is ready, failing at once if one of `watched` exits. Returns
    (PromAPI, Child)."""
    config = os.path.join(tmp, "prometheus.yml")
    check = subprocess.run([args.promtool, "check", "config", config],
                           capture_output=True, text=True, timeout=max(1.0, deadline.left()))
    if check.returncode != 0:
        with open(config) as f:
            fail("promtool check config on the generated configuration:\n%s%s\n%s"
                 % (check.stdout, check.stderr, f.read()))
    for attempt in range(3):  # the free port may be taken between probe and bind
        port = free_port()
        prom = Child("prometheus", [
            args.prometheus,
            "--config.file=" + config,
            "--storage.tsdb.path=" + os.path.join(tmp, "data"),
            "--web.listen-address=127.0.0.1:%d" % port,
            "--log.level=info"] + list(flags), log_path=os.path.join(tmp, "prometheus.log"))
        children.append(prom)

        def ready():
            if not prom.running():
                return "exited"
            return http_get("http://127.0.0.1:%d/-/ready" % port)[0] == 200

        state = wait_for(deadline, "Prometheus /-/ready on 127.0.0.1:%d" % port, ready, watched)
        if state is True:
            return PromAPI(port), prom
        if prom.find("address already in use") and attempt < 2:
            print("port %d was taken; retrying" % port, flush=True)
            continue
        fail("Prometheus exited with code %s" % prom.proc.returncode)


def run(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    c = Checks()

    # 1. Static: the dashboard and the rules as files.
    dash, targets = dashboard_targets(os.path.join(args.repo, "deploy", "grafana", "dashboard.json"))
    lint_dashboard(dash, targets)
    families = check_coverage(args.repo, dash, targets)
    print("dashboard: every one of the %d documented metric families is on a panel, but %d "
          "listed in NO_PANEL" % (len(families), len(NO_PANEL)), flush=True)
    alerts_path = os.path.join(args.repo, "deploy", "prometheus", "alerts.yml")
    rules = alert_rules(alerts_path)
    print("dashboard: %d expressions in %d panels; alerts.yml: %d rules"
          % (len(targets), len(dash["panels"]), len(rules)), flush=True)

    # 2. The daemon, fed the first batch.
    b1 = Batch(0, 200, GPU_MB_BATCH1, GARBAGE_1)
    b2 = Batch(200, 100, GPU_MB_BATCH2, GARBAGE_2)
    # HTTP ingest on (its counters feed a panel) and NVML from the tests' fake
    # library (two GPUs), so the GPU panels have data.
    exporter = Child("llm_log_exporter", [
        args.exporter, "--web.listen-address=127.0.0.1:0", "--ingest.enable",
        "--gpu.nvml-library=%s" % args.fake_nvml,
        "--input.max-line-bytes=%d" % MAX_LINE_BYTES], stdin=subprocess.PIPE)
    children.append(exporter)
    m = wait_for(deadline, "the daemon's 'listening on 127.0.0.1:PORT' line",
                 lambda: exporter.find(r"listening on 127\.0\.0\.1:(\d+)"), [exporter])
    exporter_port = int(m.group(1))
    print("daemon listening on 127.0.0.1:%d" % exporter_port, flush=True)

    def feed(batch):
        try:
            exporter.proc.stdin.write(batch.data)
            exporter.proc.stdin.flush()
        except BrokenPipeError:
            fail("the daemon closed its stdin (exit code %s)" % exporter.proc.poll())

    def daemon_lines():
        status, body = http_get("http://127.0.0.1:%d/metrics" % exporter_port)
        if status != 200:
            return None
        metrics = parse_exposition(body.decode())
        return sum(v for k, v in metrics.items() if k.startswith("llm_log_exporter_lines_total{"))

    feed(b1)
    wait_for(deadline, "the daemon to count the %d lines of the first batch" % b1.lines,
             lambda: daemon_lines() == b1.lines, [exporter])

    # 3. Prometheus, on the shipped configuration.
    config = prometheus_config(args.repo, exporter_port)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(config)
    shutil.copy(alerts_path, os.path.join(tmp, "alerts.yml"))
    shutil.copy(os.path.join(args.repo, "deploy", "prometheus", "recording_rules.yml"),
                os.path.join(tmp, "recording_rules.yml"))
    api, prom = start_prometheus(args, tmp, deadline, children, [exporter])
    print("prometheus ready on 127.0.0.1:%d" % api.port, flush=True)

    up_expr = 'up{job="%s"}' % JOB
    wait_for(deadline, "3 successful scrapes of the daemon",
             lambda: api.query('count_over_time(%s[5m]) >= 3 and %s == 1' % (up_expr, up_expr)),
             [exporter, prom])
    targets_api = api.get("/api/v1/targets")["activeTargets"]
    if len(targets_api) != 1 or targets_api[0]["health"] != "up":
        fail("expected one healthy target, got %s" % json.dumps(targets_api))
    instance = "127.0.0.1:%d" % exporter_port
    res = api.query(up_expr)
    c.equal(up_expr, res[0][1], 1.0)
    c.equal("instance label of %s" % up_expr, res[0][0].get("instance"), instance)

    # The rules of alerts.yml are loaded and evaluate without error.
    def rules_evaluated():
        groups = api.get("/api/v1/rules")["groups"]
        loaded = [r for g in groups for r in g["rules"]]
        return loaded if loaded and all(r.get("lastEvaluation", "").startswith("20")
                                        and not r["lastEvaluation"].startswith("0001")
                                        for r in loaded) else None

    loaded = wait_for(deadline, "every rule to be evaluated once", rules_evaluated,
                      [exporter, prom])
    names = sorted(r["name"] for r in loaded if r.get("type") == "alerting")
    c.equal("alert names loaded by Prometheus", names, sorted(n for n, _ in rules))
    # recording_rules.yml (the shipped prometheus.yml loads it too): checked
    # against several exporters by ScaleOutEndToEnd; here, loaded and healthy.
    if not any(r.get("type") == "recording" for r in loaded):
        fail("no recording rule loaded from recording_rules.yml")
    for r in loaded:
        if r.get("health") != "ok":
            fail("rule %s: health %s: %s" % (r["name"], r.get("health"), r.get("lastError")))
    print("  ok  %d rules loaded, health ok" % len(loaded), flush=True)

    # The instance variable of the dashboard.
    values = api.get("/api/v1/label/instance/values", **{"match[]": "llm_log_exporter_build_info"})
    c.equal("label_values(llm_log_exporter_build_info, instance)", values, [instance])

    # 4. Values after the first batch (raw counters: exact).
    def check_totals(requests, results, gpu_mb):
        by_status = {}
        for r in requests:
            by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        for status in ("success", "error", "timeout"):
            c.equal('sum(qwen_requests_total{status="%s"})' % status,
                    api.scalar('sum(qwen_requests_total{status="%s"})' % status),
                    float(by_status.get(status, 0)))
        c.equal('sum(qwen_requests_total{status="success"}) / sum(qwen_requests_total)',
                api.scalar('sum(qwen_requests_total{status="success"}) / sum(qwen_requests_total)'),
                by_status["success"] / len(requests))
        for result in ("request", "event", "not_json", "invalid_utf8", "too_long", "dropped"):
            expr = 'sum(llm_log_exporter_lines_total{result="%s"})' % result
            c.equal(expr, api.scalar(expr), float(results.get(result, 0)))
        durations = [r["total_time_ms"] / 1000 for r in requests]
        cum = bucket_counts(durations, DURATION_BUCKETS)
        expr = "histogram_quantile(0.5, sum by (le) (qwen_request_duration_seconds_bucket))"
        p50 = api.scalar(expr)
        c.within(expr, p50, 1.5, 2.0)
        c.equal(expr, p50, histogram_quantile(0.5, DURATION_BUCKETS, cum))
        c.equal("sum(qwen_prompt_tokens_total)", api.scalar("sum(qwen_prompt_tokens_total)"),
                float(sum(r["input_tokens"] for r in requests)))
        c.equal("sum(qwen_generation_tokens_total)", api.scalar("sum(qwen_generation_tokens_total)"),
                float(sum(r["output_tokens"] for r in requests)))
        c.equal("max(qwen_gpu_memory_used_bytes)", api.scalar("max(qwen_gpu_memory_used_bytes)"),
                float(gpu_mb * 2 ** 20))

    print("after the first batch (%d lines):" % b1.lines, flush=True)
    check_totals(b1.requests, b1.results, GPU_MB_BATCH1)

    # 5. Second batch: the counters grow.
    feed(b2)
    all_requests = b1.requests + b2.requests
    want_success = float(sum(1 for r in all_requests if r["status"] == "success"))
    want_lines = float(b1.lines + b2.lines)
    wait_for(deadline, "Prometheus to see the second batch",
             lambda: api.query('sum(qwen_requests_total{status="success"}) == %d' % want_success)
             and api.query("sum(llm_log_exporter_lines_total) == %d" % want_lines)
             and api.query("max(qwen_gpu_memory_used_bytes) == %d" % (GPU_MB_BATCH2 * 2 ** 20)),
             [exporter, prom])
    results = dict(b1.results)
    for k, v in b2.results.items():
        results[k] = results.get(k, 0) + v
    print("after the second batch (%d lines more):" % b2.lines, flush=True)
    check_totals(all_requests, results, GPU_MB_BATCH2)

    # 6. Every dashboard expression: succeeds, returns finite samples; some
    # exactly. The rate windows reach back to the first scrape (after the first
    # batch), so rates cover exactly the second batch.
    b2_dur = [r["total_time_ms"] / 1000 for r in b2.requests]
    b2_cum = bucket_counts(b2_dur, DURATION_BUCKETS)
    b2_ok = sum(1 for r in b2.requests if r["status"] == "success") / len(b2.requests)

    def mean(key, scale=1.0):
        return sum(r[key] for r in b2.requests) / len(b2.requests) / scale

    expected = {  # (panel title, legend) -> expected value
        ("Success ratio", "success"): b2_ok,
        ("Success ratio", "all selected"): b2_ok,
        ("Success ratio", "{{instance}}"): b2_ok,
        ("P99 latency", "p99"): histogram_quantile(0.99, DURATION_BUCKETS, b2_cum),
        ("Request latency (P50 / P95 / P99)", "p50"): histogram_quantile(0.5, DURATION_BUCKETS, b2_cum),
        ("Request latency (P50 / P95 / P99)", "p95"): histogram_quantile(0.95, DURATION_BUCKETS, b2_cum),
        ("Request latency (P50 / P95 / P99)", "p99"): histogram_quantile(0.99, DURATION_BUCKETS, b2_cum),
        ("Queue vs inference time (mean per request)", "queue"): mean("queue_time_ms", 1000.0),
        ("Queue vs inference time (mean per request)", "inference"): mean("inference_time_ms", 1000.0),
        ("Tokens per request", "prompt mean"): mean("input_tokens"),
        ("Tokens per request", "generation mean"): mean("output_tokens"),
        ("GPU memory used", "{{instance}}"): float(GPU_MB_BATCH2 * 2 ** 20),
        ("Error ratio", "errors"): 1 - b2_ok,
        ("KV cache usage", "{{instance}} {{engine}}"): float(VLLM_KV_PERCENT) / 100,
        ("Running / waiting requests", "running {{instance}}"): float(VLLM_RUNNING),
        ("Running / waiting requests", "waiting {{instance}}"): float(VLLM_WAITING),
    }
    print("dashboard expressions (%s for $__rate_interval, .* for $instance):" % RATE_INTERVAL,
          flush=True)
    known_names = set(api.get("/api/v1/label/__name__/values"))
    matched = set()
    for title, legend, raw in targets:
        expr = substitute_grafana(raw)
        absent = [n for n in re.findall(r"\b(%s)" % FAMILY_RE, expr) if n not in known_names]
        for name in absent:
            if not any(uses_family(name, f) for f in NO_DATA_HERE):
                fail("panel %r: metric %s is not exported (typo?): %r" % (title, name, expr))
        try:
            res = api.query(expr)
        except TestFailure as e:
            fail("panel %r (%s): %s" % (title, legend, e))
        if absent:  # a family this daemon cannot have (NO_DATA_HERE): the query ran
            if res:
                fail("panel %r (%s): samples %s from %r, whose %s this daemon should not have"
                     % (title, legend, res, expr, absent))
            print("  ok  %s runs (no %s here)" % (" ".join(expr.split()), ", ".join(absent)),
                  flush=True)
            continue
        if not res:
            fail("panel %r (%s): no samples from %r" % (title, legend, expr))
        bad = [v for _, v in res if not math.isfinite(v)]
        if bad:
            fail("panel %r (%s): non-finite values %s from %r" % (title, legend, bad, expr))
        one_line = " ".join(expr.split())
        if (title, legend) in expected:
            if len(res) != 1:
                fail("panel %r (%s): %d samples, expected 1" % (title, legend, len(res)))
            c.equal(one_line, res[0][1], expected[(title, legend)], tol=1e-6)
            matched.add((title, legend))
        elif title == "Since last request":
            c.within(one_line, res[0][1], -5.0, 120.0)
        elif title == "Exporter: lines by result":
            got = {s.get("result"): v for s, v in res}
            if got.get("dropped") != 0 or not got.get("invalid_utf8", 0) > 0 \
                    or not got.get("request", 0) > 0:
                fail("panel %r: %r gave %s: expected dropped 0, invalid_utf8 and request > 0"
                     % (title, expr, got))
            print("  ok  %s = %s" % (one_line, got), flush=True)
        elif title in SOME_POSITIVE:
            if not any(v > 0 for _, v in res) or any(v < 0 for _, v in res):
                fail("panel %r (%s): nothing > 0 (or a value < 0) from %r: %s"
                     % (title, legend, expr, res))
            print("  ok  %s = %s" % (one_line, {tuple(sorted(s.items())): v for s, v in res}),
                  flush=True)
        else:
            if not all(v > 0 for _, v in res) and title not in MAY_BE_ZERO:
                fail("panel %r (%s): expected > 0 from %r, got %s" % (title, legend, expr, res))
            print("  ok  %s = %s" % (one_line, [v for _, v in res]), flush=True)
    missing = set(expected) - matched
    if missing:
        fail("dashboard panels this test checks are gone or renamed: %s" % sorted(missing))

    # 7. Every alert expression: succeeds; the ones this log triggers have the
    # values computed here; the alerts are pending (for: not elapsed yet).
    print("alert expressions:", flush=True)
    want_alert_values = {
        "LLMHighErrorRate": 1 - b2_ok,
        "LLMHighP99Latency": histogram_quantile(0.99, DURATION_BUCKETS, b2_cum),
    }
    for name, expr in rules:
        for metric in re.findall(r"\b((?:qwen|llm_log_exporter)_[a-zA-Z0-9_]*)", expr):
            if metric not in known_names and metric not in NOT_ON_STDIN:
                fail("alert %s: metric %s is not exported (typo?)" % (name, metric))
        try:
            res = api.query(expr)
        except TestFailure as e:
            fail("alert %s: %s" % (name, e))
        one_line = " ".join(expr.split())
        if name in want_alert_values:
            if len(res) != 1:
                fail("alert %s: %d samples from %r, expected 1" % (name, len(res), expr))
            c.equal(one_line, res[0][1], want_alert_values[name], tol=1e-6)
        elif name == "LLMLogExporterLinesLost":
            got = sorted(s.get("result") for s, _ in res)
            c.equal("results of " + one_line, got, ["invalid_utf8", "too_long"])
        else:
            c.equal("samples of " + one_line, res, [])

    def alerts_active():
        active = api.get("/api/v1/alerts")["alerts"]
        missing = []
        for name, label in EXPECTED_ACTIVE:
            if not any(a["labels"].get("alertname") == name
                       and (label is None or a["labels"].get(label[0]) == label[1])
                       and a["labels"].get("instance") == instance
                       and a["state"] in ("pending", "firing") for a in active):
                missing.append(name if label is None else "%s{%s=%s}" % (name, *label))
        if missing:
            raise NotYet("not pending or firing: %s" % missing)
        return active

    active = wait_for(deadline, "the alerts this log triggers to be pending", alerts_active,
                      [exporter, prom])
    for a in active:
        if a["labels"]["alertname"] in EXPECTED_QUIET or a["labels"].get("result") == "dropped":
            fail("alert %s is %s but should be quiet: %s" % (a["labels"]["alertname"], a["state"], a))
    for a in sorted(active, key=lambda a: sorted(a["labels"].items())):
        print("  ok  alert %s%s is %s (value %s)"
              % (a["labels"]["alertname"],
                 "{result=%s}" % a["labels"]["result"] if "result" in a["labels"] else "",
                 a["state"], a["value"]), flush=True)

    # 8. The daemon exits 0 on SIGTERM (docs/deployment.md).
    code = exporter.stop()
    if code != 0:
        fail("the daemon exited with code %s on SIGTERM, expected 0" % code)
    print("  ok  daemon exited 0 on SIGTERM", flush=True)
    print("elapsed: %.1f s" % (OVERALL_TIMEOUT_S - deadline.left()), flush=True)


def main(run_test=run, description=__doc__, add_arguments=None):
    """Runs run_test(args, tmp, children) with a temporary directory and stops
    the children it started on every exit path. Also the main of the focused
    scrape tests (prometheus_scrape_e2e.py), which add their own arguments."""
    ap = argparse.ArgumentParser(description=description.split("\n")[0])
    ap.add_argument("--exporter", required=True, help="path of llm_log_exporter")
    ap.add_argument("--prometheus", required=True, help="path of the prometheus server")
    ap.add_argument("--promtool", required=True, help="path of promtool (checks the generated config)")
    ap.add_argument("--repo", required=True, help="repository root (deploy/ is read from it)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    if add_arguments:
        add_arguments(ap)
    args = ap.parse_args()
    for path in (args.exporter, args.prometheus, args.promtool):
        if not os.access(path, os.X_OK):
            print("FAIL: %s is not an executable" % path)
            return 1

    def on_signal(signum, _frame):
        raise TestFailure("interrupted by signal %d" % signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    tmp = tempfile.mkdtemp(prefix="lle-prometheus-e2e-")
    children = []
    ok = False
    try:
        version = subprocess.run([args.prometheus, "--version"], capture_output=True,
                                 text=True, timeout=10)
        print("prometheus: %s" % (version.stdout + version.stderr).split("\n")[0], flush=True)
        run_test(args, tmp, children)
        ok = True
    except TestFailure as e:
        print("\nFAIL: %s" % e, flush=True)
    except Exception as e:  # a bug here must still clean up and say what happened
        import traceback
        traceback.print_exc()
        print("\nFAIL: unexpected %s: %s" % (type(e).__name__, e), flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(children):
            try:
                child.stop()
            except Exception as e:  # keep cleaning up
                print("stopping %s: %s" % (child.name, e))
            if not ok:
                print("--- last stderr lines of %s (%s):" % (child.name, " ".join(child.argv)))
                for line in child.tail():
                    print("    " + line)
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(add_arguments=lambda ap: ap.add_argument(
        "--fake-nvml", required=True,
        help="path of the tests' fake libnvidia-ml (tests/fake_nvml), for the GPU panels")))
