#!/usr/bin/env bash
# --once speed on stock server logs (the preset's text rules) and on JSON
# request lines, checked against the generators' expected totals.
#
# usage: bench/stock_speed.sh BUILD_DIR [BASELINE_BUILD_DIR]
#
#   BUILD_DIR           holds llm_log_exporter and lle_sample_log (relative to
#                       the current directory, else to the repository root).
#   BASELINE_BUILD_DIR  another build (e.g. an older commit's): the JSON row is
#                       then timed for both, runs alternating A/B/A/B, on the
#                       same input (BUILD_DIR's lle_sample_log output).
# env: RUNS=5 timed runs per row (median; after 1 warm-up run), LINES=1000000,
#      SEED=1, FORMS="vllm:default vllm:log-requests tgi:ansi tgi:json json",
#      LONG=1 (default) adds the long-line rows, KEEP=DIR keeps the inputs in
#      DIR (and reuses them on the next run) instead of a temporary directory,
#      PIPE=1 times `cat FILE | llm_log_exporter --once` (a pipe; CPU s is the
#      exporter's) instead of the file as stdin.
#
# Rows:
#   vllm:default       gen_stock_logs.py --server vllm (v1, default flags)
#   vllm:log-requests  ... --form log-requests (--enable-log-requests/-outputs)
#   tgi:ansi|plain|json  gen_stock_logs.py --server tgi --form ...
#   json               lle_sample_log LINES 42: JSON request lines (the input of
#                      the profile-guided build's training run)
#   long               lines that match nothing: 100 x 1 MiB against 10 x 10 MiB
#                      (--input.max-line-bytes=16777216 for both), in two kinds:
#                      random words, and near misses (every rule's literal guard
#                      repeated, no rule matching); ms per MiB should be flat.
# Each stock row's output is checked: qwen_requests_total by status, the
# request_duration_ms sum (relative 1e-9) and count, generation_tokens_total;
# the json row against a Python reading of the same file. Exit 1 on a mismatch.
set -euo pipefail

usage() { sed -n 5p "$0" | sed 's/^# //' >&2; exit 2; }
die() { echo "stock_speed.sh: $*" >&2; exit 1; }
say() { echo "# $*" >&2; }

[[ $# -ge 1 && $# -le 2 ]] || usage
[[ $1 == -h || $1 == --help ]] && usage
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=python3
command -v "$PY" > /dev/null || die "python3 is required"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"

build_dir() {
  local d=$1
  [[ -d $d ]] || d=$REPO/$1
  [[ -d $d ]] || die "no build directory $1 (here or in $REPO)"
  [[ -x $d/llm_log_exporter ]] || die "no executable $d/llm_log_exporter"
  (cd "$d" && pwd)
}
A=$(build_dir "$1")
B=
[[ $# -eq 2 ]] && B=$(build_dir "$2")
EXE=$A/llm_log_exporter
RUNS=${RUNS:-5}
LINES=${LINES:-1000000}
SEED=${SEED:-1}
FORMS=${FORMS:-vllm:default vllm:log-requests tgi:ansi tgi:json json}
LONG=${LONG:-1}

if [[ -n ${KEEP:-} ]]; then
  mkdir -p "$KEEP"
  DATA=$(cd "$KEEP" && pwd)
else
  DATA=$(mktemp -d /tmp/lle_stock.XXXXXX)
fi
TMP=$(mktemp -d /tmp/lle_stock_run.XXXXXX)
cleanup() {
  rm -rf "$TMP"
  [[ -n ${KEEP:-} ]] || rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# Runs EXE --once [ARGS] < FILE once; prints "wall_s cpu_s".
time_once() {
  local exe=$1 file=$2 t0 t1 u s
  shift 2
  t0=$EPOCHREALTIME
  if [[ ${PIPE:-0} == 1 ]]; then
    cat "$file" | /usr/bin/time -f '%U %S' -o "$TMP/time" "$exe" --once "$@" > /dev/null
  else
    /usr/bin/time -f '%U %S' -o "$TMP/time" "$exe" --once "$@" < "$file" > /dev/null
  fi
  t1=$EPOCHREALTIME
  read -r u s < "$TMP/time"
  echo "$(calc %.4f "$t1 - $t0") $(calc %.2f "$u + $s")"
}

# Sets W (median wall s), W_RANGE (min-max), C (median CPU s) of RUNS runs in $1.
summarize() {
  W=$(cut -d' ' -f1 "$1" | median)
  W_RANGE=$(cut -d' ' -f1 "$1" | sort -g | sed -n '1p;$p' | paste -sd-)
  C=$(cut -d' ' -f2 "$1" | median)
}

# Compares the exposition in $1 with the expected totals in $2 (key=value).
check_stock() {
  "$PY" - "$1" "$2" << 'EOF'
import re, sys
prom, exp = open(sys.argv[1]).read(), dict(l.strip().split("=", 1) for l in open(sys.argv[2]) if "=" in l)
def value(name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), prom, re.M)
    return float(m.group(1)) if m else 0.0
bad = []
for st in ("success", "error", "timeout"):
    got, want = value("qwen_requests_total", '{status="%s"}' % st), float(exp["requests_" + st])
    if got != want:
        bad.append("requests_total{status=%s}: %g, expected %g" % (st, got, want))
got, want = value("qwen_request_duration_ms_sum"), float(exp["latency_ms_sum"])
if abs(got - want) > 1e-9 * max(1.0, abs(want)):
    bad.append("request_duration_ms_sum: %r, expected %r" % (got, want))
got, want = value("qwen_request_duration_ms_count"), float(exp["latency_ms_count"])
if got != want:
    bad.append("request_duration_ms_count: %g, expected %g" % (got, want))
if "generation_tokens" in exp:
    got, want = value("qwen_generation_tokens_total"), float(exp["generation_tokens"])
    if got != want:
        bad.append("generation_tokens_total: %g, expected %g" % (got, want))
for b in bad:
    print("MISMATCH " + b, file=sys.stderr)
print("MATCH" if not bad else "MISMATCH")
sys.exit(1 if bad else 0)
EOF
}

# Expected totals of a JSON-path file (lle_sample_log): JSON objects with a
# status or total_time_ms key are requests; so are uvicorn access lines of POST
# inference routes (the preset's text rule), by their HTTP code.
expect_json() {
  "$PY" - "$1" << 'EOF'
import json, re, sys
n = {"success": 0, "error": 0, "timeout": 0}
ms, count, lines, nbytes = 0.0, 0, 0, 0
access = re.compile(r'"POST /v1/(?:chat/completions|completions) HTTP/1\.[01]" ([1-5][0-9][0-9])')
with open(sys.argv[1], "rb") as f:
    for raw in f:
        lines += 1
        nbytes += len(raw)
        try:
            o = json.loads(raw)
        except ValueError:
            m = access.search(raw.decode("utf-8", "replace"))
            if m:
                c = int(m.group(1))
                n["success" if c < 300 else "timeout" if c in (408, 504) else "error"] += 1
            continue
        if isinstance(o, dict) and ("status" in o or "total_time_ms" in o):
            n[o["status"]] += 1
            if isinstance(o.get("total_time_ms"), (int, float)):
                ms += o["total_time_ms"]
                count += 1
print("lines=%d\nbytes=%d" % (lines, nbytes))
for k, v in n.items():
    print("requests_%s=%d" % (k, v))
print("latency_ms_sum=%r\nlatency_ms_count=%d" % (ms, count))
EOF
}

ROWS=()   # "name|lines/s|MB/s|median s (range)|CPU s|check"
FAILED=0

# Times one row: name, file, expected-totals file ("" = no check), then extra args.
row() {
  local name=$1 file=$2 expect=$3 i check=n/a nl bytes
  shift 3
  nl=$(awk -F= '$1 == "lines" {print $2}' "$expect")
  bytes=$(stat -c %s "$file")
  "$EXE" --once "$@" < "$file" > "$TMP/out.prom"
  if check=$(check_stock "$TMP/out.prom" "$expect"); then :; else FAILED=1; fi
  : > "$TMP/runs"
  for ((i = 0; i < RUNS; i++)); do time_once "$EXE" "$file" "$@" >> "$TMP/runs"; done
  summarize "$TMP/runs"
  ROWS+=("$name|$(calc %.2f "$nl / $W / 1e6") M|$(calc %.0f "$bytes / 1e6 / $W")|$W ($W_RANGE)|$C|$check")
  say "$name: $W s, $check"
}

say "exporter: $EXE (git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')); inputs in $DATA"
say "machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"

for form in $FORMS; do
  if [[ $form == json ]]; then
    [[ -x $A/lle_sample_log ]] || die "no $A/lle_sample_log"
    f=$DATA/json_$LINES.log
    if [[ ! -s $f || ! -s $f.expect ]]; then
      say "generating $f (lle_sample_log $LINES 42)"
      "$A/lle_sample_log" "$LINES" 42 > "$f"
      expect_json "$f" > "$f.expect"
    fi
    if [[ -z $B ]]; then
      row "json (lle_sample_log)" "$f" "$f.expect"
      continue
    fi
    # A/B in alternation on the same input: A is BUILD_DIR, B the baseline.
    nl=$(awk -F= '$1 == "lines" {print $2}' "$f.expect")
    bytes=$(stat -c %s "$f")
    "$EXE" --once < "$f" > "$TMP/out.prom"
    if check=$(check_stock "$TMP/out.prom" "$f.expect"); then :; else FAILED=1; fi
    "$B/llm_log_exporter" --once < "$f" > /dev/null
    : > "$TMP/runs_a"
    : > "$TMP/runs_b"
    for ((i = 0; i < RUNS; i++)); do
      time_once "$EXE" "$f" >> "$TMP/runs_a"
      time_once "$B/llm_log_exporter" "$f" >> "$TMP/runs_b"
    done
    summarize "$TMP/runs_a"
    ROWS+=("json, this build (A)|$(calc %.2f "$nl / $W / 1e6") M|$(calc %.0f "$bytes / 1e6 / $W")|$W ($W_RANGE)|$C|$check")
    summarize "$TMP/runs_b"
    ROWS+=("json, baseline (B, $2)|$(calc %.2f "$nl / $W / 1e6") M|$(calc %.0f "$bytes / 1e6 / $W")|$W ($W_RANGE)|$C|not checked")
    say "json A/B done"
    continue
  fi
  server=${form%%:*}
  variant=${form#*:}
  f=$DATA/${server}_${variant}_$LINES.log
  if [[ ! -s $f || ! -s $f.expect ]]; then
    say "generating $f"
    "$PY" "$REPO/bench/gen_stock_logs.py" --server "$server" --form "$variant" --lines "$LINES" \
      --seed "$SEED" --expect "$f.expect" > "$f" 2> /dev/null
  fi
  row "$form" "$f" "$f.expect"
done

# Long lines that match nothing: time per MiB must not grow with the length.
LROWS=()
if [[ $LONG == 1 ]]; then
  for kind in words near-miss; do
    for shape in 100x1 10x10; do
      f=$DATA/long_${kind}_$shape.log
      if [[ ! -s $f ]]; then
        say "generating $f"
        "$PY" - "$kind" "${shape%x*}" "${shape#*x}" > "$f" << 'EOF'
import random, sys
kind, count, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
if kind == "words":
    # Lower-case words and spaces: no rule's literal, no level, no secret.
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
             "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "magna", "aliqua"]
    unit = " ".join(rng.choice(words) for _ in range(20000))
else:
    # Every text rule's literal guard (config/qwen.yaml `contains:`), each
    # followed by text that fails its regex: the worst case for the matcher.
    guards = ['"POST /v2/nothing HTTP/1.1" abc', "Avg prompt throughput: x tokens",
              "SpecDecoding metrics: none", "Generated response id output",
              "Received request id params", "borted request", " is preempted by nothing",
              ": Success total_time=1", '"message":"Success","span":{"x":"y"}',
              "ERROR nothing here", " batch #", "meta_info none", "log_server_r nothing",
              "prompt eval time = x", "eval time = x", "total time = x", "[GIN] none",
              ", input_tokens=x", " finished, reason x", "Engine (running/waiting): x"]
    unit = " ".join(rng.choice(guards) for _ in range(4000))
size = mib * 1048576 - 1
line = (unit * (size // len(unit) + 1))[:size]
out = sys.stdout
for _ in range(count):
    out.write(line + "\n")
EOF
      fi
      "$EXE" --once --input.max-line-bytes=16777216 < "$f" > "$TMP/out.prom"
      # Every line must have been read (none skipped as too long).
      "$PY" - "$TMP/out.prom" "${shape%x*}" << 'EOF' || FAILED=1
import re, sys
prom, want = open(sys.argv[1]).read(), int(sys.argv[2])
got = sum(float(v) for v in re.findall(r"^llm_log_exporter_lines_total(?:\{[^}]*\})? (\S+)$", prom, re.M))
bad = re.findall(r'^llm_log_exporter_\w*(?:dropped|skipped)\w*\{[^}]*too_long[^}]*\} ([1-9]\S*)$', prom, re.M)
if got != want or bad:
    print("long lines: lines_total %g, expected %d; too_long %s" % (got, want, bad), file=sys.stderr)
    sys.exit(1)
EOF
      : > "$TMP/runs"
      for ((i = 0; i < RUNS; i++)); do
        time_once "$EXE" "$f" --input.max-line-bytes=16777216 >> "$TMP/runs"
      done
      summarize "$TMP/runs"
      mib=$(calc %.2f "$(stat -c %s "$f") / 1048576")
      LROWS+=("$kind|${shape/x/ x } MiB|$W ($W_RANGE)|$(calc %.2f "$W * 1000 / $mib")")
      say "long $kind $shape: $W s"
    done
  done
fi

echo "| input | lines/s | MB/s | wall s, median of $RUNS (range) | CPU s | check |"
echo "|---|---:|---:|---:|---:|---|"
for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
if [[ ${#LROWS[@]} -gt 0 ]]; then
  echo
  echo "| long lines that match nothing | lines | wall s, median of $RUNS (range) | ms per MiB |"
  echo "|---|---|---:|---:|"
  for r in "${LROWS[@]}"; do echo "| ${r//|/ | } |"; done
fi
[[ $FAILED == 0 ]] || die "a check failed (MISMATCH above)"
