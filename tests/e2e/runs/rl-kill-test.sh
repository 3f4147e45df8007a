#!/usr/bin/env bash
# e2e: kill -9 of one rollout rank in the middle of an iteration of `sbatch slurm/rl_iter.sh`:
# the job fails with a clear message (exit 1, the lost rank named by mpiexec, the checkpoint to
# resume from); the next submission resumes from the last published checkpoint and finishes; the
# buffer then holds every (group, sample) ready in exactly one shard and loses nothing pending
# (runs-check count). Usage: rl-kill-test.sh BIN_DIR RUNS_CHECK
set -uo pipefail
runs_bin=$1 check=$2
source "$(dirname "${BASH_SOURCE[0]}")/runs-lib.sh"
e2e_slurm_up
work=$(mktemp -d "${TMPDIR:-/tmp}/k1rl-e2e-rl-kill-XXXXXX")
run=$work/run

# 40 iterations: far more than the few seconds before the kill.
jid=$(runs_submit "$work" -- --run.dir="$run" --run.iterations=40) || { echo "e2e: FAIL: sbatch refused rl_iter.sh"; exit 1; }
runs_wait_file "$run/ckpt/it_000002.h5" 60 || runs_bad "no ckpt/it_000002.h5 within 60 s"
victim=$(pgrep -f "^[^ ]*/k1rl-rollout .*--run.dir=$run" | tail -n 1)
at=$(runs_latest "$run")
[ -n "$victim" ] && kill -9 "$victim"
echo "e2e: kill -9 of k1rl-rollout pid ${victim:-none} while ckpt/latest was it $at"
state=$(e2e_wait "$jid" 60)
log1=$work/job-$jid.out
stopped=$(runs_latest "$run")
echo "e2e: job $jid $state (exit $(runs_exit "$jid")); ckpt/latest it $stopped"
[ "$state" = FAILED ] || runs_bad "job state $state, expected FAILED"
[ "$(runs_exit "$jid")" = 1 ] || runs_bad "exit code $(runs_exit "$jid"), expected 1"
((stopped >= 2 && stopped < 40)) || runs_bad "ckpt/latest it $stopped after the kill"
grep -E "^rl_iter: error: a rollout rank died \\(pid $victim on n1, exit code 9" "$log1" || runs_bad "no clear failure line from rl_iter"
grep -qE "Published files are intact: ckpt/latest is it_$(printf %06d "$stopped").h5" "$log1" || runs_bad "the failure line does not name the checkpoint"
grep -m 2 -E 'KILLED BY SIGNAL|BAD TERMINATION' "$log1"

# The next submission resumes from that checkpoint.
jid2=$(runs_submit "$work" -- --run.dir="$run" --run.iterations=2) || { echo "e2e: FAIL: sbatch refused rl_iter.sh"; exit 1; }
state2=$(e2e_wait "$jid2" 60)
log2=$work/job-$jid2.out
echo "e2e: job $jid2 $state2 (exit $(runs_exit "$jid2")); ckpt/latest it $(runs_latest "$run")"
[ "$state2" = COMPLETED ] || runs_bad "resumed job state $state2"
grep -E "resuming from ckpt/it_$(printf %06d "$stopped").h5" "$log2" || runs_bad "the second job did not resume from it $stopped"
grep -E 'removed [0-9]+ buffer shard' "$log2"
[ "$(runs_latest "$run")" = $((stopped + 2)) ] || runs_bad "ckpt/latest it $(runs_latest "$run"), expected $((stopped + 2))"
"$check" count "$run" | tee "$work/count"
grep -q "count: OK" "$work/count" || runs_bad "buffer count"

if ((runs_fail)); then runs_log "$log1"; runs_log "$log2"; exit 1; fi
rm -rf "$work"
echo "e2e: PASS"
