#!/usr/bin/env python3
"""Unit tests of contrib/llm_log_exporter_middleware.py, in process: the
middleware around small ASGI apps, driven message by message (standard
library only). The cases the end-to-end test does not reach: SSE events split
across chunks, bodies over the parse cap, an app that raises, internal errors
of the middleware, root_path, error events inside a stream, line length.

    python3 tests/middleware/middleware_unit.py --repo .
"""

import argparse
import asyncio
import json
import os
import sys
import unittest

ARGS = None
# No __pycache__ in the source tree.
sys.dont_write_bytecode = True


def load():
    sys.path.insert(0, os.path.join(ARGS.repo, "contrib"))
    import llm_log_exporter_middleware
    return llm_log_exporter_middleware


def app_sending(messages, raise_after=None):
    """An ASGI app that reads the request body, then sends messages."""
    async def app(scope, receive, send):
        await receive()
        for i, m in enumerate(messages):
            if raise_after == i:
                raise RuntimeError("boom")
            await send(m)
        if raise_after == len(messages):
            raise RuntimeError("boom")
    return app


def start(status=200, ctype=b"application/json", extra=()):
    return {"type": "http.response.start", "status": status,
            "headers": [(b"content-type", ctype)] + list(extra)}


def body(data, more=False):
    return {"type": "http.response.body", "body": data, "more_body": more}


def run(mw_app, method="POST", path="/v1/chat/completions", root_path="", disconnect=False):
    """Calls the app once; returns (messages the server got, exception or None)."""
    sent = []
    inbox = [{"type": "http.request", "body": b"{}", "more_body": False}]
    if disconnect:
        inbox.append({"type": "http.disconnect"})

    async def receive():
        if inbox:
            return inbox.pop(0)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "root_path": root_path,
             "headers": [], "query_string": b""}

    async def main():
        try:
            await mw_app(scope, receive, send)
        except Exception as e:  # noqa: BLE001 - returned to the test
            return e
        return None
    exc = asyncio.run(main())
    return sent, exc


class MiddlewareTest(unittest.TestCase):
    def setUp(self):
        self.mod = load()
        self.lines = []

    def wrap(self, app, **kw):
        return self.mod.RequestLogMiddleware(app, write=self.lines.append, **kw)

    def only_line(self):
        self.assertEqual(len(self.lines), 1, self.lines)
        line = self.lines[0]
        self.assertTrue(line.endswith("\n"))
        self.assertEqual(line.count("\n"), 1)
        return json.loads(line)

    def test_sse_events_split_across_chunks_and_crlf(self):
        ev1 = b'data: {"id":"c-1","model":"m","choices":[{"index":0,"delta":{"content":"a"},' \
              b'"finish_reason":null}]}\r\n\r\n'
        ev2 = b'data: {"id":"c-1","model":"m","choices":[{"index":0,"delta":{},' \
              b'"finish_reason":"length"}]}\r\n\r\n'
        ev3 = b'data: {"id":"c-1","model":"m","choices":[],"usage":{"prompt_tokens":12,' \
              b'"completion_tokens":34,"total_tokens":46}}\r\n\r\ndata: [DONE]\r\n\r\n'
        stream = ev1 + ev2 + ev3
        pieces = [stream[i:i + 7] for i in range(0, len(stream), 7)]
        msgs = [start(ctype=b"text/event-stream; charset=utf-8")] + \
            [body(p, more=True) for p in pieces] + [body(b"")]
        sent, exc = run(self.wrap(app_sending(msgs)))
        self.assertIsNone(exc)
        self.assertEqual(sent, msgs)
        rec = self.only_line()
        self.assertEqual((rec["input_tokens"], rec["output_tokens"], rec["finish_reason"],
                          rec["request_id"], rec["model"], rec["stream"]),
                         (12, 34, "length", "c-1", "m", True))
        self.assertIn("ttft_ms", rec)

    def test_sse_line_over_the_limit_is_skipped_not_buffered(self):
        big = b'data: {"usage":{"prompt_tokens":1,"completion_tokens":1},"pad":"' + \
            b"x" * 5000 + b'"}\n\n'
        tail = b'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":8}}\n\n'
        # The usage before the long line is the one kept: the long one is skipped.
        msgs = [start(ctype=b"text/event-stream"), body(tail, more=True)] + \
            [body(big[i:i + 1000], more=True) for i in range(0, len(big), 1000)] + \
            [body(b"data: [DONE]\n\n", more=True), body(b"")]
        mw = self.wrap(app_sending(msgs), max_event_bytes=1024)
        sent, exc = run(mw)
        self.assertEqual(sent, msgs)
        rec = self.only_line()
        self.assertEqual((rec["input_tokens"], rec["output_tokens"]), (7, 8))

    def test_body_over_the_cap_reads_id_model_at_the_start_and_usage_at_the_end(self):
        doc = {"id": "embd-9", "object": "list", "model": "m",
               "data": [{"index": i, "embedding": [0.5] * 50} for i in range(200)],
               "usage": {"prompt_tokens": 77, "total_tokens": 77}}
        data = json.dumps(doc).encode()
        self.assertGreater(len(data), 10000)
        msgs = [start()] + [body(data[i:i + 3000], more=True)
                            for i in range(0, len(data), 3000)] + [body(b"")]
        sent, exc = run(self.wrap(app_sending(msgs), max_body_bytes=10000),
                        path="/v1/embeddings")
        self.assertEqual(sent, msgs)
        rec = self.only_line()
        self.assertEqual((rec["request_id"], rec["model"], rec["input_tokens"]),
                         ("embd-9", "m", 77))
        self.assertNotIn("output_tokens", rec)
        self.assertNotIn("ttft_ms", rec)

    def test_not_logged_routes_pass_through(self):
        msgs = [start(), body(b'{"usage":{"prompt_tokens":1}}')]
        for method, path in (("GET", "/health"), ("GET", "/v1/models"), ("POST", "/health"),
                             ("OPTIONS", "/v1/chat/completions"), ("POST", "/metrics"),
                             ("GET", "/v1/chat/completions")):
            sent, exc = run(self.wrap(app_sending(msgs)), method=method, path=path)
            self.assertEqual(sent, msgs)
        self.assertEqual(self.lines, [])

    def test_root_path_is_removed(self):
        msgs = [start(), body(b"{}")]
        run(self.wrap(app_sending(msgs)), path="/llm/v1/completions", root_path="/llm")
        self.assertEqual(self.only_line()["path"], "/v1/completions")

    def test_sampling_keeps_errors_and_slow_requests_and_marks_the_sampled(self):
        draws = iter([0.2, 0.3, 0.1])  # kept (< 0.25), left out, kept
        mw = self.wrap(app_sending([start(200), body(b'{"id":"x"}')]), sample_rate=0.25,
                       keep_slower_than_ms=5000, random_source=lambda: next(draws))
        for _ in range(3):
            run(mw)
        self.assertEqual([json.loads(l)["sample_rate"] for l in self.lines], [0.25, 0.25])
        # Errors and requests slower than keep_slower_than_ms: always, no rate.
        self.lines.clear()
        run(self.wrap(app_sending([start(500), body(b'{}')]), sample_rate=0.25,
                      random_source=lambda: 0.99))
        run(self.wrap(app_sending([start(200), body(b'{}')]), sample_rate=0.25,
                      keep_slower_than_ms=0, random_source=lambda: 0.99))
        self.assertEqual(len(self.lines), 2)
        self.assertTrue(all("sample_rate" not in json.loads(l) for l in self.lines))

    def test_sampling_settings_come_from_the_environment(self):
        os.environ["LLE_SAMPLE_RATE"] = "0.5"
        os.environ["LLE_SAMPLE_KEEP_SLOWER_THAN_MS"] = "bad"
        try:
            mw = self.mod.RequestLogMiddleware(app_sending([]))
        finally:
            del os.environ["LLE_SAMPLE_RATE"], os.environ["LLE_SAMPLE_KEEP_SLOWER_THAN_MS"]
        self.assertEqual((mw.sample_rate, mw.keep_slower_than_ms), (0.5, 3000.0))
        self.assertEqual(self.mod.RequestLogMiddleware(app_sending([])).sample_rate, 1.0)

    def test_status_words(self):
        for code, word in ((200, "success"), (201, "success"), (400, "error"), (401, "error"),
                           (408, "timeout"), (429, "error"), (500, "error"),
                           (503, "error"), (504, "timeout")):
            self.lines.clear()
            run(self.wrap(app_sending([start(code), body(b'{"object":"error"}')])))
            rec = self.only_line()
            self.assertEqual((rec["status_code"], rec["status"]), (code, word))

    def test_app_that_raises_before_answering_is_a_500_and_the_exception_goes_on(self):
        sent, exc = run(self.wrap(app_sending([], raise_after=0)))
        self.assertIsInstance(exc, RuntimeError)
        rec = self.only_line()
        self.assertEqual((rec["status_code"], rec["status"]), (500, "error"))
        self.assertNotIn("stream", rec)

    def test_error_event_inside_a_stream_is_an_error(self):
        msgs = [start(ctype=b"text/event-stream"),
                body(b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"a"},'
                     b'"finish_reason":null}]}\n\n', more=True),
                body(b'data: {"error":{"message":"engine dead","code":500}}\n\n', more=True),
                body(b"data: [DONE]\n\n")]
        run(self.wrap(app_sending(msgs)))
        rec = self.only_line()
        self.assertEqual((rec["status_code"], rec["status"]), (200, "error"))

    def test_internal_error_forwards_everything_and_logs_nothing(self):
        class Broken(dict):
            """A message whose .get raises: the middleware's reading fails."""
            def get(self, *a):
                raise ValueError("broken")
        msgs = [start(), Broken(type="http.response.body", body=b"{}", more_body=False)]
        stderr = sys.stderr
        sys.stderr = open(os.devnull, "w")
        try:
            sent, exc = run(self.wrap(app_sending(msgs)))
        finally:
            sys.stderr.close()
            sys.stderr = stderr
        self.assertIsNone(exc)
        self.assertEqual(sent, msgs)
        self.assertEqual(self.lines, [])

    def test_write_failure_does_not_reach_the_app(self):
        def write(line):
            raise BrokenPipeError()
        mw = self.mod.RequestLogMiddleware(app_sending([start(), body(b"{}")]), write=write)
        stderr = sys.stderr
        sys.stderr = open(os.devnull, "w")
        try:
            sent, exc = run(mw)
        finally:
            sys.stderr.close()
            sys.stderr = stderr
        self.assertIsNone(exc)
        self.assertEqual(len(sent), 2)

    def test_long_strings_are_clipped_below_pipe_buf(self):
        name = "m" * 10000
        data = json.dumps({"id": "i" * 10000, "model": name, "choices": [
            {"index": 0, "finish_reason": "f" * 10000}], "usage": {}}).encode()
        run(self.wrap(app_sending([start(), body(data)])), path="/v1/" + "p" * 10000)
        self.assertLess(len(self.lines[0].encode()), 4096)
        rec = self.only_line()
        self.assertEqual(len(rec["model"]), 256)

    def test_no_usage_means_no_token_fields_and_negative_counts_are_dropped(self):
        run(self.wrap(app_sending([start(), body(b'{"id":"x","choices":[{"index":0,'
                                                 b'"finish_reason":"stop"}]}')])))
        rec = self.only_line()
        self.assertNotIn("input_tokens", rec)
        self.assertNotIn("output_tokens", rec)
        self.lines.clear()
        run(self.wrap(app_sending([start(), body(b'{"usage":{"prompt_tokens":-1,'
                                                 b'"completion_tokens":true}}')])))
        rec = self.only_line()
        self.assertNotIn("input_tokens", rec)
        self.assertNotIn("output_tokens", rec)

    def test_compressed_body_is_not_read(self):
        run(self.wrap(app_sending([start(extra=[(b"content-encoding", b"gzip")]),
                                   body(b'{"usage":{"prompt_tokens":3}}')])))
        self.assertNotIn("input_tokens", self.only_line())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", required=True)
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
