#!/usr/bin/env bash
# run.staleness under MPMD mpiexec: 4 iterations with staleness 0 and with 1 leave the same
# shards and checkpoints, and the stored behaviour log-probs of each shard's new tokens match
# θ_N (staleness 0) or θ_{N-1} (staleness 1) recomputed from the checkpoints (runs-check behaviour).
# Usage: staleness-test.sh MPIEXEC BIN_DIR RUNS_CHECK WORK_DIR
set -uo pipefail
mpiexec=$1 bin=$2 check=$3 work=$4
src=$(cd "$(dirname "$0")/../../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
fail=0
bad() { echo "staleness-test: FAIL: $*"; fail=1; }

for s in 0 1; do
  run=$work/s$s/run
  # fp32: runs-check tells θ_N from θ_{N-1} by log-probs that one 1e-3 step moves less than bf16
  # products' rounding does (engine.precision = auto would pick bf16 on a bf16 CPU).
  a=(--config tests/integration/loop/tiny-test.ini --run.dir="$run" --run.iterations=4 --run.staleness=$s
     --train.rl_lr=1e-3 --reward.length_penalty_warmup=0 --engine.precision=fp32)
  OMP_NUM_THREADS=1 timeout 120 "$mpiexec" -n 1 "$bin/k1rl-rollout" "${a[@]}" : -n 1 "$bin/k1rl-reward" "${a[@]}" \
    : -n 1 "$bin/k1rl-train" "${a[@]}" >"$work/s$s.log" 2>&1 || { cat "$work/s$s.log"; bad "staleness $s: the job failed"; continue; }
  shards=$(cd "$run/buffer" && ls it_*.h5 | tr '\n' ' ')
  ckpts=$(cd "$run/ckpt" && ls it_*.h5 | tr '\n' ' ')
  echo "staleness $s: shards $shards| checkpoints $ckpts| latest $(cat "$run/ckpt/latest")"
  [ "$shards" = "it_000000.r0000.h5 it_000001.r0000.h5 it_000002.r0000.h5 it_000003.r0000.h5 " ] || bad "staleness $s: shards $shards"
  [ "$ckpts" = "it_000000.h5 it_000001.h5 it_000002.h5 it_000003.h5 it_000004.h5 " ] || bad "staleness $s: checkpoints $ckpts"
  "$check" count "$run" | tail -n 1 | sed "s/^/staleness $s: /" | tee "$work/count$s"
  grep -q OK "$work/count$s" || bad "staleness $s: count"
  "$check" behaviour "$run" >"$work/b$s" || { cat "$work/b$s"; bad "staleness $s: behaviour check"; }
  sed "s/^/staleness $s: /" "$work/b$s"
done
# Iteration 1 may fit both θ_0 and θ_1 (iteration 0 parks every answer: nothing to train).
grep -qE '^behaviour: 0:0 1:[?1] 2:2 3:3$' "$work/b0" || bad "staleness 0: shard N should come from θ_N"
grep -qE '^behaviour: 0:0 1:[?0] 2:1 3:2$' "$work/b1" || bad "staleness 1: shard N+1 should come from θ_N"
grep -q "generated with θ_1" "$work/s1.log" || bad "staleness 1: no summary line says 'generated with θ_1'"
((fail)) && exit 1
echo "staleness-test: PASS"
