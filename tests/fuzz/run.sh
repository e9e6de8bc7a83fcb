#!/usr/bin/env bash
# Runs every libFuzzer target of a -DLLE_FUZZ=ON build for SECONDS each, one
# after another, on a copy of its seed corpus (tests/fuzz/corpus/<target>/;
# the repository's copy is never written), and fails on the first finding.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Work directory: BUILD_DIR/fuzz-run/<target>/ holds the corpus copy, the
# run's log (fuzz.log) and any reproducer (crash-*, timeout-*, oom-*, leak-*),
# whose path is printed. Reproduce with: BUILD_DIR/tests/fuzz/<target> FILE
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(line_parser_fuzz pipeline_fuzz body_framer_fuzz config_fuzz web_config_fuzz)
fi

# -max_len per target: a few log lines; a body of several records; the
# shipped preset (config/qwen.yaml, 23 kB) whole.
max_len() {
  case $1 in
    line_parser_fuzz) echo 4096 ;;
    pipeline_fuzz | body_framer_fuzz) echo 8192 ;;
    config_fuzz) echo 32768 ;;
    *) echo 4096 ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin not built (cmake -DLLE_FUZZ=ON ...; cmake --build ... --target lle_fuzz)" >&2
    exit 2
  fi
  work=$build/fuzz-run/$t
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp -r "$here/corpus/$t/." "$work/corpus/"
  seeds=$(ls "$work/corpus" | wc -l)
  echo "=== $t: ${seconds}s, $seeds seeds, -max_len=$(max_len "$t"), in $work"
  dict=()
  case $t in
    line_parser_fuzz | pipeline_fuzz | body_framer_fuzz) dict=(-dict="$here/json.dict") ;;
  esac
  status=0
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: libFuzzer's
  # default 2 GB, said out loud. stdin is /dev/null: nothing may wait on it.
  (cd "$work" && "$bin" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 \
     -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" "$work/corpus" \
     </dev/null >"$work/fuzz.log" 2>&1) || status=$?
  stats=$(grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" \
            "$work/fuzz.log" | sed 's/^stat:://; s/  */ /g' | tr '\n' ' ' || true)
  echo "    ${stats}corpus now $(ls "$work/corpus" | wc -l) files"
  if [ $status -ne 0 ]; then
    failed=1
    echo "!!! $t FAILED (exit $status); the last lines of $work/fuzz.log:" >&2
    tail -n 40 "$work/fuzz.log" >&2
    for f in "$work"/crash-* "$work"/timeout-* "$work"/oom-* "$work"/leak-* "$work"/slow-unit-*; do
      [ -e "$f" ] && echo "!!! reproducer: $f  (run: $bin $f)" >&2
    done
  fi
done
if [ $failed -ne 0 ]; then
  echo "run.sh: a fuzz target failed; reproducers under $build/fuzz-run/" >&2
  exit 1
fi
echo "run.sh: all ${#targets[@]} targets ran ${seconds}s each without a finding"
