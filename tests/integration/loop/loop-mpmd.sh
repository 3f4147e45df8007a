#!/usr/bin/env bash
# The RL loop as an MPMD job: mpiexec -n 1 k1rl-rollout : -n 1 k1rl-reward : -n 1 k1rl-train,
# two iterations on the tiny test config, then checks what the run directory holds.
# Usage: loop-mpmd.sh MPIEXEC BIN_DIR CONFIG WORK_DIR
set -euo pipefail
mpiexec=$1 bin=$2 config=$3 work=$4
src=$(cd "$(dirname "$0")/../../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
common=(--config "$config" --run.dir="$work/run" --tasks.train_file="$src/inputs/tasks/add-easy.train.jsonl"
        --tasks.heldout_file="$src/inputs/tasks/add-easy.heldout.jsonl")
OMP_NUM_THREADS=1 timeout 300 "$mpiexec" -n 1 "$bin/k1rl-rollout" "${common[@]}" : \
  -n 1 "$bin/k1rl-reward" "${common[@]}" : -n 1 "$bin/k1rl-train" "${common[@]}" >"$work/log" 2>&1 \
  || { cat "$work/log"; echo "loop-mpmd: the job failed" >&2; exit 1; }
fail() { cat "$work/log"; echo "loop-mpmd: $*" >&2; exit 1; }
for f in ckpt/it_000000.h5 ckpt/it_000001.h5 ckpt/it_000002.h5 buffer/it_000000.r0000.h5 \
         buffer/it_000001.r0000.h5 metrics.h5 sampler.h5 config.ini; do
  [ -f "$work/run/$f" ] || fail "missing $f"
done
[ "$(cat "$work/run/ckpt/latest")" = "it_000002.h5" ] || fail "latest is not it_000002.h5"
grep -q "iteration 1 | answers" "$work/log" || fail "no summary line for iteration 1"
echo "loop-mpmd: 2 iterations, checkpoints, shards and metrics present"
