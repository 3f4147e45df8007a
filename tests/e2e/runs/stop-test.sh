#!/usr/bin/env bash
# Stop requests under MPMD mpiexec (what slurm/rl_iter.sh does before the time limit): SIGUSR1 to
# k1rl-train (staleness 0) or the K1RL_STOP_FILE (staleness 1) in the middle of a 40-iteration job
# ends it with exit 75 and a published checkpoint; the next job resumes from it, and the buffer
# holds no duplicated and no lost trajectory; a second job on a run in use is refused.
# Usage: stop-test.sh MPIEXEC BIN_DIR RUNS_CHECK WORK_DIR
set -uo pipefail
mpiexec=$1 bin=$2 check=$3 work=$4
src=$(cd "$(dirname "$0")/../../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
cd "$src"
fail=0
bad() { echo "stop-test: FAIL: $*"; fail=1; }
latest() { local n; n=$(cat "$1/ckpt/latest"); n=${n#it_}; echo $((10#${n%.h5})); }
job() {  # job RUN LOG ITERATIONS STALENESS: one MPMD job in the background; sets $pid
  local a=(--config tests/integration/loop/tiny-test.ini --run.dir="$1" --run.iterations="$3" --run.staleness="$4")
  OMP_NUM_THREADS=1 timeout 120 "$mpiexec" -n 1 "$bin/k1rl-rollout" "${a[@]}" : -n 1 "$bin/k1rl-reward" "${a[@]}" \
    : -n 1 "$bin/k1rl-train" "${a[@]}" >"$2" 2>&1 &
  pid=$!
}

for s in 0 1; do
  run=$work/s$s/run
  export K1RL_STOP_FILE=$work/s$s.stop
  job "$run" "$work/s$s-a.log" 40 "$s"
  first=$pid
  for ((t = 0; t < 600; t++)); do [ -f "$run/ckpt/it_000002.h5" ] && break; sleep 0.05; done
  if ((s == 0)); then
    # A second job on the same run directory meanwhile is refused (the run's lock), harmlessly.
    job "$run" "$work/s0-second.log" 1 0
    wait "$pid"
    rc2=$?
    pid=$first
    grep -m 1 -o "error: run directory .* is in use.*" "$work/s0-second.log" | sed 's/^/staleness 0: second job: /'
    [ "$rc2" = 2 ] && grep -q "is in use" "$work/s0-second.log" ||
      { tail -n 8 "$work/s0-second.log"; bad "a second job on the same run: exit $rc2"; }
    train=$(pgrep -f "^[^ ]*/k1rl-train .*--run.dir=$run" | head -n 1)
    [ -n "$train" ] && kill -USR1 "$train"
    how="SIGUSR1 to k1rl-train (pid ${train:-none})"
  else
    : >"$K1RL_STOP_FILE"
    how="stop file"
  fi
  wait "$pid"
  rc=$?
  rm -f "$K1RL_STOP_FILE"
  stopped=$(latest "$run")
  echo "staleness $s: $how after it_000002.h5: exit $rc, latest it $stopped"
  grep -E "stopped early|abandoning" "$work/s$s-a.log" | sed "s/^/staleness $s: /"
  [ "$rc" = 75 ] || { tail -n 20 "$work/s$s-a.log"; bad "staleness $s: exit $rc, expected 75"; }
  ((stopped >= 2 && stopped < 40)) || bad "staleness $s: latest it $stopped after the stop"
  # The next job resumes from the stopped job's checkpoint.
  job "$run" "$work/s$s-b.log" 2 "$s"
  wait "$pid" || { tail -n 20 "$work/s$s-b.log"; bad "staleness $s: the resumed job failed"; }
  grep -q "resuming from $run/ckpt/it_$(printf %06d "$stopped").h5" "$work/s$s-b.log" || bad "staleness $s: no 'resuming from' line"
  grep -E "removed [0-9]+ buffer shard" "$work/s$s-b.log" | sed "s/^/staleness $s: /"
  [ "$(latest "$run")" = $((stopped + 2)) ] || bad "staleness $s: latest it $(latest "$run") after resuming, expected $((stopped + 2))"
  "$check" count "$run" | sed "s/^/staleness $s: /" | tee "$work/count$s"
  grep -q "count: OK" "$work/count$s" || bad "staleness $s: buffer count"
done
((fail)) && exit 1
echo "stop-test: PASS"
