#!/usr/bin/env bash
# tools/plot.py on a real tiny run (k1rl-train --local, k1rl-eval): every PNG is written, and
# report.html holds each of them inline, the resolved config, the eval table and sample answers
# decoded by k1rl-inspect (check-report.py); a truncated metrics.h5 is one error line and exit 2.
# Skips (77) when Debian's h5py or matplotlib is missing. Usage: plot-test.sh BIN_DIR PYTHON WORK
set -uo pipefail
bin=$1 py=$2 work=$3
src=$(cd "$(dirname "$0")/../../.." && pwd)
"$py" -c 'import h5py, matplotlib' 2>/dev/null || { echo "plot-test: SKIP: $py lacks h5py or matplotlib"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
cd "$src"
args=(--config tests/integration/loop/tiny-test.ini --run.dir="$work/run")
OMP_NUM_THREADS=1 "$bin/k1rl-train" --local "${args[@]}" --run.iterations=3 >"$work/train.log" 2>&1 \
  || { tail -20 "$work/train.log"; echo "plot-test: FAIL: the tiny run failed"; exit 1; }
OMP_NUM_THREADS=1 "$bin/k1rl-eval" "${args[@]}" --eval.max_prompts=10 >"$work/eval.log" 2>&1 \
  || { tail -20 "$work/eval.log"; echo "plot-test: FAIL: k1rl-eval failed"; exit 1; }
"$py" tools/plot.py --help | grep -q -- '--out DIR' || { echo "plot-test: FAIL: --help lacks --out"; exit 1; }
out=$("$py" tools/plot.py "$work/run" --out "$work/report" --inspect "$bin/k1rl-inspect" --samples 2) \
  || { echo "plot-test: FAIL: plot.py exit $?"; exit 1; }
echo "$out"
"$py" tests/unit/inspect/check-report.py "$work/run" "$work/report" docs/metrics.md || exit 1
# Bad input: a truncated metrics.h5.
cp -r "$work/run" "$work/bad" && truncate -s 300 "$work/bad/metrics.h5"
"$py" tools/plot.py "$work/bad" --out "$work/bad-report" 2>"$work/bad.err"; rc=$?
cat "$work/bad.err"
[ "$rc" = 2 ] || { echo "plot-test: FAIL: exit $rc on a truncated metrics.h5, expected 2"; exit 1; }
[ "$(wc -l <"$work/bad.err")" = 1 ] && grep -q "^plot.py: error: .*$work/bad/metrics.h5" "$work/bad.err" \
  || { echo "plot-test: FAIL: not one error line naming the file"; exit 1; }
rm -rf "$work"
echo "plot-test: PASS"
