#!/usr/bin/env bash
# Fault injection under MPMD mpiexec (docs/running.md "When a rank dies"): in the middle of a
# 40-iteration job on the tiny config,
#   stop-rollout  SIGSTOP of the rollout rank: train gives up after run.peer_timeout_s naming it
#   stop-train    SIGSTOP of train rank 0: the rollout rank gives up naming it
#   kill-reward   kill -9 of the reward rank
#   kill-train    kill -9 of train rank 1 of 2 (it dies in or between the gradient allreduces)
#   kill-publish  kill -9 of the rollout rank as soon as a shard's temporary file appears
#   full          ckpt/ on a tmpfs too small for the next checkpoint (root only; RLIMIT_FSIZE via
#                 ulimit -f is no substitute: MPI's shared-memory files hit it first)
# After each: the job ends (never hangs) non-zero with a line that says what happened (mpiexec's own
# exit code is that of the rank hydra reports first: 2 from the watchdog, or 9 for the ranks it
# killed), no temporary or half file is published, no temporary or half file is published, latest
# names an intact checkpoint, and a resumed job (2 iterations) runs on from it with every
# trajectory ready in exactly one shard (runs-check count).
# Usage: faults-test.sh MPIEXEC BIN_DIR RUNS_CHECK WORK_DIR
set -uo pipefail
mpiexec=$1 bin=$2 check=$3 work=$4
src=$(cd "$(dirname "$0")/../../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
fail=0
bad() { echo "faults-test: FAIL: $*"; fail=1; }
latest() { local n; n=$(cat "$1/ckpt/latest"); n=${n#it_}; echo $((10#${n%.h5})); }
args() { echo --config tests/integration/loop/tiny-test.ini --run.dir="$1" --run.iterations="$2" --run.peer_timeout_s=6; }
job() {  # job RUN LOG ITERATIONS TRAIN_RANKS [TRAIN_WRAPPER]: one MPMD job in the background; sets $pid
  local a
  read -r -a a <<<"$(args "$1" "$3")"
  OMP_NUM_THREADS=1 timeout 90 "$mpiexec" -n 1 "$bin/k1rl-rollout" "${a[@]}" : -n 1 "$bin/k1rl-reward" "${a[@]}" \
    : -n "$4" ${5:-} "$bin/k1rl-train" "${a[@]}" >"$2" 2>&1 &
  pid=$!
}
pid_of() { pgrep -f "^[^ ]*/k1rl-$1 .*--run.dir=$2 " | sed -n "${3:-1}p"; }
wait_for() { for ((t = 0; t < 1200; t++)); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }

# The resumed job and the checks every scenario ends with.
after() {  # after NAME RUN RC EXPECTED_RC_REGEX EXPECTED_LOG_REGEX
  local name=$1 run=$2 rc=$3
  [[ "$rc" =~ ^($4)$ ]] || { tail -n 12 "$work/$name-a.log"; bad "$name: exit $rc, expected $4"; }
  if [ -n "$5" ]; then
    grep -m 1 -oE "$5" "$work/$name-a.log" | sed "s/^/$name: /" || bad "$name: no '$5' in the log"
  fi
  ls "$run"/ckpt/*.tmp-* "$run"/buffer/*.tmp-* >/dev/null 2>&1 && echo "$name: temporaries left (removed on resume)"
  local before
  before=$(latest "$run")
  job "$run" "$work/$name-b.log" 2 1
  wait "$pid" || { tail -n 20 "$work/$name-b.log"; bad "$name: the resumed job failed"; }
  grep -q "resuming from $run/ckpt/it_$(printf %06d "$before").h5" "$work/$name-b.log" ||
    bad "$name: the resumed job did not resume from it_$before"
  [ "$(latest "$run")" = $((before + 2)) ] || bad "$name: latest $(latest "$run") after resuming, expected $((before + 2))"
  "$check" count "$run" | sed "s/^/$name: /" | tee "$work/$name.count" | tail -n 2
  grep -q "count: OK" "$work/$name.count" || bad "$name: buffer count"
  echo "$name: exit $rc; resumed from it_$before to it_$(latest "$run")"
}

scenario() {  # scenario NAME TRAIN_RANKS [TRAIN_WRAPPER]: starts the job and waits for it_000002
  run=$work/$1/run
  job "$run" "$work/$1-a.log" 40 "$2" "${3:-}"
  wait_for "$run/ckpt/it_000002.h5" || bad "$1: it_000002.h5 never appeared"
}

# SIGSTOP of the rollout rank: train's bounded wait for "done" ends the job (exit 2).
scenario stop-rollout 1
kill -STOP "$(pid_of rollout "$run")"
t0=$SECONDS
wait "$pid"
rc=$?
echo "stop-rollout: the job ended $((SECONDS - t0)) s after the SIGSTOP"
after stop-rollout "$run" "$rc" "2|9|137|255" "error: no word from the rollout ranks[^;]*"

# SIGSTOP of train rank 0: the rollout rank's bounded wait for the next header ends the job.
scenario stop-train 1
kill -STOP "$(pid_of train "$run")"
wait "$pid"
after stop-train "$run" $? "2|9|137|255" "error: no word from train rank 0[^;]*"

# kill -9 of the reward rank: mpiexec sees the lost process and ends the job.
scenario kill-reward 1
kill -9 "$(pid_of reward "$run")"
wait "$pid"
after kill-reward "$run" $? "9|137|255" "BAD TERMINATION|EXIT CODE: 9"

# kill -9 of train rank 1 of 2 while the ranks train (each step ends in an allreduce).
scenario kill-train 2
kill -9 "$(pid_of train "$run" 2)"
wait "$pid"
after kill-train "$run" $? "9|137|255" "BAD TERMINATION|EXIT CODE: 9"

# kill -9 of the rollout rank while it publishes a shard (its temporary file exists).
run=$work/kill-publish/run
job "$run" "$work/kill-publish-a.log" 40 1
wait_for "$run/ckpt/it_000001.h5"
caught=no
for ((t = 0; t < 20000; t++)); do
  if compgen -G "$run/buffer/*.tmp-*" >/dev/null; then kill -9 "$(pid_of rollout "$run")" && caught=yes; break; fi
done
[ $caught = yes ] || kill -9 "$(pid_of rollout "$run")"
echo "kill-publish: killed with a shard temporary present: $caught"
wait "$pid"
after kill-publish "$run" $? "9|137|255" "BAD TERMINATION|EXIT CODE: 9"

# The checkpoint folder on a small full filesystem (a tmpfs with room for less than one more
# checkpoint; needs root to mount, else skipped): the write fails with ENOSPC, the job stops with
# exit 2, no temporary stays behind and latest keeps naming the last checkpoint.
run=$work/full/run
job "$run" "$work/full-0.log" 2 1
wait "$pid" || bad "full: the first job failed"
ck=$run/ckpt
size=$(stat -c %s "$ck/it_000002.h5")
used=$(du -sb "$ck" | cut -f1)
mkdir -p "$work/full-save" && cp -a "$ck/." "$work/full-save/"
if mount -t tmpfs -o size=$(((used + size / 2) / 4096 * 4096 + 8192)) k1rl-full "$ck" 2>/dev/null; then
  trap 'umount "$ck" 2>/dev/null' EXIT
  cp -a "$work/full-save/." "$ck/"
  job "$run" "$work/full-a.log" 40 1
  wait "$pid"
  rc=$?
  [ "$(latest "$run")" = 2 ] || bad "full: latest moved to $(latest "$run") past a failed write"
  ls "$ck" | grep -q "tmp-" && bad "full: a temporary file left in the full ckpt folder"
  rm -rf "$work/full-save" && mkdir -p "$work/full-save" && cp -a "$ck/." "$work/full-save/"
  umount "$ck" && trap - EXIT
  cp -a "$work/full-save/." "$ck/"
  after full "$run" "$rc" 2 "k1rl-train: error: [^;]*"
else
  echo "full: skipped (cannot mount a tmpfs here: not root?)"
fi

((fail)) && exit 1
echo "faults-test: PASS"
