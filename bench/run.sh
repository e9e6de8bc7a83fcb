#!/usr/bin/env bash
# Whole-process figures for llm_log_exporter, printed as a Markdown table.
#
# usage: bench/run.sh [BUILD_DIR=build] [LOG]
#
#   BUILD_DIR  holds llm_log_exporter (relative to the current directory, else to
#              the repository root).
#   LOG        input; default /tmp/qwen_1m.log, generated if absent with
#              BUILD_DIR/lle_sample_log 1000000 42 (the repository's own
#              generator of request lines, events and text lines).
# env: RUNS=5 timed --once runs (after 1 warm-up), SCALE_RUNS=3 runs per size in
#      the scaling test, SKIP_10M=1 to skip the 10x file, COPIES=10 times LOG is
#      fed for the sustained-load scrape latency. (--once output is compared
#      with the original Python exporter's and mtail's by bench/peers.sh.)
#
# a. --once: median wall (bash $EPOCHREALTIME around the process; GNU time's %e
#    has only 10 ms resolution) and CPU (GNU time %U+%S), largest peak RSS (%M).
# b. daemon: `cat LOG` into its stdin while /metrics is scraped every 100 ms
#    (bench/scrape_latency.py ingest), once with the default input buffer (a
#    live pipe is never blocked: lines that find no room are dropped and
#    counted) and once with a buffer larger than LOG (nothing can be dropped),
#    each compared with --once output; then LOG fed COPIES times
#    for a p99 over many scrapes under load.
# c. freshness: 1 request line per ms for 3 s, scraped back to back
#    (bench/scrape_latency.py freshness): how long until a line is counted.
# d. scaling: --once on the first 10k, 100k, 1M lines and on LOG x 10: ns per
#    line, also net of the start-up cost (a run on empty input).
set -euo pipefail

usage() { sed -n 4p "$0" | sed 's/^# //' >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit 1; }
say() { echo "# $*" >&2; }

[[ $# -le 2 ]] || usage
[[ ${1:-} == -h || ${1:-} == --help ]] && usage
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
BUILD=${1:-build}
[[ -d $BUILD ]] || BUILD=$REPO/$BUILD
[[ -d $BUILD ]] || die "no build directory ${1:-build} (here or in $REPO)"
EXE=$(cd "$BUILD" && pwd)/llm_log_exporter
[[ -x $EXE ]] || die "no executable $EXE (build it: make -C BUILD_DIR llm_log_exporter)"
RUNS=${RUNS:-5}
SCALE_RUNS=${SCALE_RUNS:-3}
for t in "$PY" /usr/bin/time; do [[ -x $t ]] || die "$t is required"; done

if [[ $# -ge 2 ]]; then
  LOG=$2
  [[ -f $LOG ]] || die "LOG $LOG not found"
else
  LOG=/tmp/qwen_1m.log
  if [[ ! -f $LOG ]]; then
    GEN=$(cd "$BUILD" && pwd)/lle_sample_log
    [[ -x $GEN ]] || die "$LOG is absent and $GEN is not built to generate it; pass a LOG"
    say "generating $LOG (lle_sample_log 1000000 42)"
    "$GEN" 1000000 42 > "$LOG.tmp" && mv "$LOG.tmp" "$LOG"
  fi
fi

TMP=$(mktemp -d /tmp/lle_bench.XXXXXX)
cleanup() {
  local pids
  pids=$(jobs -pr)
  if [[ -n $pids ]]; then
    # shellcheck disable=SC2086  # one PID per word
    kill $pids 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
NL=$(wc -l < "$LOG")
BYTES=$(stat -c %s "$LOG")
say "input: $LOG, $NL lines, $BYTES bytes; exporter: $EXE"

# Median of numbers on stdin (the lower middle one for an even count).
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
calc() { awk "BEGIN {printf \"$1\", $2}"; }

# Runs `--once < FILE` once; prints "wall_s cpu_s peak_kib".
time_once() {
  local t0 t1 u s m
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "$EXE" --once < "$1" > /dev/null
  t1=$EPOCHREALTIME
  read -r _ u s m < "$TMP/time"
  echo "$(calc %.4f "$t1 - $t0") $(calc %.2f "$u + $s") $m"
}

# Times `--once < FILE` N times after a warm-up; sets W (median wall s),
# W_RANGE (min-max wall s), C (median CPU s), R (largest peak RSS, MiB).
measure_once() {
  local file=$1 n=$2 i
  : > "$TMP/runs"
  time_once "$file" > /dev/null
  for ((i = 0; i < n; i++)); do time_once "$file" >> "$TMP/runs"; done
  W=$(cut -d' ' -f1 "$TMP/runs" | median)
  W_RANGE=$(cut -d' ' -f1 "$TMP/runs" | sort -g | sed -n '1p;$p' | paste -sd-)
  C=$(cut -d' ' -f2 "$TMP/runs" | median)
  R=$(cut -d' ' -f3 "$TMP/runs" | sort -g | tail -1 | awk '{printf "%.1f", $1 / 1024}')
}

# Runs a command in the background and waits for it, so that a signal to this
# script runs the traps at once (cleanup then stops it, and it stops its daemon).
run_bg() { "$@" & wait $!; }

# Reads key=value lines into the associative array named $1.
# shellcheck disable=SC2034  # the array is written through the nameref
read_kv() {
  local -n map=$1
  local k v
  while IFS='=' read -r k v; do map["$k"]=$v; done
}

# --- a. --once throughput ----------------------------------------------------
say "a. --once: $RUNS runs + 1 warm-up"
"$EXE" --once < "$LOG" > "$TMP/once.prom"
measure_once "$LOG" "$RUNS"
A_WALL=$W A_RANGE=$W_RANGE A_CPU=$C A_RSS=$R
A_LPS=$(calc %.0f "$NL / $A_WALL")
A_MBS=$(calc %.0f "$BYTES / 1e6 / $A_WALL")

# --- b. daemon: ingest while scraped -----------------------------------------
ingest() {  # $1: name of the result array, $2: extra daemon flags
  local args=(ingest --exe "$EXE" --log "$LOG" --once-prom "$TMP/once.prom"
              "--daemon-args=$2")
  run_bg "$PY" "$REPO/bench/scrape_latency.py" "${args[@]}" > "$TMP/ingest.kv"
  read_kv "$1" < "$TMP/ingest.kv"
}
declare -A B1 B2
say "b. daemon, default input buffer"
ingest B1 ""
# A buffer larger than LOG: the reader never has to drop, so the final state
# must equal --once. Chunks are allocated as needed, not up front.
BIG=$(( BYTES + (64 << 20) )); (( BIG <= 1 << 30 )) || BIG=$((1 << 30))
say "b. daemon, --input.buffer-bytes=$BIG"
ingest B2 "--input.buffer-bytes=$BIG"
# A run long enough for a p99 of many scrapes: LOG fed COPIES times.
COPIES=${COPIES:-10}
say "b. daemon, LOG x $COPIES (scrape latency under sustained load)"
declare -A B3
run_bg "$PY" "$REPO/bench/scrape_latency.py" ingest --exe "$EXE" --log "$LOG" \
  --copies "$COPIES" > "$TMP/sustained.kv"
read_kv B3 < "$TMP/sustained.kv"

# --- c. freshness --------------------------------------------------------------
say "c. freshness: 1000 lines/s for 3 s"
declare -A F
run_bg "$PY" "$REPO/bench/scrape_latency.py" freshness --exe "$EXE" --rate 1000 --seconds 3 \
  > "$TMP/fresh.kv" || say "freshness: not every line was seen (see table)"
read_kv F < "$TMP/fresh.kv"

# --- d. scaling with work ------------------------------------------------------
say "d. scaling: $SCALE_RUNS runs per size"
measure_once /dev/null "$SCALE_RUNS"
START_WALL=$W
# The floor of any process start on this machine, for comparison.
: > "$TMP/true"
for ((i = 0; i < SCALE_RUNS; i++)); do
  t0=$EPOCHREALTIME
  /bin/true
  t1=$EPOCHREALTIME
  calc '%.4f\n' "$t1 - $t0" >> "$TMP/true"
done
TRUE_WALL=$(median < "$TMP/true")
SCALE_ROWS=""
scale_row() {  # $1 label, $2 file, $3 lines
  measure_once "$2" "$SCALE_RUNS"
  local ns net
  ns=$(calc %.0f "$W * 1e9 / $3")
  net=$(calc %.0f "($W - $START_WALL) * 1e9 / $3")
  SCALE_ROWS+="| $1 | $3 | $W ($W_RANGE) | $ns | $net | $C | $R |"$'\n'
}
for n in 10000 100000 1000000; do
  (( n <= NL )) || continue
  if (( n == NL )); then f=$LOG; else f=$TMP/head_$n.log; head -n "$n" "$LOG" > "$f"; fi
  scale_row "first $n" "$f" "$n"
  [[ $f == "$LOG" ]] || rm -f "$f"
done
# LOG x 10, only with room to spare on the disk of $TMP (the page cache holds it too).
AVAIL=$(( $(df --output=avail -k "$TMP" | tail -1) * 1024 ))
if [[ ${SKIP_10M:-0} == 1 ]]; then
  say "LOG x 10 skipped (SKIP_10M=1)"
elif (( AVAIL > 12 * BYTES + (1 << 30) )); then
  for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$LOG"; done > "$TMP/x10.log"
  scale_row "LOG x 10" "$TMP/x10.log" $((10 * NL))
  rm -f "$TMP/x10.log"
else
  say "LOG x 10 skipped: $AVAIL bytes free on $(dirname "$TMP")"
fi

# --- report ----------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
cat <<EOF

## llm_log_exporter whole-process benchmark

Machine: $(nproc) CPUs, $CPU_MODEL, $MEM RAM, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC');
load average before / after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg).
Exporter: \`$EXE\` ($("$EXE" --version 2>&1 | head -1)), git $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo '?').
Input: \`$LOG\`, $NL lines, $BYTES bytes (page cache).

### a. \`--once < LOG > /dev/null\` (median of $RUNS runs after a warm-up)

| wall s (min-max) | lines/s | MB/s | CPU s | peak RSS MiB |
|---:|---:|---:|---:|---:|
| $A_WALL ($A_RANGE) | $A_LPS | $A_MBS | $A_CPU | $A_RSS |

### b. Daemon: \`cat LOG |\` into stdin, /metrics scraped every 100 ms

lines/s = lines / (time from the start of \`cat\` until llm_log_exporter_lines_total
counts them all, dropped ones included); parsed = the same without the dropped.

| input buffer | seconds | lines/s | parsed lines/s | dropped | scrapes | scrape p50 / p99 / max ms | peak RSS MiB | final vs --once | exit on SIGTERM |
|---|---:|---:|---:|---:|---:|---:|---:|---|---|
| default | ${B1[seconds]} | ${B1[lines_per_s]} | ${B1[parsed_lines_per_s]} | ${B1[dropped]} | ${B1[scrapes]} | ${B1[scrape_p50_ms]} / ${B1[scrape_p99_ms]} / ${B1[scrape_max_ms]} | ${B1[peak_rss_mib]} | ${B1[vs_once]} (${B1[vs_once_diffs]} of ${B1[vs_once_samples]} samples differ) | ${B1[exit_code]} in ${B1[stop_seconds]} s |
| $BIG B | ${B2[seconds]} | ${B2[lines_per_s]} | ${B2[parsed_lines_per_s]} | ${B2[dropped]} | ${B2[scrapes]} | ${B2[scrape_p50_ms]} / ${B2[scrape_p99_ms]} / ${B2[scrape_max_ms]} | ${B2[peak_rss_mib]} | ${B2[vs_once]} (${B2[vs_once_diffs]} of ${B2[vs_once_samples]} samples differ) | ${B2[exit_code]} in ${B2[stop_seconds]} s |
| default, LOG x $COPIES | ${B3[seconds]} | ${B3[lines_per_s]} | ${B3[parsed_lines_per_s]} | ${B3[dropped]} | ${B3[scrapes]} | ${B3[scrape_p50_ms]} / ${B3[scrape_p99_ms]} / ${B3[scrape_max_ms]} | ${B3[peak_rss_mib]} | n/a | ${B3[exit_code]} in ${B3[stop_seconds]} s |

### c. Freshness: 1 request line per ms for 3 s, scraped back to back

Visibility latency of a line = end of the first scrape that counts it - time
it was written: an upper bound, above the truth by at most one scrape (p50
${F[scrape_p50_ms]:-?} ms). Backlog = lines written before a scrape began but not counted by it.

| lines written / seen | scrapes | visible p50 ms | p99 ms | max ms | backlog p50 / max |
|---:|---:|---:|---:|---:|---:|
| ${F[lines_written]:-?} / ${F[lines_seen]:-?} | ${F[scrapes]:-?} | ${F[visible_p50_ms]:-?} | ${F[visible_p99_ms]:-?} | ${F[visible_max_ms]:-?} | ${F[backlog_p50]:-?} / ${F[backlog_max]:-?} |

### d. Scaling: \`--once\` on growing inputs (median of $SCALE_RUNS runs)

Start-up (empty input): $START_WALL s (\`/bin/true\`: $TRUE_WALL s). "net" subtracts the start-up.

| input | lines | wall s (min-max) | ns/line | net ns/line | CPU s | peak RSS MiB |
|---|---:|---:|---:|---:|---:|---:|
$SCALE_ROWS
EOF
