#!/usr/bin/env python3
"""Focused scrape tests: a real Prometheus server scraping llm_log_exporter.

Run by ctest (tests/e2e/CMakeLists.txt), one entry per case; by hand:

    python3 tests/e2e/prometheus_scrape_e2e.py --case huge-number \
        --exporter build/llm_log_exporter --prometheus /usr/bin/prometheus \
        --promtool /usr/bin/promtool --repo . --openssl /usr/bin/openssl

Cases (issue 17):

huge-number  A request line with output_tokens 1.7976931348623157e308 (the
             largest double). Printed with 16 digits it read back as out of
             range, and Prometheus dropped every scrape. Checks that `up`
             stays 1 over three scrapes and that Prometheus stores exactly
             that double.
mtls         Prometheus scraping over mutual TLS, TLS 1.2 and TLS 1.3 (pinned
             with min_version/max_version), against daemons with
             client_auth_type RequireAndVerifyClientCert and
             VerifyClientCertIfGiven. Certificates are made with the openssl
             CLI in the temporary directory. Scrapes with a client certificate
             must be up and return the daemon's series; scrapes without one
             must be up for VerifyClientCertIfGiven and down for
             RequireAndVerifyClientCert; a TLS 1.2-only scrape of a TLS 1.3-only
             daemon must be down (the version pinning works).
exemplars    (issue 20) Prometheus 2.42 with --enable-feature=exemplar-storage
             scraping OpenMetrics. Request lines carry trace ids (trace_id, a
             W3C traceparent, a request_id only (request ids opted in with
             requests.request_id_fields), one over-long). Over HTTP:
             Prometheus's Accept header gets application/openmetrics-text
             with exemplars and `# EOF` (gzip too), no Accept gets the 0.0.4
             text without them; the over-long trace id counts as a field
             error. In Prometheus: /api/v1/query_exemplars of the dashboard's
             P99 latency expression (the target marked `exemplar: true`)
             returns the slow request's trace id on its bucket, the requests
             counter carries the latest trace id, and the dashboard's trace
             link (deploy/grafana/datasources.yml) names that label.
native       (issue 20) Native histograms: a histogram with `native:
             {bucket_factor: 1.1}` (schema 3) and the classic latency buckets
             of the preset, scraped by two Prometheus 2.42 servers at once:
             one with --enable-feature=native-histograms (it asks for the
             protobuf format and stores the native histogram), one without
             (it asks for text and stores the classic buckets: what existing
             dashboards read). 1000 request lines whose exact P99 (the 990th
             smallest duration) lies in the classic bucket (60, 120]. Checks
             the protobuf Content-Type for Prometheus' Accept header,
             `promtool check metrics` on the text, then
             histogram_quantile(0.99, rate(...[5m])) on both: the native
             answer is within the schema's relative error (2^(1/8) - 1, 9.05 %)
             of the exact P99, the classic one off by more than four times that.
             The slowest request carries a trace id: the native server (also
             --enable-feature=exemplar-storage) returns it from
             /api/v1/query_exemplars on the native histogram.

Standard library only; the helpers (processes, polling with a deadline,
clean-up on every exit path) are those of prometheus_e2e.py. Nothing sleeps a
fixed time; everything polls with a 60 s deadline.
"""

import gzip
import json
import math
import os
import re
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # importing the helpers leaves no __pycache__ in the source tree
from prometheus_e2e import (Deadline, Child, NotYet, OVERALL_TIMEOUT_S, _opener, fail, http_get,
                            main, start_prometheus, substitute_grafana, wait_for)

SCRAPE_INTERVAL = "1s"


def start_daemon(args, children, deadline, extra_args=(), stdin=None):
    """The exporter on 127.0.0.1:0; returns (Child, port)."""
    daemon = Child("llm_log_exporter #%d" % (len(children) + 1),
                   [args.exporter, "--web.listen-address=127.0.0.1:0"] + list(extra_args),
                   stdin=stdin)
    children.append(daemon)
    m = wait_for(deadline, "the daemon's 'listening on 127.0.0.1:PORT' line",
                 lambda: daemon.find(r"listening on 127\.0\.0\.1:(\d+)"), [daemon])
    return daemon, int(m.group(1))


def write_prometheus_config(tmp, jobs):
    """jobs: [(job name, target port, extra YAML lines of the job)]."""
    lines = ["global:", "  scrape_interval: %s" % SCRAPE_INTERVAL, "scrape_configs:"]
    for name, port, extra in jobs:
        lines += ["  - job_name: %s" % name,
                  "    static_configs:",
                  '      - targets: ["127.0.0.1:%d"]' % port]
        lines += ["    " + line for line in extra]
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def scraped_targets(api):
    """{job: target} of the active targets Prometheus has scraped at least once."""
    return {t["labels"]["job"]: t for t in api.get("/api/v1/targets")["activeTargets"]
            if not t["lastScrape"].startswith("0001-")}


# --------------------------------------------------------------- huge-number

def run_huge_number(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    largest = sys.float_info.max
    daemon, port = start_daemon(args, children, deadline, stdin=subprocess.PIPE)
    lines = [b'{"status":"success","output_tokens":1.7976931348623157e308}',
             b'{"status":"success","total_time_ms":1876,"output_tokens":0}']
    daemon.proc.stdin.write(b"\n".join(lines) + b"\n")
    daemon.proc.stdin.flush()
    series = "qwen_generation_tokens_total "

    def exposition_value():
        status, body = http_get("http://127.0.0.1:%d/metrics" % port)
        if status != 200:
            return None
        for line in body.decode().splitlines():
            if line.startswith(series):
                return line[len(series):]
        return None

    def counted():
        value = exposition_value()
        return value if value not in (None, "0") else None

    text = wait_for(deadline, "the daemon to count the huge output_tokens", counted, [daemon])
    print("daemon prints %s%s" % (series, text), flush=True)

    write_prometheus_config(tmp, [("huge", port, [])])
    api, prom = start_prometheus(args, tmp, deadline, children, [daemon])

    def three_scrapes():
        target = scraped_targets(api).get("huge")
        if target and target["health"] == "down":
            fail("Prometheus marked the target down: %s" % target["lastError"])
        return api.query('count_over_time(up{job="huge"}[5m]) >= 3')

    wait_for(deadline, "3 scrapes of the daemon", three_scrapes, [daemon, prom])
    lowest_up = api.scalar('min_over_time(up{job="huge"}[5m])')
    if lowest_up != 1:
        fail("up was %r in one of the scrapes, expected 1 in all" % lowest_up)
    print("  ok  up == 1 in every scrape", flush=True)
    for expr in ('qwen_generation_tokens_total{job="huge"}',
                 'qwen_request_generation_tokens_sum{job="huge"}'):
        got = api.scalar(expr)
        if got != largest:
            fail("%s = %r, expected the largest double %r" % (expr, got, largest))
        print("  ok  %s = %r" % (expr, got), flush=True)


# --------------------------------------------------------------- mtls

def make_pki(openssl, directory):
    """A CA for the server, one for clients; server and client certificates."""
    def run(*argv):
        r = subprocess.run([openssl] + list(argv), capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            fail("openssl %s failed:\n%s" % (" ".join(argv), r.stderr))

    def path(name):
        return os.path.join(directory, name)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "client-ca"):
        run("req", "-x509", *ec, "-keyout", path(ca + ".key"), "-out", path(ca + ".crt"),
            "-days", "2", "-subj", "/CN=lle test " + ca)
    for leaf, ca, extension in (("server", "ca", "subjectAltName=IP:127.0.0.1"),
                                ("client", "client-ca", "extendedKeyUsage=clientAuth")):
        run("req", *ec, "-keyout", path(leaf + ".key"), "-out", path(leaf + ".csr"),
            "-subj", "/CN=" + leaf, "-addext", extension)
        run("x509", "-req", "-in", path(leaf + ".csr"), "-CA", path(ca + ".crt"),
            "-CAkey", path(ca + ".key"), "-set_serial", "1", "-days", "2",
            "-out", path(leaf + ".crt"), "-copy_extensions", "copy")
    return path


def run_mtls(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    if not os.access(args.openssl or "", os.X_OK):
        fail("--openssl %r is not an executable (apt-get install openssl, then re-run cmake)"
             % args.openssl)
    pki = make_pki(args.openssl, tmp)

    def daemon(name, client_auth, min_version):
        config = os.path.join(tmp, name + ".yml")
        with open(config, "w") as f:
            f.write("tls_server_config:\n"
                    "  cert_file: %s\n  key_file: %s\n"
                    "  client_auth_type: %s\n  client_ca_file: %s\n  min_version: %s\n"
                    % (pki("server.crt"), pki("server.key"), client_auth, pki("client-ca.crt"),
                       min_version))
        return start_daemon(args, children, deadline, ["--web.config.file=" + config])

    daemons = {
        "require": daemon("require", "RequireAndVerifyClientCert", "TLS12"),
        "if_given": daemon("if_given", "VerifyClientCertIfGiven", "TLS12"),
        "tls13_only": daemon("tls13_only", "RequireAndVerifyClientCert", "TLS13"),
    }

    def tls(version, cert=True):
        lines = ["scheme: https", "tls_config:", "  ca_file: " + pki("ca.crt")]
        if cert:
            lines += ["  cert_file: " + pki("client.crt"), "  key_file: " + pki("client.key")]
        return lines + ["  min_version: " + version, "  max_version: " + version]

    # (job, daemon, TLS version, with a client certificate, expected health)
    jobs = [
        ("require_tls12", "require", "TLS12", True, "up"),
        ("require_tls13", "require", "TLS13", True, "up"),
        ("if_given_tls12", "if_given", "TLS12", True, "up"),
        ("if_given_tls13", "if_given", "TLS13", True, "up"),
        ("if_given_no_cert_tls12", "if_given", "TLS12", False, "up"),
        ("if_given_no_cert_tls13", "if_given", "TLS13", False, "up"),
        ("require_no_cert_tls12", "require", "TLS12", False, "down"),
        ("require_no_cert_tls13", "require", "TLS13", False, "down"),
        ("tls13_only_tls12", "tls13_only", "TLS12", True, "down"),
    ]
    write_prometheus_config(tmp, [(job, daemons[d][1], tls(version, cert))
                                  for job, d, version, cert, _ in jobs])
    watched = [child for child, _ in daemons.values()]
    api, prom = start_prometheus(args, tmp, deadline, children, watched)
    watched.append(prom)

    def all_scraped_as_expected():
        targets = scraped_targets(api)
        waiting, wrong = [], []
        for job, _, _, _, want in jobs:
            t = targets.get(job)
            if t is None:
                waiting.append(job + " (not scraped yet)")
            elif t["health"] != want or (want == "down" and not t["lastError"]):
                wrong.append("job %s: target %s, expected %s: %s"
                             % (job, t["health"], want, t["lastError"] or "no error"))
            elif want == "up" and not api.query('llm_log_exporter_build_info{job="%s"}' % job):
                waiting.append(job + " (no llm_log_exporter_build_info yet)")
        if waiting:
            raise NotYet(", ".join(waiting))
        if wrong:
            fail("\n  ".join(["Prometheus scraped some jobs other than expected:"] + wrong))
        return targets

    targets = wait_for(deadline, "every job to be scraped", all_scraped_as_expected, watched)
    for job, d, version, cert, want in jobs:
        t = targets[job]
        print("  ok  %-24s %-10s %s %-9s -> %s%s"
              % (job, d, version, "cert" if cert else "no cert", t["health"],
                 "" if want == "up" else " (%s)" % t["lastError"]), flush=True)


# --------------------------------------------------------------- exemplars

# What Prometheus 2.42 sends (scrape/scrape.go, scrapeAcceptHeader).
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
SLOW_TRACE = "5c1d0e2a4b7f4e3d9a8b7c6d5e4f3a2b"


def get_metrics(port, headers):
    """(status, headers, body) of GET /metrics with `headers`."""
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port, headers=headers)
    with _opener.open(req, timeout=5) as r:
        return r.status, r.headers, r.read()


def run_exemplars(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    # The preset, with request ids as exemplars too (they are opt-in).
    with open(os.path.join(args.repo, "config", "qwen.yaml")) as f:
        preset = f.read()
    if "\nrequests:\n" not in preset:
        fail("config/qwen.yaml has no top-level 'requests:' line to add request_id_fields to")
    config = os.path.join(tmp, "exemplars.yaml")
    with open(config, "w") as f:
        f.write(preset.replace("\nrequests:\n", "\nrequests:\n  request_id_fields: [request_id]\n", 1))
    daemon, port = start_daemon(args, children, deadline, ["--config.file=" + config],
                                stdin=subprocess.PIPE)
    lines = []
    for i in range(20):  # fast requests, each with a trace id of its own
        lines.append({"status": "success", "total_time_ms": 100 + 10 * i,
                      "trace_id": "%032x" % (i + 1)})
    # The slow one, as a W3C traceparent: its trace-id part is the exemplar.
    lines.append({"status": "success", "total_time_ms": 90000,
                  "traceparent": "00-%s-00f067aa0ba902b7-01" % SLOW_TRACE})
    lines.append({"status": "error", "total_time_ms": 250, "request_id": "req-error-1"})
    # Over 128 code points with its label name: dropped, counted as a field error.
    lines.append({"status": "success", "total_time_ms": 120, "trace_id": "x" * 200})
    daemon.proc.stdin.write("".join(json.dumps(l) + "\n" for l in lines).encode())
    daemon.proc.stdin.flush()

    def counted():
        _, _, body = get_metrics(port, {})
        return re.search(rb"^qwen_requests_total\{status=\"error\"\} 1$", body, re.M) and body

    text = wait_for(deadline, "the daemon to count the requests", counted, [daemon]).decode()
    if "# {" in text or "# EOF" in text:
        fail("the 0.0.4 text (no Accept header) has OpenMetrics exemplars or # EOF")
    dropped = 'llm_log_exporter_field_errors_total{field="trace_id",reason="out_of_range"} 1\n'
    if dropped not in text:
        fail("the over-long trace id was not counted: no %r" % dropped)
    print("  ok  no Accept: 0.0.4 text without exemplars; over-long trace id counted", flush=True)

    for encoding in ("identity", "gzip"):
        status, headers, body = get_metrics(port, {"Accept": PROMETHEUS_ACCEPT,
                                                   "Accept-Encoding": encoding})
        if headers.get("Content-Type") != OPENMETRICS:
            fail("Accept as Prometheus sends it: Content-Type %r, expected %r"
                 % (headers.get("Content-Type"), OPENMETRICS))
        if encoding == "gzip":
            if headers.get("Content-Encoding") != "gzip":
                fail("OpenMetrics with Accept-Encoding gzip came uncompressed")
            body = gzip.decompress(body)
        om = body.decode()
        if not om.endswith("# EOF\n") or om.count("# EOF") != 1:
            fail("OpenMetrics text does not end with one # EOF line: ...%r" % om[-80:])
        if "# TYPE qwen_requests counter\n" not in om:
            fail("OpenMetrics names the counter family without _total: no "
                 "'# TYPE qwen_requests counter'")
        slow = re.search(r'^qwen_request_duration_seconds_bucket\{le="([^"]+)"\} \d+ '
                         r'# \{trace_id="%s"\} 90 [0-9.]+$' % SLOW_TRACE, om, re.M)
        if not slow:
            fail("no bucket of qwen_request_duration_seconds has the slow request's exemplar")
        print("  ok  Accept-Encoding %s: %s, # EOF, slow trace on le=%s"
              % (encoding, headers.get("Content-Type"), slow.group(1)), flush=True)

    write_prometheus_config(tmp, [("exemplars", port, [])])
    api, prom = start_prometheus(args, tmp, deadline, children, [daemon],
                                 flags=["--enable-feature=exemplar-storage"])
    with open(os.path.join(args.repo, "deploy", "grafana", "dashboard.json")) as f:
        dash = json.load(f)
    marked = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])
              if t.get("exemplar")]
    if not marked:
        fail("no dashboard target has exemplar: true")

    def exemplars(expr):
        now = time.time()
        return api.get("/api/v1/query_exemplars", query=expr, start=now - 600, end=now + 60)

    def trace_ids(expr):
        out = {}
        for series in exemplars(expr):
            for e in series["exemplars"]:
                out[e["labels"].get("trace_id") or e["labels"].get("request_id")] = (
                    series["seriesLabels"], float(e["value"]))
        return out

    def slow_in_prometheus():
        target = scraped_targets(api).get("exemplars")
        if target and target["health"] == "down":
            fail("Prometheus marked the target down: %s" % target["lastError"])
        return SLOW_TRACE in trace_ids(substitute_grafana(marked[0])) or None

    wait_for(deadline, "Prometheus to store the slow request's exemplar", slow_in_prometheus,
             [daemon, prom])
    labels, value = trace_ids(substitute_grafana(marked[0]))[SLOW_TRACE]
    if value != 90 or labels.get("__name__") != "qwen_request_duration_seconds_bucket":
        fail("slow exemplar on %s with value %r, expected a qwen_request_duration_seconds "
             "bucket and 90" % (labels, value))
    print("  ok  query_exemplars(%s): trace_id %s, value 90, on le=%s"
          % (marked[0][:60] + "...", SLOW_TRACE, labels.get("le")), flush=True)
    counter = trace_ids('qwen_requests_total{job="exemplars"}')
    if "req-error-1" not in counter:
        fail("qwen_requests_total{status=error} has no request_id exemplar: %s" % counter)
    print("  ok  qwen_requests_total exemplars: %s" % sorted(counter), flush=True)

    # The panel's link: Grafana follows an exemplar's label named by the
    # Prometheus data source's exemplarTraceIdDestinations.
    with open(os.path.join(args.repo, "deploy", "grafana", "datasources.yml")) as f:
        provisioning = f.read()
    if not re.search(r"exemplarTraceIdDestinations:\s*\n\s*- name: trace_id\n\s*datasourceUid: (\S+)",
                     provisioning):
        fail("deploy/grafana/datasources.yml links no trace_id exemplar to a data source")
    print("  ok  datasources.yml links trace_id exemplars to the tracing data source", flush=True)


# --------------------------------------------------------------------- native

# Prometheus 2.42's scrapeAcceptHeaderWithProtobuf (native histograms enabled).
NATIVE_ACCEPT = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                 "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                 "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                 "q=0.5,*/*;q=0.1")
PROTOBUF = ("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
            "encoding=delimited")
NATIVE_CONFIG = """namespace: e2e
requests: {keys: [status]}
metrics:
  - name: latency_seconds
    type: histogram
    value: total_time_ms
    scale: 0.001
    buckets: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240]
    native: {bucket_factor: 1.1}
"""


def run_native(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    config = os.path.join(tmp, "native.yaml")
    with open(config, "w") as f:
        f.write(NATIVE_CONFIG)
    daemon, port = start_daemon(args, children, deadline, ["--config.file=" + config],
                                stdin=subprocess.PIPE)
    _, headers, _ = get_metrics(port, {"Accept": NATIVE_ACCEPT})
    if headers.get("Content-Type") != PROTOBUF:
        fail("Accept as Prometheus sends it with native histograms: Content-Type %r, expected %r"
             % (headers.get("Content-Type"), PROTOBUF))
    print("  ok  native-histograms Accept: %s" % PROTOBUF, flush=True)

    # Two Prometheus servers, each with its own directory: native and classic.
    apis, proms = {}, []
    for name, flags in (("native", ["--enable-feature=native-histograms",
                                    "--enable-feature=exemplar-storage"]), ("classic", [])):
        sub = os.path.join(tmp, name)
        os.mkdir(sub)
        write_prometheus_config(sub, [(name, port, [])])
        apis[name], prom = start_prometheus(args, sub, deadline, children, [daemon], flags=flags)
        proms.append(prom)
    # The empty histogram is scraped first, so that rate() sees the requests arrive.
    wait_for(deadline, "both servers to store the empty histogram",
             lambda: apis["native"].query("histogram_count(e2e_latency_seconds)") and
             apis["classic"].query("e2e_latency_seconds_count"), [daemon] + proms)

    # 980 fast requests, 20 slow ones from 61 s to 65.75 s: P99 is the 10th slow one.
    # The slowest carries a trace id: its exemplar rides on the native histogram.
    durations_ms = [100 + i for i in range(980)] + [61000 + 250 * k for k in range(20)]
    lines = [{"status": "success", "total_time_ms": d} for d in durations_ms]
    lines[-1]["trace_id"] = SLOW_TRACE
    daemon.proc.stdin.write("".join(json.dumps(l) + "\n" for l in lines).encode())
    daemon.proc.stdin.flush()
    ordered = sorted(durations_ms)
    exact = ordered[math.ceil(0.99 * len(ordered)) - 1] / 1000
    text = wait_for(deadline, "the daemon to count the requests",
                    lambda: (lambda b: b"e2e_latency_seconds_count 1000\n" in b and b)(
                        get_metrics(port, {})[2]), [daemon]).decode()
    check = subprocess.run([args.promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=max(1.0, deadline.left()))
    if check.returncode not in (0, 3):  # 3: lint warnings only
        fail("promtool check metrics on the text format: %s%s" % (check.stdout, check.stderr))
    print("  ok  promtool check metrics on the text format", flush=True)

    def stored(api, expr):
        res = api.query(expr)
        return bool(res) and res[0][1] == 1000

    wait_for(deadline, "both servers to store the 1000 requests",
             lambda: stored(apis["native"], "histogram_count(e2e_latency_seconds)") and
             stored(apis["classic"], "e2e_latency_seconds_count"), [daemon] + proms)
    native = apis["native"].scalar("histogram_quantile(0.99, rate(e2e_latency_seconds[5m]))")
    classic = apis["classic"].scalar(
        "histogram_quantile(0.99, rate(e2e_latency_seconds_bucket[5m]))")
    bound = 2 ** (2 ** -3) - 1  # schema 3: a bucket's upper bound over its lower one, minus 1
    native_error = abs(native - exact) / exact
    classic_error = abs(classic - exact) / exact
    print("  exact P99 %.4f s; native %.4f s (%.2f %%, bound %.2f %%); classic %.4f s (%.2f %%)"
          % (exact, native, 100 * native_error, 100 * bound, classic, 100 * classic_error),
          flush=True)
    if not native_error <= bound:
        fail("the native P99 %r is %.2f %% from the exact %r: over the schema's %.2f %%"
             % (native, 100 * native_error, exact, 100 * bound))
    if not classic_error > 4 * bound:
        fail("the classic P99 %r is only %.2f %% from the exact %r: the test shows no gain"
             % (classic, 100 * classic_error, exact))
    print("  ok  native P99 within the schema's error; classic off by %.1f s in a 60 s bucket"
          % abs(classic - exact), flush=True)

    # Prometheus 2.42 takes a native histogram's exemplars from its classic
    # buckets (protobuf), as client_golang writes them.
    def slow_exemplar():
        now = time.time()
        for series in apis["native"].get("/api/v1/query_exemplars", query="e2e_latency_seconds",
                                         start=now - 600, end=now + 60):
            for e in series["exemplars"]:
                if e["labels"].get("trace_id") == SLOW_TRACE:
                    return series["seriesLabels"], float(e["value"])
        return None

    labels, value = wait_for(deadline, "the native server to store the slow request's exemplar",
                             slow_exemplar, [daemon] + proms)
    if value != durations_ms[-1] / 1000 or labels.get("__name__") != "e2e_latency_seconds":
        fail("slow exemplar on %s with value %r, expected e2e_latency_seconds and %r"
             % (labels, value, durations_ms[-1] / 1000))
    print("  ok  query_exemplars(e2e_latency_seconds) on the native server: trace_id %s, value %r"
          % (SLOW_TRACE, value), flush=True)
    # Prometheus 2.42 stores only the native series of a histogram that has
    # native buckets (docs/metrics.md says so); later versions may keep both.
    print("  native server's classic series: %d"
          % len(apis["native"].query("e2e_latency_seconds_bucket")), flush=True)


CASES = {"huge-number": run_huge_number, "mtls": run_mtls, "exemplars": run_exemplars,
         "native": run_native}


def add_arguments(ap):
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--openssl", help="path of the openssl CLI (case mtls)")


if __name__ == "__main__":
    sys.exit(main(lambda args, tmp, children: CASES[args.case](args, tmp, children),
                  __doc__, add_arguments))
