#!/usr/bin/env bash
# e2e: the time-limit path of slurm/rl_iter.sh. Slurm's USR1 to the batch shell (here sent at once
# with scancel --batch --signal=USR1, as --signal=B:USR1@120 does 2 minutes before the limit) makes
# train stop after the iteration in flight with a checkpoint; the script requeues the job, which
# resumes and runs the rest of its iterations (one log, appended). Usage: rl-stop-test.sh BIN_DIR RUNS_CHECK
set -uo pipefail
runs_bin=$1 check=$2
source "$(dirname "${BASH_SOURCE[0]}")/runs-lib.sh"
e2e_slurm_up
work=$(mktemp -d "${TMPDIR:-/tmp}/k1rl-e2e-rl-stop-XXXXXX")
run=$work/run
K=24

jid=$(runs_submit "$work" -- --run.dir="$run" --run.iterations=$K) || { echo "e2e: FAIL: sbatch refused rl_iter.sh"; exit 1; }
log=$work/job-$jid.out
runs_wait_file "$run/ckpt/it_000002.h5" 60 || runs_bad "no ckpt/it_000002.h5 within 60 s"
scancel --batch --signal=USR1 "$jid" || runs_bad "scancel --signal=USR1 failed"
# The job requeues itself; Slurm holds a requeued job for 2 minutes (BeginTime): start it now.
for ((t = 0; t < 300; t++)); do
  info=$(scontrol show job "$jid" 2>/dev/null)  # every het component PENDING again, restarted once
  [ "$(grep -oE 'JobState=[A-Z]+' <<<"$info" | sort -u)" = JobState=PENDING ] && grep -q 'Restarts=1' <<<"$info" && break
  sleep 0.1
done
stopped=$(runs_latest "$run")
echo "e2e: after USR1: $(scontrol show job "$jid" | grep -oE 'JobState=[A-Z]+|Restarts=[0-9]+' | head -n 2 | tr '\n' ' ')ckpt/latest it $stopped"
scontrol update JobId="$jid" StartTime=now || runs_bad "scontrol update StartTime=now failed"
state=$(e2e_wait "$jid" 60)
echo "e2e: job $jid $state (exit $(runs_exit "$jid")); ckpt/latest it $(runs_latest "$run")"
[ "$state" = COMPLETED ] || runs_bad "job state $state"
((stopped >= 2 && stopped < K)) || runs_bad "ckpt/latest it $stopped when the job stopped"
grep -E 'stop requested \(USR1' "$log" || runs_bad "the log lacks the USR1 line"
grep -E 'stopped early on stop file' "$log" || runs_bad "train did not stop early"
grep -E '^rl_iter: (stopped early|requeued)' "$log" || runs_bad "rl_iter did not report the early stop and the requeue"
grep -E "\(attempt 2\)" "$log" || runs_bad "no second attempt in the log"
grep -E "resuming from ckpt/it_$(printf %06d "$stopped").h5; $((K - stopped)) iteration" "$log" || runs_bad "the second attempt does not run the $((K - stopped)) iterations left"
[ "$(runs_latest "$run")" = $K ] || runs_bad "ckpt/latest it $(runs_latest "$run"), expected $K"
"$check" count "$run" | tee "$work/count"
grep -q "count: OK" "$work/count" || runs_bad "buffer count"

if ((runs_fail)); then runs_log "$log" 60; exit 1; fi
rm -rf "$work"
echo "e2e: PASS"
