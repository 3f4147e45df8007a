#!/usr/bin/env bash
# e2e: `sbatch slurm/rl_iter.sh` runs 2 iterations of the tiny config end to end as a
# heterogeneous job (2 rollout + 1 reward + 1 train ranks on three slurmd); the test checks the
# checkpoints, buffer shards, metrics rows and log lines it leaves, then runs the same config under
# MPMD mpiexec without Slurm and checks that every metric (timings aside) is identical.
# Usage: rl-iter-test.sh MPIEXEC BIN_DIR RUNS_CHECK
set -uo pipefail
mpiexec=$1 runs_bin=$2 check=$3
source "$(dirname "${BASH_SOURCE[0]}")/runs-lib.sh"
e2e_slurm_up
work=$(mktemp -d "${TMPDIR:-/tmp}/k1rl-e2e-rl-iter-XXXXXX")

t0=$(date +%s.%N)
jid=$(runs_submit "$work" -- --run.dir="$work/slurm" --run.iterations=2 --reward.length_penalty_warmup=0) || { echo "e2e: FAIL: sbatch refused rl_iter.sh"; exit 1; }
state=$(e2e_wait "$jid" 90)
log=$work/job-$jid.out
echo "e2e: job $jid $state (exit $(runs_exit "$jid")) after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
[ "$state" = COMPLETED ] || runs_bad "job state $state"
for f in ckpt/it_000000.h5 ckpt/it_000001.h5 ckpt/it_000002.h5 buffer/it_000000.r0000.h5 buffer/it_000000.r0001.h5 \
         buffer/it_000001.r0000.h5 buffer/it_000001.r0001.h5 metrics.h5 sampler.h5 config.ini; do
  [ -f "$work/slurm/$f" ] || runs_bad "missing $f"
done
[ "$(cat "$work/slurm/ckpt/latest" 2>/dev/null)" = it_000002.h5 ] || runs_bad "ckpt/latest is not it_000002.h5"
rows="$("$check" rows "$work/slurm" iteration 2>&1) | $("$check" rows "$work/slurm" rollout 2>&1)"
echo "e2e: metrics rows (/iteration | /rollout): $rows"
[ "$rows" = "2 0,1 | 4 0,0,1,1" ] || runs_bad "metrics rows: $rows (want /iteration rows of iterations 0 and 1, /rollout rows of both ranks)"
for re in '^rl_iter: job [0-9]+: rollout 2 rank\(s\) on n1, reward 1 on n2, train 1 on n3' 'a new run' \
          'iteration 0 \| answers' 'iteration 1 \| answers' '^rl_iter: done: 2 iteration\(s\)'; do
  grep -qE "$re" "$log" || runs_bad "the job log lacks: $re"
done
"$check" count "$work/slurm" | tail -n 1 | tee "$work/count"
grep -q OK "$work/count" || runs_bad "buffer count"

# The same config without Slurm: one MPMD mpiexec with the same ranks and threads.
a=(--config "$runs_cfg" --run.dir="$work/mpiexec" --run.iterations=2 --reward.length_penalty_warmup=0)
(cd "$e2e_root" && OMP_NUM_THREADS=1 timeout 120 "$mpiexec" -n 2 "$runs_bin/k1rl-rollout" "${a[@]}" \
   : -n 1 "$runs_bin/k1rl-reward" "${a[@]}" : -n 1 "$runs_bin/k1rl-train" "${a[@]}") >"$work/mpiexec.log" 2>&1 \
  || { runs_log "$work/mpiexec.log"; runs_bad "the mpiexec run failed"; }
"$check" metrics "$work/slurm" "$work/mpiexec" | tee "$work/metrics"
grep -q "metrics: OK" "$work/metrics" || runs_bad "the Slurm and mpiexec runs differ"

if ((runs_fail)); then runs_log "$log" 60; exit 1; fi
grep -E '^rl_iter:|iteration [0-9] \|' "$log"
rm -rf "$work"
echo "e2e: PASS"
