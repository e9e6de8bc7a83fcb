#!/usr/bin/env python3
"""The landing page (GET /) as a real browser renders it: headless Chromium.

Run by ctest (tests/e2e/CMakeLists.txt); by hand:

    python3 tests/e2e/landing_page_e2e.py --exporter build/llm_log_exporter \
        --chromium /usr/bin/chromium --repo .

The daemon runs on 127.0.0.1:0 with the HTTP ingest endpoint, a config file
and two followed files, whose paths hold HTML metacharacters (`<b>`, `&`,
quotes): one exists and gets known lines (3 requests, 1 event, 2 not JSON),
the other never exists. Once /metrics counts those lines, `chromium
--headless --dump-dom` loads the page and the DOM it dumps (after parsing,
so escaping mistakes show as stray elements) must show:

- a row per input: stdin (not read), HTTP ingest (accepting at its path), the
  file with its lines by result and bytes, the missing file as not readable;
- the config file's path, verbatim, and its load at start as successful;
- the last request line's time (not "none yet");
- the links to /metrics, /-/healthy and /-/ready.

Then the config file is broken and SIGHUP sent: once /metrics says the reload
failed, the page must say so, with the error, and count one failed reload.

Last, a second daemon reads the same lines from stdin to its end, with the
built-in preset: its page shows stdin alone, at its end, with those counts,
and the config as "built-in preset".

Standard library only, helpers from prometheus_e2e.py. Nothing sleeps a fixed
time; everything polls with a 60 s deadline.
"""

import argparse
import html.parser
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # importing the helpers leaves no __pycache__ in the source tree
from prometheus_e2e import (Child, Deadline, NotYet, OVERALL_TIMEOUT_S, TestFailure, fail,
                            http_get, parse_exposition, wait_for)

# Names with every character HTML escaping must handle.
FILE_NAME = 'a<b>&"c\'.log'
MISSING_NAME = "missing <i>.log"
CONFIG_DIR = "conf <script>&x"

LINES = (
    '{"status":"success","total_time_ms":120,"input_tokens":30,"output_tokens":4}\n'
    '{"status":"success","total_time_ms":340,"input_tokens":30,"output_tokens":4}\n'
    '{"status":"error","total_time_ms":5000}\n'
    '{"level":"warning","message":"slow"}\n'
    "not json at all\n"
    "neither is this\n"
)
WANT_RESULTS = {"request": 3, "event": 1, "not_json": 2, "invalid_utf8": 0, "too_long": 0,
                "dropped": 0}


def label_value(text):
    """`text` as a label value in the text exposition format."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Dom(html.parser.HTMLParser):
    """The elements of a page with their attributes and text (their own and
    their descendants'), in document order."""

    VOID = {"meta", "link", "br", "hr", "img", "input"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements = []  # dicts: tag, attrs, text
        self._open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open:
            if self._open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"] += data

    def find(self, tag, **attrs):
        return [e for e in self.elements
                if e["tag"] == tag and all(e["attrs"].get(k) == v for k, v in attrs.items())]

    def one(self, tag, **attrs):
        found = self.find(tag, **attrs)
        if len(found) != 1:
            fail("expected one <%s %s> in the page, found %d" % (tag, attrs, len(found)))
        return found[0]


def dump_dom(args, tmp, port, deadline):
    """The DOM headless Chromium renders for the landing page (a fresh profile each time)."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
    argv = [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + profile, "--dump-dom", "http://127.0.0.1:%d/" % port]
    try:
        run = subprocess.run(argv, capture_output=True, text=True,
                             timeout=max(1.0, deadline.left()))
    except subprocess.TimeoutExpired:
        fail("chromium did not finish before the deadline")
    if run.returncode != 0 or "<html" not in run.stdout:
        fail("chromium exited %d; stdout:\n%s\nstderr:\n%s"
             % (run.returncode, run.stdout[-2000:], run.stderr[-2000:]))
    return Dom(run.stdout)


def input_rows(dom):
    """{source: {"kind", "state", "bytes", "lines", result: count}} from table#inputs."""
    rows = {}
    # html.parser gives elements flat: walk them, tracking the current row.
    current = None
    in_inputs = False
    for e in dom.elements:
        if e["tag"] == "table":
            in_inputs = e["attrs"].get("id") == "inputs"
        if not in_inputs:
            continue
        if e["tag"] == "tr" and "data-source" in e["attrs"]:
            current = {"cells": []}
            rows[e["attrs"]["data-source"]] = current
        elif e["tag"] == "td" and current is not None:
            current["cells"].append(e)
    out = {}
    for source, row in rows.items():
        texts = [c["text"] for c in row["cells"]]
        if len(texts) < 5:
            fail("input row %r has %d cells: %s" % (source, len(texts), texts))
        entry = {"name": texts[0], "kind": texts[1], "state": texts[2], "bytes": int(texts[3]),
                 "lines": int(texts[4])}
        for c in row["cells"][5:]:
            entry[c["attrs"].get("data-result")] = int(c["text"])
        out[source] = entry
    return out


def config_rows(dom):
    """{th text: td text} of table#config."""
    out = {}
    in_config = False
    key = None
    for e in dom.elements:
        if e["tag"] == "table":
            in_config = e["attrs"].get("id") == "config"
        if not in_config:
            continue
        if e["tag"] == "th":
            key = e["text"]
        elif e["tag"] == "td" and key is not None:
            out[key] = e["text"]
            key = None
    return out


def run(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    log = os.path.join(tmp, FILE_NAME)
    missing = os.path.join(tmp, MISSING_NAME)
    config_dir = os.path.join(tmp, CONFIG_DIR)
    os.mkdir(config_dir)
    config = os.path.join(config_dir, "qwen & co.yaml")
    shutil.copy(os.path.join(args.repo, "config", "qwen.yaml"), config)
    with open(log, "w") as f:
        f.write("")
    daemon = Child("llm_log_exporter",
                   [args.exporter, "--web.listen-address=127.0.0.1:0", "--ingest.enable",
                    "--config.file", config, "--input.file", log, "--input.file", missing],
                   stdin=subprocess.DEVNULL)
    children.append(daemon)
    port = int(wait_for(deadline, "the daemon's 'listening on 127.0.0.1:PORT' line",
                        lambda: daemon.find(r"listening on 127\.0\.0\.1:(\d+)"),
                        [daemon]).group(1))
    with open(log, "a") as f:
        f.write(LINES)

    def scrape():
        status, body = http_get("http://127.0.0.1:%d/metrics" % port)
        if status != 200:
            raise NotYet("/metrics answered %d" % status)
        return parse_exposition(body.decode())

    def file_lines_counted():
        samples = scrape()
        got = {result: samples.get('llm_log_exporter_lines_total{source="%s",result="%s"}'
                                   % (label_value(log), result))
               for result in WANT_RESULTS}
        if got != WANT_RESULTS:
            raise NotYet("lines of the file: %s" % got)
        return True

    wait_for(deadline, "the file's lines in /metrics", file_lines_counted, [daemon])

    dom = dump_dom(args, tmp, port, deadline)
    # Escaping: not one element made of the names' metacharacters.
    for tag in ("b", "i", "script"):
        if dom.find(tag):
            fail("a <%s> element in the page: a name was not escaped" % tag)
    rows = input_rows(dom)
    if set(rows) != {"stdin", "http", log, missing}:
        fail("input rows %s, want stdin, http, %r and %r" % (sorted(rows), log, missing))
    if rows[log]["name"] != log:
        fail("the file's name shows as %r, want %r" % (rows[log]["name"], log))
    for result, want in WANT_RESULTS.items():
        if rows[log].get(result) != want:
            fail("the file's %s lines show as %s, want %d" % (result, rows[log].get(result), want))
    if rows[log]["lines"] != sum(WANT_RESULTS.values()) or rows[log]["bytes"] != len(LINES):
        fail("the file's totals: %s lines, %s bytes; want %d and %d"
             % (rows[log]["lines"], rows[log]["bytes"], sum(WANT_RESULTS.values()), len(LINES)))
    if rows[log]["state"] != "open, reading":
        fail("the file's state: %r" % rows[log]["state"])
    if not rows[missing]["state"].startswith("not readable"):
        fail("the missing file's state: %r" % rows[missing]["state"])
    if rows["stdin"]["state"] != "not read (--input.file given)":
        fail("stdin's state: %r" % rows["stdin"]["state"])
    if rows["http"]["kind"] != "HTTP ingest" or "/api/v1/logs" not in rows["http"]["state"]:
        fail("the HTTP ingest row: %s" % rows["http"])
    conf = config_rows(dom)
    if conf.get("config") != config:
        fail("config shows as %r, want %r" % (conf.get("config"), config))
    if "UTC" not in conf.get("last load (at start)", "") or conf.get("last load successful") != "yes":
        fail("config rows: %s" % conf)
    last_request = dom.one("p", id="last-request")["text"]
    if "UTC" not in last_request:
        fail("last request line: %r" % last_request)
    links = {a["attrs"].get("href") for a in dom.find("a")}
    if not {"/metrics", "/-/healthy", "/-/ready"} <= links:
        fail("links: %s" % links)
    print("page after start: inputs %s, config %s, %s" % (rows, conf, last_request), flush=True)

    # A reload that fails: the page says so, and why.
    with open(config, "w") as f:
        f.write("metrics: [this is not a config\n")
    daemon.proc.send_signal(signal.SIGHUP)

    def reload_failed():
        if scrape().get("llm_log_exporter_config_last_reload_successful") == 0:
            return True
        raise NotYet("llm_log_exporter_config_last_reload_successful is not 0")

    wait_for(deadline, "the failed reload in /metrics", reload_failed, [daemon])
    dom = dump_dom(args, tmp, port, deadline)
    conf = config_rows(dom)
    if not conf.get("last load successful", "").startswith("no"):
        fail("after a failed reload, config rows: %s" % conf)
    if "UTC" not in conf.get("last reload", "") or not conf.get("error"):
        fail("after a failed reload, config rows: %s" % conf)
    if not conf.get("reloads", "").startswith("0 successful, 1 failed"):
        fail("reload counts: %r" % conf.get("reloads"))
    print("page after a failed reload: %s" % conf, flush=True)

    # stdin, read to its end, with the built-in preset and no ingest.
    piped = Child("llm_log_exporter (stdin)",
                  [args.exporter, "--web.listen-address=127.0.0.1:0"], stdin=subprocess.PIPE)
    children.append(piped)
    port = int(wait_for(deadline, "the second daemon's 'listening on 127.0.0.1:PORT' line",
                        lambda: piped.find(r"listening on 127\.0\.0\.1:(\d+)"),
                        [piped]).group(1))
    piped.proc.stdin.write(LINES.encode())
    piped.proc.stdin.close()
    wait_for(deadline, "the second daemon's 'stdin: end of input' line",
             lambda: piped.find(r"stdin: end of input"), [piped])
    dom = dump_dom(args, tmp, port, deadline)
    rows = input_rows(dom)
    if set(rows) != {"stdin"}:
        fail("input rows %s, want stdin alone" % sorted(rows))
    if not rows["stdin"]["state"].startswith("end of input"):
        fail("stdin's state: %r" % rows["stdin"]["state"])
    for result, want in WANT_RESULTS.items():
        if rows["stdin"].get(result) != want:
            fail("stdin's %s lines show as %s, want %d" % (result, rows["stdin"].get(result), want))
    conf = config_rows(dom)
    if conf.get("config") != "built-in preset" or conf.get("last load successful") != "yes":
        fail("config rows with the built-in preset: %s" % conf)
    print("page of a daemon that read stdin to its end: %s, %s" % (rows, conf), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exporter", required=True, help="path of llm_log_exporter")
    ap.add_argument("--chromium", required=True, help="path of chromium")
    ap.add_argument("--repo", required=True, help="repository root (config/ is read from it)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    for path in (args.exporter, args.chromium):
        if not os.access(path, os.X_OK):
            print("FAIL: %s is not an executable" % path)
            return 1
    tmp = tempfile.mkdtemp(prefix="lle-landing-page-e2e-")
    children = []
    ok = False
    try:
        run(args, tmp, children)
        ok = True
    except TestFailure as e:
        print("\nFAIL: %s" % e, flush=True)
    finally:
        for child in reversed(children):
            child.stop()
            if not ok:
                print("--- last stderr lines of %s:" % child.name)
                for line in child.tail():
                    print("    " + line)
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if ok else "FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
