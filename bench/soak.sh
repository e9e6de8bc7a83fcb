#!/usr/bin/env bash
# Soak run of the real daemon: stdin + 4 concurrent HTTP posters (some gzip)
# + a scrape every 100 ms + a reload every second, then exact accounting.
#
# usage: bench/soak.sh [BUILD_DIR=build] [N=1000000]
#
# N lines of lle_sample_log (seed 42) go to the daemon's stdin and N/4 more
# (seed 7) over HTTP ingest (--ingest.enable), in bodies of BODY_LINES=2000
# lines: text/plain, JSON records (gzip), ndjson records, text/plain gzip.
# The daemon runs with --config.file config/qwen.yaml (the preset, so that
# POST /-/reload, with --web.enable-lifecycle, has a file to reload).
# bench/soak.py then checks that every line is counted once by source, that
# the final scrape's qwen_* series equal `--once` on the same lines (stdin's
# then HTTP's), that every scrape, reload and body succeeded, and prints
# VmRSS over time and its peak. Exit status 0 when all hold.
# Inputs are generated in WORK=${TMPDIR:-/tmp}/lle_soak (about 250 bytes a
# line; kept for a rerun with the same N) and removed with KEEP=0.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
[[ -d $BUILD ]] || BUILD=$REPO/$BUILD
N=${2:-1000000}
[[ $N =~ ^[0-9]+$ && $N -gt 0 ]] || { echo "soak.sh: N must be a positive number" >&2; exit 2; }
EXE=$(cd "$BUILD" && pwd)/llm_log_exporter
GEN=$(cd "$BUILD" && pwd)/lle_sample_log
for f in "$EXE" "$GEN"; do
  [[ -x $f ]] || { echo "soak.sh: $f is not built (cmake --build $BUILD)" >&2; exit 2; }
done
WORK=${WORK:-${TMPDIR:-/tmp}/lle_soak}
mkdir -p "$WORK"
M=$((N / 4))
if [[ ! -s $WORK/stdin_$N.log ]]; then
  "$GEN" "$N" 42 > "$WORK/stdin_$N.log.tmp" && mv "$WORK/stdin_$N.log.tmp" "$WORK/stdin_$N.log"
fi
if [[ ! -s $WORK/http_$M.log ]]; then
  "$GEN" "$M" 7 > "$WORK/http_$M.log.tmp" && mv "$WORK/http_$M.log.tmp" "$WORK/http_$M.log"
fi
echo "soak: $N lines on stdin, $M over HTTP; $EXE"
status=0
/usr/bin/python3 "$REPO/bench/soak.py" --exe "$EXE" --config "$REPO/config/qwen.yaml" \
  --stdin-log "$WORK/stdin_$N.log" --http-log "$WORK/http_$M.log" --stdin-lines "$N" \
  --body-lines "${BODY_LINES:-2000}" --workdir "$WORK" || status=$?
echo "daemon log: $WORK/daemon.log"
if [[ ${KEEP:-1} == 0 ]]; then rm -f "$WORK/stdin_$N.log" "$WORK/http_$M.log"; fi
exit $status
