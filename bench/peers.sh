#!/usr/bin/env bash
# llm_log_exporter against its peers on the same file, as a Markdown table.
#
# usage: bench/peers.sh [BUILD_DIR=build] [LINES=1000000]
#
#   BUILD_DIR  holds llm_log_exporter and lle_sample_log (relative to the
#              current directory, else to the repository root).
#   LINES      lines of input, made with BUILD_DIR/lle_sample_log LINES SEED
#              (the repository's own generator: 93 % request lines, JSON
#              events, text lines) in a temporary directory.
# env: RUNS=3 timed runs of each command (after one run whose output is
#      checked), SEED=42.
#
# Commands, each with the file as stdin (mtail reads it with -logs):
#   llm_log_exporter --once                       the default preset (28 metrics)
#   llm_log_exporter --once --config.file config/qwen_seed.yaml
#                                                 the peers' five metrics only
#   python3 bench/original_exporter.py --once     the original Python exporter,
#                                                 re-implemented from its design
#   mtail -one_shot -progs bench/peers            the same five metrics in mtail
# Figures: median wall (bash $EPOCHREALTIME around the process) and CPU (GNU
# time %U+%S) seconds, largest peak RSS (%M), lines/s, and how many times
# faster each exporter run is than each peer (peer / exporter, wall and CPU).
#
# Check (exit 1 on a mismatch): the five metrics of the seed config, the Python
# exporter and mtail are equal (requests per status, bucket counts, counts,
# the gauge; sums within a relative 1e-9); the default preset's are equal too,
# except that its qwen_requests_total{status="success"} also counts uvicorn
# access lines of inference routes, which must be exactly the difference.
#
# Needs (Debian): python3, python3-prometheus-client, mtail, time.
set -euo pipefail

usage() { sed -n 4p "$0" | sed 's/^# //' >&2; exit 2; }
die() { echo "peers.sh: $*" >&2; exit 1; }
say() { echo "# $*" >&2; }

[[ $# -le 2 ]] || usage
[[ ${1:-} == -h || ${1:-} == --help ]] && usage
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
[[ -d $BUILD ]] || BUILD=$REPO/$BUILD
[[ -d $BUILD ]] || die "no build directory ${1:-build} (here or in $REPO)"
BUILD=$(cd "$BUILD" && pwd)
EXE=$BUILD/llm_log_exporter
GEN=$BUILD/lle_sample_log
[[ -x $EXE ]] || die "no executable $EXE (build it: make -C BUILD_DIR llm_log_exporter)"
[[ -x $GEN ]] || die "no executable $GEN (build it: make -C BUILD_DIR lle_sample_log)"
LINES=${2:-1000000}
[[ $LINES =~ ^[1-9][0-9]*$ ]] || die "LINES must be a positive whole number, not '$LINES'"
RUNS=${RUNS:-3}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive whole number, not '$RUNS'"
SEED=${SEED:-42}
PY=/usr/bin/python3
[[ -x $PY ]] || die "$PY is required (apt-get install python3)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (apt-get install time)"
"$PY" -c 'import prometheus_client' 2>/dev/null ||
  die "$PY cannot import prometheus_client (apt-get install python3-prometheus-client)"
MTAIL=$(command -v mtail) || die "mtail is required (apt-get install mtail)"
SEED_CONFIG=$REPO/config/qwen_seed.yaml

TMP=$(mktemp -d /tmp/lle_peers.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

LOG=$TMP/input.log
say "generating $LINES lines (lle_sample_log $LINES $SEED)"
"$GEN" "$LINES" "$SEED" > "$LOG"
NL=$(wc -l < "$LOG")
BYTES=$(stat -c %s "$LOG")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# The commands, by key: CMD_key (stdin is LOG; read by time_run through a
# nameref) and its table label (the backquotes are Markdown).
KEYS=(default seed python mtail)
declare -A LABEL
# shellcheck disable=SC2034,SC2016
{
CMD_default=("$EXE" --once)
LABEL[default]='`llm_log_exporter --once` (default preset)'
CMD_seed=("$EXE" --once --config.file "$SEED_CONFIG")
LABEL[seed]='`llm_log_exporter --once --config.file config/qwen_seed.yaml`'
CMD_python=("$PY" "$REPO/bench/original_exporter.py" --once)
LABEL[python]='original Python exporter (`bench/original_exporter.py --once`)'
# -port 0: mtail listens even in one-shot mode; -logtostderr: no log files in /tmp.
CMD_mtail=("$MTAIL" -one_shot -one_shot_format prometheus -emit_prog_label=false -port 0
           -logtostderr -progs "$REPO/bench/peers" -logs "$LOG")
LABEL[mtail]='mtail (`bench/peers/qwen.mtail`, `-one_shot`)'
}

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# Runs command $1 once with LOG as stdin and its output in $2; prints
# "wall_s cpu_s peak_kib".
time_run() {
  local t0 t1 u s m
  local -n cmd=CMD_$1
  t0=$EPOCHREALTIME
  if ! /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "${cmd[@]}" < "$LOG" > "$2" 2> "$TMP/$1.err"; then
    tail -n 5 "$TMP/$1.err" >&2
    die "$1 failed: ${cmd[*]}"
  fi
  t1=$EPOCHREALTIME
  read -r _ u s m < "$TMP/time"
  echo "$(calc %.3f "$t1 - $t0") $(calc %.2f "$u + $s") $m"
}

# The first run of each writes the output that is checked (and warms the page
# cache); the timed runs follow.
declare -A WALL CPU RSS
for k in "${KEYS[@]}"; do
  say "$k: the checked run"
  time_run "$k" "$TMP/$k.prom" > /dev/null
done

say "checking that the outputs agree"
"$PY" - "$TMP" "$LOG" <<'EOF' || die "the outputs disagree (above)"
import math, re, sys
tmp, log = sys.argv[1], sys.argv[2]
FAMILIES = ("qwen_requests_total", "qwen_request_duration_ms", "qwen_input_tokens",
            "qwen_output_tokens", "qwen_gpu_memory_mb")
SAMPLE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')

def load(key):
    """The five families' samples: {(name, labels): value}; le as a float."""
    out = {}
    for line in open("%s/%s.prom" % (tmp, key)):
        m = SAMPLE.match(line.rstrip("\n"))
        if not m or m.group(1).endswith("_created"):
            continue
        name = m.group(1)
        if not any(name == f or name.startswith(f + "_") and name[len(f) + 1:] in
                   ("bucket", "count", "sum") for f in FAMILIES):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if "le" in labels:
            labels["le"] = repr(float(labels["le"]))
        out[(name, tuple(sorted(labels.items())))] = float(m.group(3))
    return out

def same(a, b):
    return a == b or math.isclose(a, b, rel_tol=1e-9)

ref = load("python")
if not ref or ("qwen_request_duration_ms_count", ()) not in ref:
    sys.exit("the Python exporter counted no requests")
# Access lines of inference routes, which the default preset counts as requests.
access = re.compile(rb'"POST /v1/(?:chat/completions|completions|embeddings)[ ?][^"]*HTTP/1\.[01]" 2')
extra = sum(1 for line in open(log, "rb") if b"HTTP/1." in line and access.search(line))
bad = False
for key in ("seed", "mtail", "default"):
    got = load(key)
    expected = dict(ref)
    if key == "default":
        k = ("qwen_requests_total", (("status", "success"),))
        expected[k] = expected.get(k, 0) + extra
    diffs = ["%s%s: %s, python %s" % (n, dict(l) or "", got.get((n, l)), expected.get((n, l)))
             for (n, l) in sorted(set(got) | set(expected))
             if (n, l) not in got or (n, l) not in expected or not same(got[(n, l)], expected[(n, l)])]
    for d in diffs[:10]:
        print("%s: %s" % (key, d), file=sys.stderr)
    bad = bad or bool(diffs)
    print("# %s: %d samples %s" % (key, len(expected), "differ: %d" % len(diffs) if diffs else "equal"),
          file=sys.stderr)
n = lambda name, l=(): ref.get((name, l), 0)
print("requests %d (success %d, error %d, timeout %d), duration sum %.0f ms; default preset: "
      "+%d uvicorn access lines as successes" % (
          n("qwen_request_duration_ms_count"), n("qwen_requests_total", (("status", "success"),)),
          n("qwen_requests_total", (("status", "error"),)),
          n("qwen_requests_total", (("status", "timeout"),)), n("qwen_request_duration_ms_sum"), extra),
      file=open("%s/check.txt" % tmp, "w"))
sys.exit(1 if bad else 0)
EOF

for k in "${KEYS[@]}"; do
  say "$k: $RUNS timed runs"
  : > "$TMP/runs"
  for ((i = 0; i < RUNS; i++)); do time_run "$k" /dev/null >> "$TMP/runs"; done
  WALL[$k]=$(cut -d' ' -f1 "$TMP/runs" | median)
  CPU[$k]=$(cut -d' ' -f2 "$TMP/runs" | median)
  RSS[$k]=$(cut -d' ' -f3 "$TMP/runs" | sort -g | tail -1 | awk '{printf "%.1f", $1 / 1024}')
  say "$k: wall ${WALL[$k]} s, CPU ${CPU[$k]} s, peak RSS ${RSS[$k]} MiB"
done

lps() {  # lines/s, as 6.25 M or 162 k
  awk -v n="$NL" -v w="$1" 'BEGIN {r = n / w; if (r >= 1e6) printf "%.2f M", r / 1e6;
                                   else printf "%.0f k", r / 1e3}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.1f×", a / b; else print "n/a"}'; }
ROWS=""
for k in "${KEYS[@]}"; do
  by_default="" by_seed=""
  if [[ $k == python || $k == mtail ]]; then
    by_default="$(ratio "${WALL[$k]}" "${WALL[default]}") / $(ratio "${CPU[$k]}" "${CPU[default]}")"
    by_seed="$(ratio "${WALL[$k]}" "${WALL[seed]}") / $(ratio "${CPU[$k]}" "${CPU[seed]}")"
  fi
  ROWS+="| ${LABEL[$k]} | ${WALL[$k]} | ${CPU[$k]} | ${RSS[$k]} | $(lps "${WALL[$k]}") | $by_default | $by_seed |"$'\n'
done

CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cat <<EOF

## llm_log_exporter and its peers on the same file

Machine: $(nproc) CPUs, $CPU_MODEL, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC');
load average before / after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg).
Exporter: \`$EXE\` ($("$EXE" --version 2>&1 | head -1)); scripts at git $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?');
$("$PY" -c 'import prometheus_client, sys; print("Python %d.%d.%d, prometheus_client" % sys.version_info[:3])') $(dpkg-query -W -f '${Version}' python3-prometheus-client 2>/dev/null || echo '?');
mtail $("$MTAIL" --version 2>&1 | awk 'NR == 1 {print $3}').
Input: \`lle_sample_log $LINES $SEED\`, $NL lines, $BYTES bytes (page cache).
Check: $(cat "$TMP/check.txt"); all outputs agree.

Median of $RUNS runs (after one checked run):

"Faster by" = the peer's median over the exporter's, wall / CPU seconds.

| command | wall s | CPU s | peak RSS MiB | lines/s | default preset faster by | seed config faster by |
|---|---:|---:|---:|---:|---:|---:|
$ROWS
EOF
