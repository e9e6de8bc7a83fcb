#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/,
from the repository's own files (real server lines of tests/golden, the
shipped configs) and a few hand-made inputs. Run from anywhere; rerun after
the golden inputs change. The files stay small (4 KiB, but the shipped configs whole)."""

import gzip
import hashlib
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")
MAX = 4096


def msgpack(v):
    """`v` (dict, list, str, int, float, bool, None) as msgpack, smallest forms."""
    if isinstance(v, dict):
        head = bytes([0x80 | len(v)]) if len(v) < 16 else b"\xde" + len(v).to_bytes(2, "big")
        return head + b"".join(msgpack(k) + msgpack(x) for k, x in v.items())
    if isinstance(v, list):
        head = bytes([0x90 | len(v)]) if len(v) < 16 else b"\xdc" + len(v).to_bytes(2, "big")
        return head + b"".join(msgpack(x) for x in v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return (b"\xd9" + bytes([len(b)]) if len(b) < 256 else b"\xda" + len(b).to_bytes(2, "big")) + b
    if v is None or isinstance(v, bool):
        return {None: b"\xc0", False: b"\xc2", True: b"\xc3"}[v]
    if isinstance(v, int):
        return bytes([v]) if 0 <= v < 128 else b"\xd3" + v.to_bytes(8, "big", signed=True)
    return b"\xcb" + struct.pack(">d", v)


def fluent_bit_record(body):
    """A record as Fluent Bit 2.1+ writes it: [[EventTime, {}], body]."""
    return b"\x92\x92\xd7\x00" + struct.pack(">II", 1712310225, 123) + b"\x80" + msgpack(body)


def golden_inputs():
    root = os.path.join(REPO, "tests", "golden")
    for case in sorted(os.listdir(root)):
        path = os.path.join(root, case, "input.log")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                yield case, f.read()


def pieces(data, size=MAX):
    """Whole lines of data, grouped up to `size` bytes."""
    out, cur = [], b""
    for line in data.splitlines(keepends=True):
        line = line[:size]
        if cur and len(cur) + len(line) > size:
            out.append(cur)
            cur = b""
        cur += line
    if cur:
        out.append(cur)
    return out


def write(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    lines_by_case = {case: data for case, data in golden_inputs()}

    # line_parser: golden lines a few at a time, and edge cases of the fast path.
    for case, data in lines_by_case.items():
        for piece in pieces(data, 1024)[:4]:
            write("line_parser_fuzz", piece)
    for edge in [b'{}', b' { } ', b'{"status":"success","output_tokens":1.7976931348623157e308}',
                 b'{"a":-0,"b":-0.0,"status":1e5}', b'{"a":123456789012345,"b":1234567890123456}',
                 b'{"abcdefghijklmnopq":"x","a_field_name_longer_than_24_bytes":2}',
                 b'{"usage":{"prompt_tokens":3,"total_tokens":4},"usage":5}',
                 b'{"status":"a\\u0000b","msg":"\xc3\xa9"}', b'{"a":1,}', b'{"a":01}',
                 b'{"a":true,"b":false,"c":null,"d":[1,{"e":2}]}\n{"a":1.5}\n{"a":"x"}']:
        write("line_parser_fuzz", edge)
    # Nested objects no wanted key is in (TGI --json-output's span): checked and skipped.
    write("line_parser_fuzz", b"".join(l for l in lines_by_case["server_tgi"].splitlines(True)
                                       if l.startswith(b"{")))

    # pipeline: a set-up byte, then real lines.
    for i, (case, data) in enumerate(sorted(lines_by_case.items())):
        for j, piece in enumerate(pieces(data)[:2]):
            write("pipeline_fuzz", bytes([(i * 7 + j) & 0x1f]) + piece)

    for setup, edge in [
            (0, b'{"status":"success","output_tokens":1.7976931348623157e308}\n'
                b'{"status":"success","output_tokens":1.7976931348623157e308}\n'),
            (0x10, b'{"status":"er\\u0000r\\u001b[31m","request_id":"a","model":"\xc3\xa9"}\n'
                   b'Traceback (most recent call last):\n  File "x.py", line 1, in f\n'
                   b'ValueError: boom\nINFO done\n'),
            (1, b"x" * 100 + b"\n" + b'{"request_id":"a","status":"success"}\n')]:
        write("pipeline_fuzz", bytes([setup]) + edge)

    # body_framer: bodies as Fluent Bit's http output sends them.
    records = [{"date": 1712310225.1 + i, "log": line.decode("utf-8", "replace")}
               for i, line in enumerate(lines_by_case["server_vllm"].splitlines()[:5])]
    plain = [json.loads(l) for l in lines_by_case["seed_example"].splitlines()[:3]]
    gelf = b"".join(b'{"version":"1.1", "short_message":%s, "_stream":"stdout"}\n'
                    % json.dumps(r["log"]).encode() for r in records)
    bodies = [
        (3, json.dumps(records).encode()),                                 # format json
        (2, b"\n".join(json.dumps(r).encode() for r in plain) + b"\n"),   # json_lines as ndjson
        (5, b"".join(json.dumps(r).encode() for r in records)),           # json_stream
        (1, lines_by_case["server_tgi"][:2048]),                           # text/plain
        (4, json.dumps(plain, indent=2).encode()),
        (0, b'{"log":"a\\nb\\r\\n"}\n{"log":5}\nplain\n'),
        (3, gelf),                                                         # format gelf
        (0x80, b"".join(fluent_bit_record(r) for r in records)),          # format msgpack
        (0x80, b"".join(fluent_bit_record(r) for r in plain)),            # parsed upstream
    ]
    for content_type, body in bodies:
        write("body_framer_fuzz", bytes([content_type]) + body)
        write("body_framer_fuzz", bytes([content_type | 0x08]) + body)          # also gzip
        write("body_framer_fuzz", bytes([content_type | 0x18]) + body)          # two members
        write("body_framer_fuzz", bytes([content_type | 0x20]) + gzip.compress(body, mtime=0))
    write("body_framer_fuzz", bytes([0x4b]) + json.dumps(records * 4).encode())  # small limit

    # config: the shipped configs, one with lines after "#--".
    for name in ["qwen.yaml", "qwen_seed.yaml", "vllm.yaml", "openai_usage.yaml"]:
        with open(os.path.join(REPO, "config", name), "rb") as f:
            text = f.read()
        write("config_fuzz", text)  # qwen.yaml is 23 kB: -max_len 32768 in run.sh
    with open(os.path.join(REPO, "tests", "golden", "rule_features", "rules.yaml"), "rb") as f:
        write("config_fuzz", f.read() + b"\n#--\n" + lines_by_case["rule_features"])
    write("config_fuzz", b"namespace: x\nmetrics: []\n#--\nhello\n")

    # web_config: exporter-toolkit files (no '/': the target skips those).
    bcrypt = b"$2y$10$" + b"abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"[:53]
    for text in [b"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n",
                 b"tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
                 b"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
                 b"  min_version: TLS13\n",
                 b"basic_auth_users:\n  alice: " + bcrypt + b"\n",
                 b"http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
                 b"{}\n"]:
        write("web_config_fuzz", text)


if __name__ == "__main__":
    main()
