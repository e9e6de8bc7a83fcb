"""What bench/redis_speed.py and bench/kafka_speed.py share: the sample and
its reference counts, scrapes, CPU seconds, and the lag figures.

Standard library only.
"""
import os
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def say(*args):
    print("#", *args, file=sys.stderr, flush=True)


def build_dir(build):
    """BUILD as given if it is a directory here, else relative to the repository."""
    if not os.path.isabs(build) and not os.path.isdir(build):
        return os.path.join(REPO, build)
    return build


def sample_and_reference(build, lines):
    """`lle_sample_log LINES 42`'s bytes, and what `--once` counts of them:
    qwen_requests_total by status, the reference an input must equal."""
    sample = subprocess.run([os.path.join(build, "lle_sample_log"), str(lines), "42"],
                            check=True, capture_output=True, timeout=120).stdout
    once = subprocess.run([os.path.join(build, "llm_log_exporter"), "--once"], input=sample,
                          check=True, capture_output=True, timeout=300).stdout.decode()
    expected = {}
    for line in once.splitlines():
        if line.startswith('qwen_requests_total{status="'):
            expected[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
    return sample, expected


def cpu_seconds(pid):
    """utime + stime of a process, all its threads, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.read().decode()


def value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def lines_counted(text, source_prefixes):
    """llm_log_exporter_lines_total summed over the sources starting with one of these."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("llm_log_exporter_lines_total{") and any(
                'source="' + prefix in line for prefix in source_prefixes):
            total += float(line.rsplit(" ", 1)[1])
    return total


def lag_figures(lags):
    """p50, p99 and max of the lag samples (lines)."""
    lags = sorted(lags)
    return {"lag_p50": lags[len(lags) // 2],
            "lag_p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))],
            "lag_max": lags[-1]}


def check_reference(text, expected, what=""):
    """Exits unless the scrape's qwen_requests_total equals `expected` by status."""
    for status, count in expected.items():
        got = value(text, 'qwen_requests_total{status="%s"}' % status)
        if got != count:
            raise SystemExit("%sqwen_requests_total{status=%s} %s, expected %d" %
                             (what, status, got, count))


def steady_lag(port, sources, lines, rate, seconds, send):
    """Writes `lines` (cycling) at `rate` lines/s for `seconds`, a batch every
    10 ms on an absolute schedule through send(batch), and samples the lag
    every 50 ms: lines written minus lines counted since the start, as
    /metrics shows them. Returns the lag figures and the rate written."""
    lags = []
    written = 0
    base = lines_counted(scrape(port), sources)
    t_start = time.monotonic()
    next_sample = t_start
    per_tick = max(1, rate // 100)
    tick = 0
    while True:
        now = time.monotonic()
        if now - t_start >= seconds:
            break
        due = t_start + tick * 0.01
        if now >= due:
            send([lines[(written + i) % len(lines)] for i in range(per_tick)])
            written += per_tick
            tick += 1
        if now >= next_sample:
            lags.append(written - (lines_counted(scrape(port), sources) - base))
            next_sample += 0.05
        time.sleep(max(0.0, min(due + 0.01, next_sample) - time.monotonic()))
    return dict(lag_figures(lags), rate=written / seconds)
