#!/usr/bin/env bash
# e2e: slurm/rl_loop.sh chains jobs with --dependency=afterok: 2 jobs of 1 iteration each run one
# after the other (the second resumes from the first's checkpoint); a chain whose first job fails
# (a task file that does not exist: exit 2) cancels the second. Usage: rl-loop-test.sh BIN_DIR
set -uo pipefail
runs_bin=$1
source "$(dirname "${BASH_SOURCE[0]}")/runs-lib.sh"
e2e_slurm_up
work=$(mktemp -d "${TMPDIR:-/tmp}/k1rl-e2e-rl-loop-XXXXXX")
run=$work/run
sb=(--chdir="$e2e_root" --output="$work/job-%j.out" --export="ALL,K1RL_ROOT=$e2e_root,K1RL_BIN=$runs_bin,OMP_NUM_THREADS=1")

ids=$("$e2e_root/slurm/rl_loop.sh" 2 "${sb[@]}" -- --config "$runs_cfg" --run.dir="$run" --run.iterations=1) \
  || { echo "e2e: FAIL: rl_loop.sh failed"; exit 1; }
read -r j1 j2 <<<"$ids"
echo "e2e: chain $j1 -> $j2"
grep -q "afterok:$j1" < <(scontrol show job "$j2") || runs_bad "job $j2 does not depend on $j1 (afterok)"
s1=$(e2e_wait "$j1" 60); s2=$(e2e_wait "$j2" 60)
echo "e2e: $j1 $s1, $j2 $s2; ckpt/latest it $(runs_latest "$run")"
[ "$s1 $s2" = "COMPLETED COMPLETED" ] || runs_bad "states $s1 $s2"
[ "$(runs_latest "$run")" = 2 ] || runs_bad "ckpt/latest it $(runs_latest "$run"), expected 2"
grep -E 'resuming from ckpt/it_000001.h5' "$work/job-$j2.out" || runs_bad "the second job did not resume from it 1"

ids=$("$e2e_root/slurm/rl_loop.sh" 2 "${sb[@]}" -- --config "$runs_cfg" --run.dir="$work/bad" \
        --tasks.train_file="$work/no-such-tasks.jsonl") || { echo "e2e: FAIL: rl_loop.sh failed"; exit 1; }
read -r b1 b2 <<<"$ids"
s1=$(e2e_wait "$b1" 60); s2=$(e2e_wait "$b2" 60)
echo "e2e: failing chain: $b1 $s1 (exit $(runs_exit "$b1")), $b2 $s2"
[ "$s1" = FAILED ] && [ "$(runs_exit "$b1")" = 2 ] || runs_bad "the first job should fail with exit 2"
[ "$s2" = CANCELLED ] || runs_bad "the second job should be cancelled, is $s2"
grep -E 'k1rl-[a-z]+: error: .*no-such-tasks' "$work/job-$b1.out" | head -n 1 || runs_bad "no error line naming the task file"

if ((runs_fail)); then for f in "$work"/job-*.out; do echo "== $f"; runs_log "$f" 20; done; exit 1; fi
rm -rf "$work"
echo "e2e: PASS"
