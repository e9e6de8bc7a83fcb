#!/usr/bin/python3
"""Lines/s from a Kafka topic (issue 19), and the lag at a steady rate.

usage: kafka_speed.py [--build build] [--lines 1000000] [--partitions 128] [--brokers 1]
                      [--rate 20000] [--rate-seconds 5] [--option KEY=VALUE ...]

librdkafka's mock cluster (`lle_kafka_mock`, the tests' helper: a real Kafka
protocol server in a process of its own, on kernel-chosen ports; BROKERS
brokers, which lead the partitions in turn) gets a topic
of PARTITIONS partitions, filled with LINES request lines of
`lle_sample_log LINES 42`, one message each (the raw format, keyed k0, k1,
... to spread them evenly), by `kcat -P` from a file. The mock keeps only the
last 5 MB of each partition (librdkafka 2.0's rdkafka_mock.c), hence 128
partitions for 1 M lines; the fill is checked (every message still held).
Its empty lines are no line for the Kafka input: the count expected is of
the others, the rate is LINES over the time. Then the exporter
(`--input.kafka.start=earliest`, a group of its own, default flags
otherwise) is started and timed until the scrape at
which `llm_log_exporter_lines_total` for the topic reaches that count (scrapes
every 20 ms). Two figures: from its start (start-up and the group's join
included: the mock coordinator waits 3 s before a new group's first
assignment), and from its `partition(s) assigned` log line, which is the
reading speed. Its `qwen_requests_total` must then equal `--once`'s on the
same lines, by status. CPU seconds of the exporter and of the mock cluster
over that time come from /proc/PID/stat.

Then, with the exporter still running, a `kcat -P` writer adds lines at
`--rate` lines/s for `--rate-seconds` (a batch every 10 ms, on an absolute
schedule; kcat's own linger.ms is set to 0), and the lag is sampled every
50 ms: the lines written minus the lines counted, as /metrics shows them
(p50, p99, max, in lines and in ms at that rate).

Prints a Markdown table on stdout, progress on stderr. Standard library only;
every wait is bounded.
"""
import argparse
import os
import subprocess
import tempfile
import threading
import time

from queue_bench import (build_dir, check_reference, cpu_seconds, lines_counted,
                         sample_and_reference, say, scrape, steady_lag)

# The `source` label of this input's lines.
SOURCES = ("kafka://",)

TOPIC = "llm-logs"


class Stderr:
    """The exporter's stderr, read on a thread: when each awaited text first came."""

    def __init__(self, proc):
        self.proc = proc
        self.seen = {}
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            with self.cond:
                self.lines.append(line)
                for text in ("listening on 127.0.0.1:", "partition(s) assigned"):
                    if text in line and text not in self.seen:
                        self.seen[text] = (now, line)
                self.cond.notify_all()
        with self.cond:
            self.seen["eof"] = (time.monotonic(), "")
            self.cond.notify_all()

    def wait(self, text, deadline):
        with self.cond:
            while text not in self.seen:
                if "eof" in self.seen:
                    raise SystemExit("exporter exited: " + "".join(self.lines[-20:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit("exporter never logged %r: %s" %
                                     (text, "".join(self.lines[-20:])))
                self.cond.wait(left)
            return self.seen[text]


def kcat_producer(bootstrap):
    return ["kcat", "-P", "-b", bootstrap, "-t", TOPIC, "-X", "log_level=3",
            "-X", "linger.ms=0"]


def run(args, lines, sample, expected):
    # An empty line is an empty message (or none, as kcat goes): no line, for
    # the Kafka input, which counts it in input_entries_skipped_total instead.
    nonempty = sum(1 for line in lines if line)
    mock_exe = os.path.join(args.build, "tests", "lle_kafka_mock")
    mock = subprocess.Popen([mock_exe, "--brokers", str(args.brokers),
                             "%s:%d" % (TOPIC, args.partitions)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    exporter = None
    writer = None
    try:
        bootstrap = mock.stdout.readline().strip()
        if not bootstrap:
            raise SystemExit("lle_kafka_mock printed no bootstrap address")
        say("mock cluster at", bootstrap, "; filling", len(lines), "messages")
        t0 = time.monotonic()
        # Keyed k0, k1, ...: spread evenly over the partitions (the mock keeps
        # only the last 5 MB of each).
        with tempfile.TemporaryFile() as f:
            f.write(b"".join(b"k%d\x1f%s\n" % (i, line) for i, line in enumerate(lines)))
            f.seek(0)
            subprocess.run(kcat_producer(bootstrap)[:-2] + ["-K", "\\x1f"], stdin=f, check=True,
                           timeout=600)
        left = [int(x.split()[-1]) - int(y.split()[-1]) for x, y in (
            (subprocess.run(["kcat", "-Q", "-b", bootstrap, "-X", "log_level=3", "-t",
                             "%s:%d:%d" % (TOPIC, p, when)], check=True, capture_output=True,
                            text=True, timeout=60).stdout for when in (-1, -2))
            for p in range(args.partitions))]
        if sum(left) != len(lines):
            raise SystemExit("the topic holds %d messages of %d: the mock cluster keeps 5 MB "
                             "per partition, use more --partitions" % (sum(left), len(lines)))
        say("filled in %.1f s" % (time.monotonic() - t0))
        exe = os.path.join(args.build, "llm_log_exporter")
        cpu_mock0 = cpu_seconds(mock.pid)
        start = time.monotonic()
        exporter = subprocess.Popen(
            [exe, "--web.listen-address=127.0.0.1:0", "--log.level=info",
             "--input.kafka.brokers=" + bootstrap, "--input.kafka.topic=" + TOPIC,
             "--input.kafka.start=earliest", "--input.kafka.group=bench",
             "--input.kafka.option=session.timeout.ms=6000"] +
            ["--input.kafka.option=" + o for o in args.option],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        err = Stderr(exporter)
        _, line = err.wait("listening on 127.0.0.1:", start + 10)
        port = int(line.split("listening on 127.0.0.1:")[1].split()[0].rstrip(")"))
        assigned, _ = err.wait("partition(s) assigned", start + 60)
        deadline = start + 600
        while True:
            text = scrape(port)
            if lines_counted(text, SOURCES) >= nonempty:
                break
            if time.monotonic() > deadline:
                raise SystemExit("only %d of %d lines after 600 s" %
                                 (lines_counted(text, SOURCES), nonempty))
            time.sleep(0.02)
        done = time.monotonic()
        # A scrape merges the self-metrics and the other series one after the
        # other: the last batch may land between the two. Every line is
        # applied now: check the next scrape.
        text = scrape(port)
        cpu_exporter = cpu_seconds(exporter.pid)
        cpu_mock = cpu_seconds(mock.pid) - cpu_mock0
        if lines_counted(text, SOURCES) != nonempty:
            raise SystemExit("%d lines counted, %d produced" %
                             (lines_counted(text, SOURCES), nonempty))
        check_reference(text, expected)
        # Steady rate; kcat takes a line per message (an empty one as "{}").
        writer = subprocess.Popen(kcat_producer(bootstrap), stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def send(batch):
            writer.stdin.write(b"".join((b or b"{}") + b"\n" for b in batch))
            writer.stdin.flush()

        return {
            "seconds": done - start,
            "read_seconds": done - assigned,
            "cpu_exporter": cpu_exporter,
            "cpu_mock": cpu_mock,
            **steady_lag(port, SOURCES, lines, args.rate, args.rate_seconds, send),
        }
    finally:
        if writer is not None:
            writer.stdin.close()
            try:
                writer.wait(timeout=10)
            except subprocess.TimeoutExpired:
                writer.kill()
        if exporter is not None:
            exporter.terminate()
            try:
                exporter.wait(timeout=20)
            except subprocess.TimeoutExpired:
                exporter.kill()
        mock.stdin.close()
        try:
            mock.wait(timeout=10)
        except subprocess.TimeoutExpired:
            mock.kill()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--lines", type=int, default=1000000)
    p.add_argument("--partitions", type=int, default=128)
    p.add_argument("--brokers", type=int, default=1)
    p.add_argument("--rate", type=int, default=20000)
    p.add_argument("--rate-seconds", type=float, default=5)
    p.add_argument("--option", action="append", default=[],
                   help="KEY=VALUE: an --input.kafka.option for the exporter, repeatable")
    args = p.parse_args()
    args.build = build_dir(args.build)
    sample, expected = sample_and_reference(args.build, args.lines)
    lines = sample.splitlines()
    r = run(args, lines, sample, expected)
    say(r)
    print("| Kafka | lines | partitions / brokers | s from start / from assignment | lines/s (from assignment) "
          "| CPU s exporter / mock cluster | steady rate lines/s | lag p50 / p99 / max lines "
          "| lag p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("| raw | {:,} | {} / {} | {:.2f} / {:.2f} | {:,.0f} | {:.2f} / {:.2f} | {:,.0f} | "
          "{} / {} / {} | {:.1f} |".format(
              args.lines, args.partitions, args.brokers, r["seconds"], r["read_seconds"],
              args.lines / r["read_seconds"], r["cpu_exporter"], r["cpu_mock"], r["rate"],
              r["lag_p50"], r["lag_p99"], r["lag_max"], 1000.0 * r["lag_p99"] / r["rate"]))


if __name__ == "__main__":
    main()
