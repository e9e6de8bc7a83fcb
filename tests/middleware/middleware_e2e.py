#!/usr/bin/env python3
"""End-to-end test of contrib/llm_log_exporter_middleware.py: a fake
OpenAI-compatible FastAPI app (fake_openai_app.py) under uvicorn with the
middleware loaded as vLLM's --middleware loads it, its stdout piped through
`tee` into the real llm_log_exporter, scraped over HTTP.

Run by ctest (tests/middleware/CMakeLists.txt); by hand:

    /usr/bin/python3 tests/middleware/middleware_e2e.py --exporter build/llm_log_exporter --repo .

Needs Debian's python3-fastapi and python3-uvicorn. What it checks:

1. Requests of every kind (chat and completions, streaming with and without
   stream_options.include_usage and not, embeddings, 400 errors, a client
   that leaves in the middle of a stream, one that leaves before the answer,
   /health and GET /v1/models) give exactly the expected exporter values:
   requests by status, durations, prompt and generation token sums equal to
   the fake app's usage, routes, finish reasons, missing token fields; and
   /health, GET /v1/models are not logged.
2. The lines themselves (kept by tee): request_id and model from the
   response, status_code, ttft_ms <= total_time_ms for streams only, no token
   fields where the response had no usage.
3. The same requests to a second server without the middleware get
   byte-identical answers (status, content type, body), streams included.

Ports: sockets bound here on 127.0.0.1:0 and handed to uvicorn (--fd); the
exporter on 127.0.0.1:0, its port read from its log. Every wait polls with a
deadline (60 s overall); every child is stopped on every exit path.
"""

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
from prometheus_e2e import Child, Deadline, NotYet, fail, http_get, wait_for  # noqa: E402
from deploy_support import main, sample_value  # noqa: E402

OVERALL_TIMEOUT_S = 60.0
MIDDLEWARE = "llm_log_exporter_middleware.RequestLogMiddleware"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def chat(content, **extra):
    body = {"model": "qwen-test", "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return ("/v1/chat/completions", body)


def completion(prompt, **extra):
    body = {"model": "qwen-test", "prompt": prompt}
    body.update(extra)
    return ("/v1/completions", body)


USAGE = {"include_usage": True}
# (name, (path, body), expected line fields or None for "not looked at").
# prompt_tokens = characters of the prompt, completion_tokens = max_tokens
# (default 5), finish_reason "length" with max_tokens, else "stop".
REQUESTS = [
    ("chat", chat("hello world", max_tokens=7),
     {"status": "success", "status_code": 200, "input_tokens": 11, "output_tokens": 7,
      "finish_reason": "length", "stream": False}),
    ("chat_stream_usage", chat("stream me", max_tokens=4, stream=True, stream_options=USAGE),
     {"status": "success", "status_code": 200, "input_tokens": 9, "output_tokens": 4,
      "finish_reason": "length", "stream": True}),
    ("chat_stream_no_usage", chat("no usage", stream=True),
     {"status": "success", "status_code": 200, "input_tokens": None, "output_tokens": None,
      "finish_reason": "stop", "stream": True}),
    ("completion", completion("once upon", max_tokens=3),
     {"status": "success", "status_code": 200, "input_tokens": 9, "output_tokens": 3,
      "finish_reason": "length", "stream": False}),
    ("completion_stream_usage", completion("a prompt", max_tokens=6, stream=True,
                                           stream_options=USAGE),
     {"status": "success", "status_code": 200, "input_tokens": 8, "output_tokens": 6,
      "finish_reason": "length", "stream": True}),
    ("embeddings", ("/v1/embeddings", {"model": "qwen-test", "input": ["abc", "de"]}),
     {"status": "success", "status_code": 200, "input_tokens": 5, "output_tokens": None,
      "finish_reason": None, "stream": False}),
    ("error", chat("x", model="bad"),
     {"status": "error", "status_code": 400, "input_tokens": None, "output_tokens": None,
      "stream": False}),
    ("error_stream", chat("x", model="bad", stream=True, stream_options=USAGE),
     {"status": "error", "status_code": 400, "input_tokens": None, "output_tokens": None,
      "stream": False}),
]
# Sent last, after the requests that must not be logged: its line is the last.
LAST = ("chat_last", chat("abc"),
        {"status": "success", "status_code": 200, "input_tokens": 3, "output_tokens": 5,
         "finish_reason": "stop", "stream": False})


def post(port, path, body, timeout=10.0):
    """(status, content type, body bytes) of a POST with urllib, read to the end."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with _opener.open(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def listening_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    s.set_inheritable(True)
    return s


def start_app(python, repo, name, children, middleware, stdout, env_extra=None):
    sock = listening_socket()
    argv = [python, os.path.join(HERE, "serve_app.py"), "--fd", str(sock.fileno())]
    if middleware:
        argv += ["--middleware", MIDDLEWARE]
    env = dict(os.environ)
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.path.join(repo, "contrib")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    child = Child(name, argv, stdin=subprocess.DEVNULL, stdout=stdout, env=env,
                  pass_fds=(sock.fileno(),))
    children.append(child)
    port = sock.getsockname()[1]
    sock.close()  # the child has its own copy
    base = "http://127.0.0.1:%d" % port

    def ready():
        status, _ = http_get(base + "/health")
        if status != 200:
            raise NotYet("HTTP %d" % status)
        return True
    wait_for(Deadline(30), "%s to answer GET /health" % name, ready, [child])
    return port


def stream_then_leave(port):
    """Starts an endless chat stream, reads its first event, and closes the
    connection. Returns the first event line."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"model": "endless", "messages": [{"role": "user", "content": "go"}],
                       "stream": True})
    conn.request("POST", "/v1/chat/completions", body=body,
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        fail("endless stream: HTTP %d" % resp.status)
    # The stream never ends: this line arrives only if the middleware passes
    # chunks on as they come.
    try:
        line = resp.fp.readline()
        while line and not line.startswith(b"data:"):
            line = resp.fp.readline()
    except socket.timeout:
        fail("no event of an endless stream within 10 s: the middleware holds the stream back")
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    return line


def leave_before_answer(port):
    """Sends a request that the app answers only after the client left."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = json.dumps({"model": "hang", "messages": [{"role": "user", "content": "wait"}]})
    s.sendall(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
               % (len(body), body)).encode())
    return s


def metric(port, name, labels):
    """The value of one sample; with labels None, the sum of all samples of name."""
    status, body = http_get("http://127.0.0.1:%d/metrics" % port)
    if status != 200:
        fail("GET /metrics: HTTP %d" % status)
    text = body.decode()
    if labels is not None:
        return sample_value(text, name, labels)
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


def run(args, tmp, children):
    deadline = Deadline(OVERALL_TIMEOUT_S)
    python = sys.executable
    lines_path = os.path.join(tmp, "middleware.log")

    # uvicorn (stdout) -> tee FILE -> llm_log_exporter (stdin)
    app_r, app_w = os.pipe()
    tee_r, tee_w = os.pipe()
    exporter = Child("llm_log_exporter", [args.exporter, "--web.listen-address", "127.0.0.1:0"],
                     stdin=tee_r)
    children.append(exporter)
    tee = Child("tee", [args.tee, lines_path], stdin=app_r, stdout=tee_w)
    children.append(tee)
    os.close(tee_r)
    os.close(tee_w)
    os.close(app_r)
    m = wait_for(deadline, "`listening on` from llm_log_exporter",
                 lambda: exporter.find(r"listening on \S*:(\d+) "), [exporter])
    exp_port = int(m.group(1))
    with_mw = start_app(python, args.repo, "uvicorn+middleware", children, True, app_w)
    os.close(app_w)
    without_mw = start_app(python, args.repo, "uvicorn", children, False,
                           subprocess.DEVNULL)
    print("  ok  exporter on :%d, app with the middleware on :%d, without on :%d"
          % (exp_port, with_mw, without_mw))

    # 1. Requests, each to both servers: the answers must be byte-identical.
    answers = {}
    for name, (path, body), _ in REQUESTS:
        a = post(with_mw, path, body)
        b = post(without_mw, path, body)
        if a != b:
            fail("%s: the answer with the middleware differs from the one without:\n"
                 "  with:    %r\n  without: %r" % (name, a, b))
        answers[name] = a
    streams = [n for n, (_, b), _ in REQUESTS if b.get("stream") and answers[n][0] == 200]
    for n in streams:
        if not answers[n][1].startswith("text/event-stream") or \
                not answers[n][2].endswith(b"data: [DONE]\n\n"):
            fail("%s: not a complete SSE stream: %r" % (n, answers[n][:2]))
    print("  ok  %d requests (%d streams) answered byte-identically with and without "
          "the middleware" % (len(REQUESTS), len(streams)))

    # A client that leaves in the middle of a stream, one that leaves before
    # the answer: each must give a line once the app is done with it.
    first = stream_then_leave(with_mw)
    if not first.startswith(b"data: {"):
        fail("endless stream: first event %r" % first)
    hanging = leave_before_answer(with_mw)
    hanging.shutdown(socket.SHUT_RDWR)
    hanging.close()
    print("  ok  a client left an endless stream after its first event (it arrived while "
          "the stream went on), another left before the answer")

    # Not logged: /health, GET /v1/models. Then the last logged request.
    for path in ("/health", "/health", "/v1/models"):
        status, _ = http_get("http://127.0.0.1:%d%s" % (with_mw, path))
        if status != 200:
            fail("GET %s: HTTP %d" % (path, status))
    last_answer = post(with_mw, LAST[1][0], LAST[1][1])
    if last_answer[0] != 200:
        fail("last request: %r" % (last_answer,))
    answers[LAST[0]] = last_answer

    # 2. The exporter's counts, once it has read every line.
    logged = len(REQUESTS) + 3  # + the two that left + the last one

    def all_counted():
        got = metric(exp_port, "llm_log_exporter_lines_total",
                     {"source": "stdin", "result": "request"})
        if got != logged:
            raise NotYet("%s request lines" % got)
        return True
    wait_for(deadline, "%d request lines counted by the exporter" % logged, all_counted,
             children)

    expected = [r for r in REQUESTS + [LAST]]
    prompt_sum = sum(e["input_tokens"] or 0 for _, _, e in expected)
    gen_sum = sum(e["output_tokens"] or 0 for _, _, e in expected)
    checks = [
        ("qwen_requests_total", {"status": "success"},
         sum(e["status"] == "success" for _, _, e in expected) + 1),  # + the abandoned stream
        ("qwen_requests_total", {"status": "error"},
         sum(e["status"] == "error" for _, _, e in expected) + 1),  # + the 499
        ("qwen_requests_total", {"status": "timeout"}, 0),
        ("qwen_request_errors_total", {}, 3),
        ("qwen_request_duration_ms_count", {}, logged),
        ("qwen_request_duration_seconds_count", {}, logged),
        ("qwen_prompt_tokens_total", {}, prompt_sum),
        ("qwen_generation_tokens_total", {}, gen_sum),
        ("qwen_request_prompt_tokens_count", {}, 6),
        ("qwen_request_generation_tokens_count", {}, 5),
        ("qwen_http_requests_total", {"method": "POST", "path": "/v1/chat/completions"},
         sum(p == "/v1/chat/completions" for _, (p, _), _ in expected) + 2),
        ("qwen_http_requests_total", {"method": "POST", "path": "/v1/completions"}, 2),
        ("qwen_http_requests_total", {"method": "POST", "path": "/v1/embeddings"}, 1),
        # All of them, whatever the labels: nothing else (no GET) was logged.
        ("qwen_http_requests_total", None, logged),
        ("qwen_request_finish_total", {"finish_reason": "length"}, 4),
        ("qwen_request_finish_total", {"finish_reason": "stop"}, 2),
        ("qwen_request_finish_total", {"finish_reason": "abort"}, 2),
        ("llm_log_exporter_field_errors_total", {"field": "input_tokens", "reason": "missing"},
         5),
        ("llm_log_exporter_field_errors_total", {"field": "output_tokens", "reason": "missing"},
         6),
        ("llm_log_exporter_field_errors_total", {"field": "total_time_ms", "reason": "missing"},
         0),
    ]
    if prompt_sum != 45 or gen_sum != 25:
        fail("the test's own sums changed: %d, %d" % (prompt_sum, gen_sum))
    for name, labels, want in checks:
        got = metric(exp_port, name, labels)
        if got != want:
            fail("%s%s = %s, expected %s" % (name, labels if labels is not None else "{*}",
                                              got, want))
    print("  ok  exporter: %d requests (%d success, %d error), prompt tokens %d, generation "
          "tokens %d, routes, finish reasons, missing token fields; /health and GET "
          "/v1/models not counted" % (logged, checks[0][2], checks[1][2], prompt_sum, gen_sum))

    # 3. The lines, as tee kept them.
    with open(lines_path, "rb") as f:
        raw = f.read().decode("utf-8")
    records = []
    for line in raw.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                fail("a line starting with '{' is not JSON: %r" % line)
    if len(records) != logged:
        fail("%d JSON lines on the app's stdout, expected %d:\n%s"
             % (len(records), logged, raw[-3000:]))
    by_id = {r.get("request_id"): r for r in records}
    for name, (path, body), want in expected:
        status, ctype, data = answers[name]
        if status == 200 and not body.get("stream"):
            rid = json.loads(data)["id"]
        elif status == 200:
            rid = json.loads(data.split(b"\n", 1)[0][len(b"data: "):])["id"]
        else:
            rid = None
        if rid is not None:
            rec = by_id.get(rid)
            if rec is None:
                fail("%s: no line with request_id %s" % (name, rid))
            if rec.get("model") != "qwen-test":
                fail("%s: model %r" % (name, rec.get("model")))
        else:
            same = [r for r in records if r.get("status_code") == status and
                    "request_id" not in r and not r.get("disconnected")]
            twins = [n for n, _, _ in expected if answers[n][0] == status]
            if len(same) != len(twins):
                fail("%s: %d lines with status_code %d and no request_id, expected %d"
                     % (name, len(same), status, len(twins)))
            rec = same[twins.index(name)]  # the same expected fields: any order
        for key, value in want.items():
            if value is None:
                if key in rec:
                    fail("%s: the line has %s=%r, the response had none: %s"
                         % (name, key, rec[key], rec))
            elif rec.get(key) != value:
                fail("%s: %s=%r, expected %r: %s" % (name, key, rec.get(key), value, rec))
        if rec.get("method") != "POST" or rec.get("path") != path:
            fail("%s: method/path %r %r" % (name, rec.get("method"), rec.get("path")))
        if not isinstance(rec.get("total_time_ms"), (int, float)) or rec["total_time_ms"] < 0:
            fail("%s: total_time_ms %r" % (name, rec.get("total_time_ms")))
        if want["stream"]:
            if not 0 <= rec.get("ttft_ms", -1) <= rec["total_time_ms"]:
                fail("%s: ttft_ms %r, total_time_ms %r" % (name, rec.get("ttft_ms"),
                                                          rec["total_time_ms"]))
        elif "ttft_ms" in rec:
            fail("%s: ttft_ms on a response that is not a stream: %s" % (name, rec))
    left = [r for r in records if r.get("disconnected")]
    codes = sorted(r["status_code"] for r in left)
    if codes != [200, 499] or any(r.get("finish_reason") != "abort" for r in left):
        fail("lines of the clients that left: %s" % left)
    for r in left:
        want = "success" if r["status_code"] == 200 else "error"
        if r["status"] != want or ("ttft_ms" in r) != (r["status_code"] == 200):
            fail("line of a client that left: %s" % r)
    print("  ok  %d lines: request_id and model from the response, status_code, ttft_ms "
          "only on streams, no token fields without usage; clients that left: 200 "
          "(stream cut) and 499, finish_reason abort" % len(records))
    sampled(args, deadline, children)


SAMPLED = 300  # successful requests to the sampling middleware


def sampled(args, deadline, children):
    """4. LLE_SAMPLE_RATE=0.5: about half the successful requests are
    written, each with sample_rate 0.5, and the exporter counts each twice;
    the error, always written, once. The total's standard deviation over
    SAMPLED requests is sqrt(SAMPLED)."""
    app_r, app_w = os.pipe()
    exporter = Child("llm_log_exporter (sampled)",
                     [args.exporter, "--web.listen-address", "127.0.0.1:0"], stdin=app_r)
    children.append(exporter)
    os.close(app_r)
    m = wait_for(deadline, "`listening on` from the second llm_log_exporter",
                 lambda: exporter.find(r"listening on \S*:(\d+) "), [exporter])
    exp_port = int(m.group(1))
    app = start_app(sys.executable, args.repo, "uvicorn+sampling middleware", children, True,
                    app_w, {"LLE_SAMPLE_RATE": "0.5",
                            "LLE_SAMPLE_KEEP_SLOWER_THAN_MS": "60000"})
    os.close(app_w)
    for i in range(SAMPLED):
        if post(app, *chat("sampled %d" % i, max_tokens=2))[0] != 200:
            fail("sampled request %d failed" % i)
    if post(app, *chat("x", model="bad"))[0] != 400:
        fail("the error request did not fail")

    def error_counted():  # written last, always: then every line is in
        if metric(exp_port, "qwen_requests_total", {"status": "error"}) != 1:
            raise NotYet("no error request yet")
        return True
    wait_for(deadline, "the sampled run's error request counted", error_counted, children)
    lines = metric(exp_port, "llm_log_exporter_lines_total",
                   {"source": "stdin", "result": "request"}) - 1
    success = metric(exp_port, "qwen_requests_total", {"status": "success"})
    if success != 2 * lines or not 0 < lines < SAMPLED or abs(success - SAMPLED) > 6 * 17.4:
        fail("sampled at 0.5: %d lines of %d successful requests counted as %d"
             % (lines, SAMPLED, success))
    print("  ok  LLE_SAMPLE_RATE=0.5: %d of %d successful requests written, counted as %d; "
          "the error written and counted once" % (lines, SAMPLED, success))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporter", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--tee", default="tee")
    args = parser.parse_args()
    sys.exit(main(lambda tmp, children: run(args, tmp, children)))
