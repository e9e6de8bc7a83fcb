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

Standard library only; the helpers (processes, polling with a deadline,
clean-up on every exit path) are those of prometheus_e2e.py. Nothing sleeps a
fixed time; everything polls with a 60 s deadline.
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # importing the helpers leaves no __pycache__ in the source tree
from prometheus_e2e import (Deadline, Child, NotYet, OVERALL_TIMEOUT_S, fail, http_get, main,
                            start_prometheus, wait_for)

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


CASES = {"huge-number": run_huge_number, "mtls": run_mtls}


def add_arguments(ap):
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--openssl", help="path of the openssl CLI (case mtls)")


if __name__ == "__main__":
    sys.exit(main(lambda args, tmp, children: CASES[args.case](args, tmp, children),
                  __doc__, add_arguments))
