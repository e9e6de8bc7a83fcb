#!/usr/bin/env python3
"""Focused scrape tests: a real Prometheus server scraping llm_log_exporter.

Run by ctest (tests/e2e/CMakeLists.txt), one entry per case; by hand:

    python3 tests/e2e/prometheus_scrape_e2e.py --case huge-number \
        --exporter build/llm_log_exporter --prometheus /usr/bin/prometheus \
        --promtool /usr/bin/promtool --repo .

Cases (issue 17):

huge-number  A request line with output_tokens 1.7976931348623157e308 (the
             largest double). Printed with 16 digits it read back as out of
             range, and Prometheus dropped every scrape. Checks that `up`
             stays 1 over three scrapes and that Prometheus stores exactly
             that double.

Standard library only; the helpers (processes, polling with a deadline,
clean-up on every exit path) are those of prometheus_e2e.py. Nothing sleeps a
fixed time; everything polls with a 60 s deadline.
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # importing the helpers leaves no __pycache__ in the source tree
from prometheus_e2e import (Deadline, Child, OVERALL_TIMEOUT_S, fail, http_get, main,
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


CASES = {"huge-number": run_huge_number}


def add_arguments(ap):
    ap.add_argument("--case", required=True, choices=sorted(CASES))


if __name__ == "__main__":
    sys.exit(main(lambda args, tmp, children: CASES[args.case](args, tmp, children),
                  __doc__, add_arguments))
