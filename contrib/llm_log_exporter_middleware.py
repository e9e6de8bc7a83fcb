# llm_log_exporter_middleware: one JSON line per inference request of a vLLM
# (or any ASGI) OpenAI-compatible server, on stdout, for llm_log_exporter.
#
# Part of llm_log_exporter. MIT License, Copyright (c) 2026 The llm_log_exporter
# authors: see the LICENSE file of the repository for the full text.
#
# Usage (vLLM 0.3.0 or later; docs/vllm-middleware.md):
#
#   PYTHONPATH=/path/to/contrib vllm serve MODEL \
#       --middleware llm_log_exporter_middleware.RequestLogMiddleware \
#       2>&1 | llm_log_exporter
#
# A pure ASGI middleware (not BaseHTTPMiddleware): it watches the messages the
# app sends and never changes, holds back or reorders them. Python standard
# library only. After each POST under /v1/ it writes, with one write(2), a line
# like
#
#   {"timestamp":"2025-04-05T10:23:45.120Z","method":"POST","path":"/v1/chat/completions",
#    "status":"success","status_code":200,"total_time_ms":1876.2,"ttft_ms":130.4,
#    "stream":true,"model":"Qwen/Qwen2.5-7B-Instruct","request_id":"chatcmpl-...",
#    "input_tokens":1240,"output_tokens":320,"finish_reason":"stop"}
#
# (on one line). Fields that the response does not carry are left out, never
# written as 0.
#
# Sampling, for servers with more requests than lines worth writing: with
# LLE_SAMPLE_RATE=0.01 in the environment, a successful request faster than
# LLE_SAMPLE_KEEP_SLOWER_THAN_MS (default 3000) is written with probability
# 0.01 and carries "sample_rate":0.01, which llm_log_exporter counts as 100
# requests; errors, timeouts and slow requests are always written, without
# it (docs/vllm-middleware.md).

import json
import os
import random
import re
import sys
import time

__all__ = ["RequestLogMiddleware"]

# Longest string value written (model names, ids): keeps every line far below
# PIPE_BUF (4096 bytes), so that one write(2) to a pipe is atomic even when
# several API server processes share it.
_MAX_STR = 256
# Non-streaming bodies up to this size are parsed whole; larger ones (e.g.
# embeddings of many inputs) only through their first and last _EDGE bytes.
_DEFAULT_MAX_BODY_BYTES = 256 << 10
_EDGE = 4096
# An SSE line longer than this is skipped (not buffered further).
_DEFAULT_MAX_EVENT_BYTES = 64 << 10

_USAGE_RE = re.compile(rb'"usage"\s*:\s*(\{[^{}]*\})')
_ID_RE = re.compile(rb'"id"\s*:\s*"([^"\\]{1,256})"')
_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"\\]{1,256})"')
_FINISH_RE = re.compile(rb'"finish_reason"\s*:\s*"([^"\\]{1,64})"')
# SSE data lines worth a json.loads after the first one: a usage object, a
# finish_reason that is a string (vLLM sends "finish_reason":null until the
# end), or an error event (vLLM's way to report a failure after the 200).
_INTERESTING_RE = re.compile(
    rb'"usage"\s*:\s*\{|"finish_reason"\s*:\s*"|"error"\s*:\s*\{|"object"\s*:\s*"error"')


def _status_word(code):
    """The preset's status vocabulary for an HTTP status code."""
    if 200 <= code < 300:
        return "success"
    if code in (408, 504):
        return "timeout"
    return "error"


def _clip(value):
    if isinstance(value, str):
        return value[:_MAX_STR]
    return None


def _count(value):
    """A token count as the preset reads it: a non-negative integer, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


class _Request:
    """What is seen of one request; turned into the line by line()."""

    def __init__(self, scope, path, max_body_bytes, max_event_bytes):
        self.start = time.monotonic()
        self.wall = time.time()
        self.method = scope.get("method", "")
        self.path = path
        self.max_body_bytes = max_body_bytes
        self.max_event_bytes = max_event_bytes
        self.status_code = None
        self.started_at_disconnect = None  # response started when the client left?
        self.disconnected = False
        self.final_sent = False
        self.end = None
        self.first_body = None
        self.sse = False
        self.identity = True  # body not compressed: readable
        self.body_len = 0
        self.head = bytearray()
        self.tail = bytearray()
        self.body = bytearray()  # the whole body while it is <= max_body_bytes
        self.pending = bytearray()  # SSE: the unfinished last line
        self.skipping = False  # SSE: inside a line longer than max_event_bytes
        self.seen_first_event = False
        self.stream_error = False  # SSE: an error event after the 200
        self.fields = {}  # model, request_id, input_tokens, output_tokens, finish_reason

    # -- messages the app sends

    def before_send(self, message):
        """Called before a message is passed on: timing only."""
        if message.get("type") == "http.response.body":
            if message.get("body") and self.first_body is None:
                self.first_body = time.monotonic()
            if not message.get("more_body", False):
                # From here on a disconnect is uvicorn's answer to a finished
                # response, not a client that left.
                self.final_sent = True
                self.end = time.monotonic()

    def after_send(self, message):
        """Called after a message was passed on: reads it."""
        kind = message.get("type")
        if kind == "http.response.start":
            self.status_code = int(message.get("status", 0))
            for name, value in message.get("headers") or ():
                name = bytes(name).lower()
                if name == b"content-type":
                    self.sse = bytes(value).split(b";")[0].strip().lower() == b"text/event-stream"
                elif name == b"content-encoding":
                    self.identity = bytes(value).strip().lower() in (b"", b"identity")
        elif kind == "http.response.body":
            body = message.get("body") or b""
            if not isinstance(body, bytes):
                body = bytes(body)
            if body and self.identity:
                if self.sse:
                    self._scan_sse(body)
                else:
                    self._keep(body)

    def on_receive(self, message):
        if message.get("type") == "http.disconnect" and not self.final_sent \
                and not self.disconnected:
            self.disconnected = True
            self.started_at_disconnect = self.status_code is not None

    # -- bodies

    def _keep(self, body):
        self.body_len += len(body)
        if len(self.head) < _EDGE:
            self.head += body[:_EDGE - len(self.head)]
        self.tail += body[-_EDGE:]
        del self.tail[:-_EDGE]
        if self.body is not None:
            if self.body_len <= self.max_body_bytes:
                self.body += body
            else:
                self.body = None

    def _scan_sse(self, chunk):
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                rest = chunk[start:]
                if not self.skipping:
                    if len(self.pending) + len(rest) > self.max_event_bytes:
                        self.pending.clear()
                        self.skipping = True
                    else:
                        self.pending += rest
                return
            if self.skipping:
                self.skipping = False
            else:
                if self.pending:
                    self.pending += chunk[start:nl]
                    self._sse_line(bytes(self.pending))
                    self.pending.clear()
                else:
                    self._sse_line(chunk[start:nl])
            start = nl + 1

    def _sse_line(self, line):
        if not line.startswith(b"data:"):
            return
        data = line[5:].strip()
        if not data.startswith(b"{"):
            return  # [DONE], comments
        if self.seen_first_event and not _INTERESTING_RE.search(data):
            return
        self.seen_first_event = True
        try:
            event = json.loads(data)
        except ValueError:
            return
        if isinstance(event, dict):
            self._take(event)

    def _take(self, doc):
        """Fields of a response object or of one stream chunk; later wins."""
        if "id" in doc and "request_id" not in self.fields:
            rid = _clip(doc.get("id"))
            if rid:
                self.fields["request_id"] = rid
        if "model" in doc and "model" not in self.fields:
            model = _clip(doc.get("model"))
            if model:
                self.fields["model"] = model
        if self.sse and (isinstance(doc.get("error"), dict) or doc.get("object") == "error"):
            self.stream_error = True
        usage = doc.get("usage")
        if isinstance(usage, dict):
            self._usage(usage)
        choices = doc.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                reason = _clip(choice.get("finish_reason"))
                if reason:
                    self.fields["finish_reason"] = reason

    def _usage(self, usage):
        prompt = _count(usage.get("prompt_tokens"))
        completion = _count(usage.get("completion_tokens"))
        if prompt is not None:
            self.fields["input_tokens"] = prompt
        if completion is not None:
            self.fields["output_tokens"] = completion

    def _finish_body(self):
        if self.sse or not self.identity or self.body_len == 0:
            return
        if self.body is not None:
            try:
                doc = json.loads(bytes(self.body))
            except ValueError:
                return
            if isinstance(doc, dict):
                self._take(doc)
            return
        # Too large to parse: the id and model lead an OpenAI response object,
        # usage closes it.
        m = _ID_RE.search(self.head)
        if m:
            self.fields["request_id"] = m.group(1).decode("utf-8", "replace")
        m = _MODEL_RE.search(self.head)
        if m:
            self.fields["model"] = m.group(1).decode("utf-8", "replace")
        reasons = list(_FINISH_RE.finditer(self.tail))
        if reasons:  # the last choice's: choices[0]'s when there is one choice
            self.fields["finish_reason"] = reasons[-1].group(1).decode("utf-8", "replace")
        matches = list(_USAGE_RE.finditer(self.tail))
        if matches:
            try:
                usage = json.loads(matches[-1].group(1))
            except ValueError:
                return
            if isinstance(usage, dict):
                self._usage(usage)

    # -- the line

    def line(self, raised, sample=None):
        """The request's line; None if `sample` (given the line's fields,
        returns the rate to write it with, or None to leave it out) says so."""
        end = self.end if self.end is not None else time.monotonic()
        self._finish_body()
        if self.status_code is None:
            # No response was sent: 499 (nginx's "client closed request") when
            # the client left first, else the 500 Starlette sends for an
            # exception.
            code = 499 if self.disconnected else 500
        else:
            code = self.status_code
        status = _status_word(code)
        if (raised and not self.disconnected) or self.stream_error:
            status = "error"
        if self.disconnected and self.started_at_disconnect is False:
            code, status = 499, "error"
        out = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.wall))
                         + ".%03dZ" % (int(self.wall * 1000) % 1000),
            "method": self.method,
            "path": self.path[:_MAX_STR],
            "status": status,
            "status_code": code,
            "total_time_ms": round((end - self.start) * 1000.0, 3),
        }
        if self.sse and self.first_body is not None:
            out["ttft_ms"] = round((self.first_body - self.start) * 1000.0, 3)
        if self.status_code is not None:
            out["stream"] = self.sse
        for key in ("model", "request_id", "input_tokens", "output_tokens", "finish_reason"):
            if key in self.fields:
                out[key] = self.fields[key]
        if self.disconnected:
            out["disconnected"] = True
            out.setdefault("finish_reason", "abort")
        if sample is not None:
            rate = sample(out)
            if rate is None:
                return None
            if rate < 1:
                out["sample_rate"] = rate
        return json.dumps(out, separators=(",", ":"), ensure_ascii=True) + "\n"


def _env_number(name, default, valid):
    """The environment's `name` as a float if `valid` takes it, else `default`
    (with a warning on stderr when it is set but unusable)."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
        if valid(value):
            return value
    except ValueError:
        pass
    sys.stderr.write("WARNING llm_log_exporter_middleware: %s=%r is not usable; using %r\n"
                     % (name, text, default))
    return default


def _write_line(text):
    data = text.encode("ascii")
    try:
        sys.stdout.flush()  # what Python code printed before goes first
    except Exception:
        pass
    try:
        fd = sys.stdout.fileno()
    except Exception:  # None, or replaced by an object without a file
        fd = 1
    while data:  # one write(2) for a line < PIPE_BUF; loop only on a short write
        n = os.write(fd, data)
        data = data[n:]


class RequestLogMiddleware:
    """ASGI middleware: one JSON line on stdout per inference request.

    Logged: POST requests whose path (below the app's root_path) starts with
    one of `prefixes` (default "/v1/"). Everything else passes straight
    through. vLLM's --middleware adds it with `app.add_middleware(cls)`, i.e.
    `RequestLogMiddleware(app)`; the keyword arguments are for other setups.
    `sample_rate` and `keep_slower_than_ms` default to the environment's
    LLE_SAMPLE_RATE (1: every request) and LLE_SAMPLE_KEEP_SLOWER_THAN_MS (3000).
    """

    def __init__(self, app, prefixes=("/v1/",), max_body_bytes=_DEFAULT_MAX_BODY_BYTES,
                 max_event_bytes=_DEFAULT_MAX_EVENT_BYTES, write=_write_line,
                 sample_rate=None, keep_slower_than_ms=None, random_source=random.random):
        self.app = app
        self.prefixes = tuple(prefixes)
        self.max_body_bytes = max_body_bytes
        self.max_event_bytes = max_event_bytes
        self.write = write
        self._warned = False
        if sample_rate is None:
            sample_rate = _env_number("LLE_SAMPLE_RATE", 1.0, lambda v: 0 < v <= 1)
        if keep_slower_than_ms is None:
            keep_slower_than_ms = _env_number("LLE_SAMPLE_KEEP_SLOWER_THAN_MS", 3000.0,
                                              lambda v: v >= 0)
        self.sample_rate = sample_rate
        self.keep_slower_than_ms = keep_slower_than_ms
        self._random = random_source

    def _sample(self, out):
        """Rate 1 for errors, timeouts and slow requests; the others are kept
        with probability sample_rate (None: left out)."""
        if (self.sample_rate >= 1 or out["status"] != "success"
                or out["total_time_ms"] >= self.keep_slower_than_ms):
            return 1
        return self.sample_rate if self._random() < self.sample_rate else None

    def _path(self, scope):
        if scope.get("type") != "http" or scope.get("method") != "POST":
            return None
        path = scope.get("path") or ""
        root = scope.get("root_path") or ""
        if root and path.startswith(root + "/"):
            path = path[len(root):]
        return path if path.startswith(self.prefixes) else None

    def _failed(self, where):
        """Says once per process, on stderr, that lines are missing (a line
        llm_log_exporter counts as a warning); never raises."""
        if not self._warned:
            self._warned = True
            try:
                sys.stderr.write("WARNING llm_log_exporter_middleware: internal error in %s; "
                                 "the requests it fails on are not logged\n" % where)
                sys.stderr.flush()
            except Exception:
                pass

    async def __call__(self, scope, receive, send):
        req = None
        try:
            path = self._path(scope)
            if path is not None:
                req = _Request(scope, path, self.max_body_bytes, self.max_event_bytes)
        except Exception:
            self._failed("setup")
        if req is None:
            await self.app(scope, receive, send)
            return

        state = {"ok": True}

        async def observed_receive():
            message = await receive()
            if state["ok"]:
                try:
                    req.on_receive(message)
                except Exception:
                    state["ok"] = False
            return message

        async def observed_send(message):
            if state["ok"]:
                try:
                    req.before_send(message)
                except Exception:
                    state["ok"] = False
            try:
                await send(message)
            except OSError:
                # The server could not deliver it: the client is gone.
                if state["ok"]:
                    req.disconnected = True
                    if req.started_at_disconnect is None:
                        req.started_at_disconnect = req.status_code is not None
                raise
            if state["ok"]:
                try:
                    req.after_send(message)
                except Exception:
                    state["ok"] = False

        raised = False
        try:
            await self.app(scope, observed_receive, observed_send)
        except BaseException:
            raised = True
            raise
        finally:
            if state["ok"]:
                try:
                    text = req.line(raised, self._sample)
                    if text is not None:
                        self.write(text)
                except Exception:
                    self._failed("writing the line")
            else:
                self._failed("observing a response")
