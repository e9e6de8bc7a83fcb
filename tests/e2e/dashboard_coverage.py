#!/usr/bin/env python3
"""Static check of deploy/grafana/dashboard.json, without Prometheus: the lint
of prometheus_e2e.py (variables, data sources, $instance on every selector,
$__rate_interval on every range) and the coverage check: every metric family
docs/metrics.md and README.md name is on a panel, or listed in
prometheus_e2e.NO_PANEL with the reason it is not.

    python3 tests/e2e/dashboard_coverage.py --repo .

Exit code 0 on pass, 1 with the problems listed.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prometheus_e2e as e2e  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", required=True, help="repository root")
    args = ap.parse_args()
    try:
        dash, targets = e2e.dashboard_targets(
            os.path.join(args.repo, "deploy", "grafana", "dashboard.json"))
        e2e.lint_dashboard(dash, targets)
        families = e2e.check_coverage(args.repo, dash, targets)
    except e2e.TestFailure as e:
        print("FAIL: %s" % e)
        return 1
    print("PASS: %d documented metric families; %d on panels (%d expressions), %d without a "
          "panel on purpose: %s" % (len(families), len(families) - len(e2e.NO_PANEL),
                                    len(targets), len(e2e.NO_PANEL),
                                    ", ".join(sorted(e2e.NO_PANEL))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
