#!/usr/bin/env python3
"""Deterministic stock inference-server logs, for timing and checking the
preset's text rules (bench/stock_speed.sh).

usage: bench/gen_stock_logs.py --server vllm|tgi --lines N [--seed S]
           [--form FORM] [--rate REQ_PER_S] [--expect FILE] [--tgi-v3-errors]

  vllm  --form default       vLLM v1 (0.10+), default flags: one uvicorn access
                             line per request (some 4xx/5xx, GET /health,
                             GET /v1/models, GET /metrics), an `Engine 000:`
                             stats line every 10 s of log time, a few warnings
        --form log-requests  the same with --enable-log-requests
                             --enable-log-outputs: `Received request`,
                             `Added request` and `Generated response` lines
                             (non-streaming requests)
  tgi   --form ansi          TGI 3.x default text output: ANSI colour codes, as
                             TGI writes them even into a pipe or file
        --form plain         the same with LOG_COLORIZE=1 (no colour)
        --form json          --json-output
                             One `Success` line per successful request (span
                             timings as Rust Duration Debug strings), the
                             router's start-up lines, about 1 % failed
                             requests (`Incomplete generation`).
        --tgi-v3-errors      failures also as TGI 3.x prints its other error
                             kinds: `Request failed during generation` from
                             target text_generation_router_v3::backend,
                             `no permits available` (overload), validation
                             messages without a prefix

The line shapes are copied from real output (public bug reports) and from the
servers' format strings: vLLM's uvicorn access line, `Engine 000:` stats line
(loggers.py), request logger (logger.py); TGI router/src/server.rs (span
fields, `Success`), router/src/infer/mod.rs (errors), tracing-subscriber's
text and JSON formatters. Output is a pure function of the arguments.

The expected totals (what the server saw: requests by outcome, latency sums,
tokens where the server logs them) go to stderr as key=value lines, and to
FILE with --expect. Only what the log shows counts: an access line is a
request, so vLLM latencies are not in its log (latency_ms_count=0).
Python 3 standard library only.
"""

import argparse
import random
import sys
import time

ESC = "\x1b"


# --- Rust's Debug of std::time::Duration (core::time::fmt_decimal) -----------
def rust_duration(ns):
    """`611.286748ms`, `754.5µs`, `70µs`, `2.520979735s`, `123ns`."""
    if ns >= 1_000_000_000:
        whole, frac, width, unit = ns // 1_000_000_000, ns % 1_000_000_000, 9, "s"
    elif ns >= 1_000_000:
        whole, frac, width, unit = ns // 1_000_000, ns % 1_000_000, 6, "ms"
    elif ns >= 1_000:
        whole, frac, width, unit = ns // 1_000, ns % 1_000, 3, "µs"
    else:
        return "%dns" % ns
    if frac == 0:
        return "%d%s" % (whole, unit)
    return "%d.%s%s" % (whole, ("%0*d" % (width, frac)).rstrip("0"), unit)


class Expect:
    """Totals of what the emitted lines say, filled as lines are written."""

    def __init__(self):
        self.v = {"requests_success": 0, "requests_error": 0, "requests_timeout": 0,
                  "latency_ms_count": 0, "latency_ns_sum": 0,
                  "generation_tokens": 0, "max_tokens_count": 0,
                  "not_requests": 0}

    def add(self, key, n=1):
        self.v[key] += n

    def lines(self, nlines, nbytes, args):
        v = dict(self.v)
        ns = v.pop("latency_ns_sum")
        # Exact decimal of ns / 1e6.
        v["latency_ms_sum"] = "%d.%06d" % (ns // 1_000_000, ns % 1_000_000)
        v["requests_total"] = v["requests_success"] + v["requests_error"] + v["requests_timeout"]
        out = ["server=%s" % args.server, "form=%s" % args.form, "seed=%d" % args.seed,
               "lines=%d" % nlines, "bytes=%d" % nbytes]
        out += ["%s=%s" % (k, v[k]) for k in sorted(v)]
        return out


class Out:
    """Counts lines and bytes, flushes to stdout in large blocks, stops at N."""

    def __init__(self, limit):
        self.limit, self.n, self.nbytes, self.buf = limit, 0, 0, []

    def full(self):
        return self.n >= self.limit

    def line(self, text):
        """Writes one line; returns False (and writes nothing) past the limit."""
        if self.n >= self.limit:
            return False
        data = text.encode("utf-8") + b"\n"
        self.buf.append(data)
        self.n += 1
        self.nbytes += len(data)
        if len(self.buf) >= 4096:
            self.flush()
        return True

    def flush(self):
        sys.stdout.buffer.write(b"".join(self.buf))
        self.buf = []


class Clock:
    """Simulated wall time (UTC), advanced by exponential inter-arrival gaps."""

    def __init__(self, rng, start=1783147380.0):  # 2026-07-04 04:43:00 UTC
        self.rng, self.t = rng, start

    def advance(self, rate):
        self.t += self.rng.expovariate(rate)

    def vllm(self):  # `07-04 04:43:19`
        return time.strftime("%m-%d %H:%M:%S", time.gmtime(self.t))

    def rfc3339(self):  # `2024-02-14T06:49:51.437631Z`
        us = int(self.t * 1e6) % 1_000_000
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.t)) + ".%06dZ" % us


def lognormal_int(rng, median, sigma, lo, hi):
    import math
    return max(lo, min(hi, int(rng.lognormvariate(math.log(median), sigma))))


# --- vLLM ---------------------------------------------------------------------
# uvicorn's reason phrases (h11) for the codes vLLM returns.
REASON = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


def gen_vllm(args, rng, out, exp):
    log_requests = args.form == "log-requests"
    clock = Clock(rng)
    prefix = "(APIServer pid=1) "
    clients = ["10.%d.%d.%d" % (rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))
               for _ in range(24)]
    next_stats = clock.t + 10.0
    win_prompt = win_gen = 0
    running = 0
    hit_queries = hit_hits = 0
    next_probe = clock.t + 5.0   # kubelet probe, GET /health every 5 s
    next_scrape = clock.t + 15.0  # Prometheus scrape of vLLM's /metrics
    while not out.full():
        clock.advance(args.rate)
        ip = rng.choice(clients)
        port = rng.randrange(32768, 61000)
        # Periodic lines that fall before this request.
        while next_probe <= clock.t or next_scrape <= clock.t or next_stats <= clock.t:
            if next_stats <= min(next_probe, next_scrape):
                running = max(0, min(64, int(rng.gauss(args.rate * 0.9, 2))))
                waiting = 0 if rng.random() < 0.9 else rng.randrange(1, 8)
                kv = min(99.9, running * 1.3 + rng.random() * 3)
                hit = 100.0 * hit_hits / hit_queries if hit_queries else 0.0
                ts = time.strftime("%m-%d %H:%M:%S", time.gmtime(next_stats))
                out.line("%sINFO %s [loggers.py:273] Engine 000: Avg prompt throughput: %.1f tokens/s, "
                         "Avg generation throughput: %.1f tokens/s, Running: %d reqs, Waiting: %d reqs, "
                         "GPU KV cache usage: %.1f%%, Prefix cache hit rate: %.1f%%"
                         % (prefix, ts, win_prompt / 10.0, win_gen / 10.0, running, waiting, kv, hit))
                exp.add("not_requests")
                win_prompt = win_gen = 0
                next_stats += 10.0
            elif next_probe <= next_scrape:
                out.line('%sINFO:     10.244.0.1:%d - "GET /health HTTP/1.1" 200 OK'
                         % (prefix, rng.randrange(32768, 61000)))
                exp.add("not_requests")
                next_probe += 5.0
            else:
                out.line('%sINFO:     10.244.0.12:%d - "GET /metrics HTTP/1.1" 200 OK'
                         % (prefix, rng.randrange(32768, 61000)))
                exp.add("not_requests")
                next_scrape += 15.0
        u = rng.random()
        if u < 0.01:  # a client lists the models
            out.line('%sINFO:     %s:%d - "GET /v1/models HTTP/1.1" 200 OK' % (prefix, ip, port))
            exp.add("not_requests")
            continue
        if u < 0.013:  # warnings (both seen in real v1 logs)
            if rng.random() < 0.5:
                out.line("%sWARNING %s [protocol.py:86] The following fields were present in the "
                         "request but ignored: {'stream_options'}" % (prefix, clock.vllm()))
            else:
                out.line("(Worker_TP0 pid=127) WARNING %s [jit_monitor.py:106] Triton kernel JIT "
                         "compilation during inference: apply_token_bitmask_inplace_kernel. This causes "
                         "a latency spike; consider extending warmup to cover this shape/config."
                         % clock.vllm())
            exp.add("not_requests")
            continue
        path = "/v1/chat/completions" if rng.random() < 0.85 else "/v1/completions"
        s = rng.random()
        code = 200 if s < 0.97 else 400 if s < 0.985 else 404 if s < 0.995 else 500
        prompt = lognormal_int(rng, 600, 1.0, 8, 30000)
        gen = lognormal_int(rng, 180, 0.9, 1, 4096)
        if code == 200:
            win_prompt += prompt
            win_gen += gen
            hit_queries += prompt
            hit_hits += int(prompt * 0.4 * rng.random())
        if log_requests and code != 404:
            rid = ("chatcmpl-" if path == "/v1/chat/completions" else "cmpl-") + \
                "%016x" % rng.getrandbits(64)
            max_tokens = rng.choice((256, 512, 1024, 2048, 4096))
            if out.line("%sINFO %s [logger.py:49] Received request %s: params: SamplingParams(n=1, "
                        "presence_penalty=0.0, frequency_penalty=0.0, repetition_penalty=1.05, "
                        "temperature=0.7, top_p=0.8, top_k=20, min_p=0.0, seed=None, stop=[], "
                        "stop_token_ids=[], bad_words=[], include_stop_str_in_output=False, "
                        "ignore_eos=False, max_tokens=%d, min_tokens=0, logprobs=None, "
                        "prompt_logprobs=None, skip_special_tokens=True, "
                        "spaces_between_special_tokens=True, truncate_prompt_tokens=None, "
                        "structured_outputs=None, extra_args=None), lora_request: None."
                        % (prefix, clock.vllm(), rid, max_tokens)):
                exp.add("max_tokens_count")
            if code == 200:
                out.line("%sINFO %s [async_llm.py:344] Added request %s." % (prefix, clock.vllm(), rid))
                gen = min(gen, max_tokens)
                ids = ", ".join(str(rng.randrange(151646)) for _ in range(gen))
                reason = "length" if gen == max_tokens else "stop"
                if out.line("%sINFO %s [logger.py:71] Generated response %s: output: '%s', "
                            "output_token_ids: [%s], finish_reason: %s"
                            % (prefix, clock.vllm(), rid, "Hello! How can I help you today?", ids, reason)):
                    exp.add("generation_tokens", gen)
        if out.line('%sINFO:     %s:%d - "POST %s HTTP/1.1" %d %s'
                    % (prefix, ip, port, path, code, REASON[code])):
            exp.add("requests_success" if code == 200 else "requests_error")


# --- TGI ----------------------------------------------------------------------
def tgi_params(rng, max_new, chat):
    if chat:  # what chat_completions turns a ChatRequest into
        return ("GenerateParameters { best_of: None, temperature: Some(0.7), repetition_penalty: None, "
                "frequency_penalty: None, top_k: None, top_p: Some(0.95), typical_p: None, do_sample: true, "
                "max_new_tokens: Some(%d), return_full_text: None, stop: [], truncate: None, watermark: false, "
                "details: true, decoder_input_details: false, seed: None, top_n_tokens: None, grammar: None, "
                "adapter_id: None }" % max_new)
    return ("GenerateParameters { best_of: None, temperature: None, repetition_penalty: None, "
            "frequency_penalty: None, top_k: None, top_p: None, typical_p: None, do_sample: false, "
            "max_new_tokens: Some(%d), return_full_text: None, stop: [], truncate: None, watermark: false, "
            "details: false, decoder_input_details: false, seed: None, top_n_tokens: None, grammar: None, "
            "adapter_id: None }" % max_new)


class TgiFormat:
    """tracing-subscriber's fmt layer as TGI configures it (file and line on)."""

    def __init__(self, form):
        self.form = form

    def text(self, ts, level, spans, target, file, line, message):
        """spans: [(name, [(field, value_text), ...]), ...], values already Debug-formatted."""
        if self.form == "plain":
            lvl = {"INFO": " INFO", "WARN": " WARN", "ERROR": "ERROR"}[level]
            sp = ":".join(name + ("{" + " ".join("%s=%s" % f for f in fields) + "}" if fields else "")
                          for name, fields in spans)
            return "%s %s %s%s: %s:%d: %s" % (ts, lvl, sp + ": " if sp else "", target, file, line, message)
        d = lambda s: ESC + "[2m" + s + ESC + "[0m"   # noqa: E731  dimmed
        b = lambda s: ESC + "[1m" + s + ESC + "[0m"   # noqa: E731  bold
        i = lambda s: ESC + "[3m" + s + ESC + "[0m"   # noqa: E731  italic
        colour = {"INFO": "32", "WARN": "33", "ERROR": "31"}[level]
        lvl = ESC + "[" + colour + "m" + {"INFO": " INFO", "WARN": " WARN", "ERROR": "ERROR"}[level] + ESC + "[0m"
        parts = []
        for name, fields in spans:
            s = b(name)
            if fields:
                s += b("{") + " ".join(i(k) + d("=") + v for k, v in fields) + b("}")
            parts.append(s + d(":"))
        sp = "".join(parts) + (" " if parts else "")
        return "%s %s %s%s%s %s%s%s %s" % (d(ts), lvl, sp, d(target), d(":"), d(file), d(":"),
                                            d("%d:" % line), message)

    @staticmethod
    def jstr(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def json(self, ts, level, message, target, file, line, span_name, fields, outer=None):
        """fields: [(field, string)] of the innermost span (sorted, as serde_json's map is)."""
        def span(name, fl):
            return "{" + "".join("%s:%s," % (self.jstr(k), self.jstr(v)) for k, v in sorted(fl)) + \
                '"name":' + self.jstr(name) + "}"
        inner = span(span_name, fields)
        spans = ([outer] if outer else []) + [inner]
        return ('{"timestamp":"%s","level":"%s","message":%s,"target":"%s","filename":"%s",'
                '"line_number":%d,"span":%s,"spans":[%s]}'
                % (ts, level, self.jstr(message), target, file, line, inner, ",".join(spans)))


def gen_tgi(args, rng, out, exp):
    fmt = TgiFormat(args.form)
    clock = Clock(rng)

    def event(level, target, file, line, message):
        ts = clock.rfc3339()
        if args.form == "json":
            return ('{"timestamp":"%s","level":"%s","message":%s,"target":"%s","filename":"%s",'
                    '"line_number":%d}' % (ts, level, fmt.jstr(message), target, file, line))
        return fmt.text(ts, level, [], target, file, line, message)

    # The launcher's and router's start-up (tgi.log block 01 and block 07).
    startup = [
        ("INFO", "text_generation_launcher", "launcher/src/main.rs", 1951, "Starting download process."),
        ("INFO", "text_generation_launcher", "launcher/src/main.rs", 1969,
         "Files are already present on the host. Skipping download."),
        ("INFO", "text_generation_launcher", "launcher/src/main.rs", 1174, "Starting shard rank=0"),
        ("INFO", "text_generation_launcher", "launcher/src/main.rs", 1252,
         "Server started at unix:///tmp/text-generation-server-0"),
        ("INFO", "text_generation_launcher", "launcher/src/main.rs", 2128, "Starting Webserver"),
        ("INFO", "text_generation_router_v3", "backends/v3/src/lib.rs", 125, "Warming up model"),
        ("INFO", "text_generation_router::server", "router/src/server.rs", 1742, "Using config Some(Llama)"),
        ("WARN", "text_generation_router::server", "router/src/server.rs", 1909,
         "Invalid hostname, defaulting to 0.0.0.0"),
        ("INFO", "text_generation_router::server", "router/src/server.rs", 2302, "Connected"),
    ]
    for level, target, file, line, msg in startup:
        if out.line(event(level, target, file, line, msg)):
            exp.add("not_requests")
        clock.t += 0.3

    routes = (("chat_completions", 0.70), ("generate_stream", 0.18), ("generate", 0.12))
    while not out.full():
        clock.advance(args.rate)
        u = rng.random()
        route = routes[0][0] if u < routes[0][1] else routes[1][0] if u < routes[0][1] + routes[1][1] \
            else routes[2][0]
        chat = route == "chat_completions"
        max_new = rng.choice((128, 256, 512, 1024, 2048)) if chat else rng.choice((14, 20, 64, 100, 256))
        params = tgi_params(rng, max_new, chat)
        # chat_completions records its parameters later, as a String: Debug-quoted.
        pval = TgiFormat.jstr(params) if chat else params
        compat = (not chat) and rng.random() < 0.25  # POST / goes through compat_generate
        outer_text = ("compat_generate", [("default_return_full_text", "false"),
                                          ("compute_type", 'Extension(ComputeType("1-nvidia-a10g"))')])
        outer_json = '{"compute_type":"Extension(ComputeType(\\"1-nvidia-a10g\\"))",' \
                     '"default_return_full_text":"false","name":"compat_generate"}'
        f = rng.random()
        if f < 0.01 or (args.tgi_v3_errors and f < 0.02):
            # A failed request: one ERROR event inside its span (no timings recorded).
            kind = "incomplete" if f < 0.01 else rng.choice(("generation", "overload", "validation"))
            if kind == "incomplete":
                tgt, file, line, msg, inner = ("text_generation_router::infer", "router/src/infer/mod.rs", 314,
                                               "Incomplete generation", "generate")
            elif kind == "generation":
                tgt, file, line, inner = ("text_generation_router_v3::backend", "backends/v3/src/backend.rs",
                                          546, "send_error")
                msg = ("Request failed during generation: Server error: CUDA out of memory. Tried to "
                       "allocate 1.02 GiB. GPU 0 has a total capacity of 22.05 GiB of which 312.12 MiB is free.")
            elif kind == "overload":
                tgt, file, line, msg, inner = ("text_generation_router::infer", "router/src/infer/mod.rs", 118,
                                               "no permits available", "generate_stream")
            else:
                tgt, file, line, inner = ("text_generation_router::infer", "router/src/infer/mod.rs", 126,
                                          "generate_stream")
                msg = ("`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens "
                       "and %d `max_new_tokens`" % max_new)
            ts = clock.rfc3339()
            if args.form == "json":
                line_text = fmt.json(ts, "ERROR", msg, tgt, file, line, inner, [],
                                     outer='{%s:%s,"name":"%s"}' % (fmt.jstr("parameters"), fmt.jstr(params), route))
            else:
                spans = ([outer_text] if compat else []) + [(route, [("parameters", pval)]), (inner, [])]
                line_text = fmt.text(ts, "ERROR", spans, tgt, file, line, msg)
            if out.line(line_text):
                exp.add("requests_error")
            continue
        # A successful request: its timings, in ns as Rust's Instant differences give them.
        tokens = lognormal_int(rng, max_new * 0.5, 0.6, 1, max_new)
        validation = int(rng.lognormvariate(6.4, 0.6) * 1000) + rng.randrange(1000)   # ~600 µs
        queue = int(rng.expovariate(1 / 30e6)) if rng.random() < 0.3 else rng.randrange(20_000, 400_000)
        per_tok = int(rng.uniform(12e6, 45e6))
        inference = tokens * per_tok + rng.randrange(5_000_000, 80_000_000)
        total = validation + queue + inference + rng.randrange(5_000, 500_000)
        time_per_token = inference // tokens
        timings = [("total_time", total), ("validation_time", validation), ("queue_time", queue),
                   ("inference_time", inference), ("time_per_token", time_per_token)]
        ts = clock.rfc3339()
        line_no = 432 if route == "generate" or (chat and rng.random() < 0.5) else 637
        if args.form == "json":
            fields = [(k, rust_duration(v)) for k, v in timings] + [("parameters", params), ("seed", "None")]
            line_text = fmt.json(ts, "INFO", "Success", "text_generation_router::server", "router/src/server.rs",
                                 line_no, route, fields, outer=outer_json if compat else None)
        else:
            fields = [("parameters", pval)] + [(k, '"%s"' % rust_duration(v)) for k, v in timings] + \
                [("seed", '"None"')]
            spans = ([outer_text] if compat else []) + [(route, fields)]
            line_text = fmt.text(ts, "INFO", spans, "text_generation_router::server", "router/src/server.rs",
                                 line_no, "Success")
        if out.line(line_text):
            exp.add("requests_success")
            exp.add("latency_ms_count")
            exp.add("latency_ns_sum", total)
            # The preset reads them back as inference_time / time_per_token, rounded.
            exp.add("generation_tokens", tokens)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", required=True, choices=("vllm", "tgi"))
    p.add_argument("--form", help="vllm: default | log-requests; tgi: ansi (default) | plain | json")
    p.add_argument("--lines", type=int, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=20.0, help="requests per second of log time (20)")
    p.add_argument("--expect", help="also write the expected totals to this file")
    p.add_argument("--tgi-v3-errors", action="store_true")
    args = p.parse_args()
    forms = {"vllm": ("default", "log-requests"), "tgi": ("ansi", "plain", "json")}
    args.form = args.form or forms[args.server][0]
    if args.form not in forms[args.server]:
        p.error("--form for %s: one of %s" % (args.server, ", ".join(forms[args.server])))
    if args.lines < 0 or args.rate <= 0:
        p.error("--lines >= 0 and --rate > 0")
    rng = random.Random("%s/%s/%d" % (args.server, args.form, args.seed))
    out, exp = Out(args.lines), Expect()
    (gen_vllm if args.server == "vllm" else gen_tgi)(args, rng, out, exp)
    out.flush()
    sys.stdout.flush()
    text = "\n".join(exp.lines(out.n, out.nbytes, args)) + "\n"
    sys.stderr.write(text)
    if args.expect:
        with open(args.expect, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
