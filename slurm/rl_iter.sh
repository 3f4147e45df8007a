#!/usr/bin/env bash
# One Slurm job of a k1rl run: run.iterations RL iterations (default 1) as a heterogeneous job of
# three components (rollout, reward, train) in one MPI world, resuming from <run>/ckpt/latest.
# Usage: sbatch [sbatch options] slurm/rl_iter.sh [--config FILE] [--section.key=value ...]
#
# Edit the #SBATCH lines below, or override them on the command line: plain options (--time,
# --partition, --account, --signal) apply to every component; sizes per component go between
# colons: `sbatch -n 4 : -n 1 : -n 2 slurm/rl_iter.sh`. Give --cpus-per-task per component for
# OpenMP threads (default 1 thread per rank unless OMP_NUM_THREADS is set). Submit from the k1rl
# folder (relative paths in the config are read from there) or set K1RL_ROOT and K1RL_BIN.
# Exit codes: 0 done; 75 stopped before the time limit with a checkpoint (requeued by itself when
# Slurm allows; otherwise resubmit); 2 bad config or input; 64 bad use; 1 a rank failed (the run
# keeps its last checkpoint; resubmit to resume). docs/running.md has the whole story.
#SBATCH --job-name=k1rl-rl
#SBATCH --time=00:30:00
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --output=k1rl-rl-%j.out
#SBATCH --open-mode=append
##SBATCH --partition=gpu
##SBATCH --account=myproject
# component 0: rollout ranks
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=1
#SBATCH hetjob
# component 1: reward
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH hetjob
# component 2: train ranks
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
set -uo pipefail

me=rl_iter
t_begin=$(date +%s)
say() { echo "$me: $*"; }
die() { local rc=$1; shift; echo "$me: error: $*" >&2; exit "$rc"; }

root=${K1RL_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
bin=${K1RL_BIN:-$root/build/release/bin}
het=$root/slurm/lib/het-mpiexec.sh
[ -n "${SLURM_JOB_ID:-}" ] || die 64 "not inside a Slurm job; submit it: sbatch slurm/rl_iter.sh (or run without Slurm: tools/run.sh --no-slurm)"
[ "${SLURM_HET_SIZE:-1}" = 3 ] || die 64 "job $SLURM_JOB_ID has ${SLURM_HET_SIZE:-1} component(s), not 3 (rollout, reward, train); keep the two '#SBATCH hetjob' lines, or give three size groups: sbatch -n R : -n 1 : -n T slurm/rl_iter.sh"
[ -x "$het" ] || die 64 "$het not found; submit from the k1rl folder or set K1RL_ROOT"
for a in train rollout reward; do
  [ -x "$bin/k1rl-$a" ] || die 2 "$bin/k1rl-$a not found; build first (cmake --preset release && cmake --build --preset release) or set K1RL_BIN"
done

# The apps' arguments: the user's, with the default config when none is given.
args=("$@")
has_config=0
for a in "$@"; do case "$a" in --config|--config=*) has_config=1 ;; esac; done
if ((!has_config)) && [ -z "${K1RL_CONFIG:-}" ]; then
  default=$root/inputs/configs/tiny.ini
  [ -f "$default" ] || default=$root/tests/integration/loop/tiny-test.ini
  args=(--config "$default" "${args[@]}")
fi
resolved=$("$bin/k1rl-train" "${args[@]}" --print-config) \
  || die 2 "the config does not load (the line above says why); fix --config or the overrides"
get() { awk -v s="[$1]" -v k="$2" '$0 == s {f = 1; next} /^\[/ {f = 0} f && $1 == k {sub(/^[^=]*= */, ""); print; exit}' <<<"$resolved"; }
run_dir=$(get run dir) K=$(get run iterations) staleness=$(get run staleness)
mkdir -p "$run_dir" || die 2 "cannot create the run directory $run_dir"
run_dir=$(cd "$run_dir" && pwd)
latest_it() { local n; n=$(cat "$run_dir/ckpt/latest" 2>/dev/null) || { echo -1; return; }; n=${n#it_}; echo $((10#${n%.h5})); }

# A requeued attempt runs what is left of this job's iterations.
attempt=${SLURM_RESTART_COUNT:-0}
target_file=$run_dir/jobs/$SLURM_JOB_ID.target
start=$(latest_it)
if ((attempt == 0)) || [ ! -f "$target_file" ]; then
  mkdir -p "$run_dir/jobs"
  echo $(( (start < 0 ? 0 : start) + K )) >"$target_file"
else
  left=$(( $(cat "$target_file") - (start < 0 ? 0 : start) ))
  if ((left <= 0)); then say "attempt $attempt: the job's iterations are already done (ckpt/latest it_$start)"; exit 0; fi
  if ((left != K)); then K=$left; args+=(--run.iterations="$K"); fi
fi

# Threads per rank: OMP_NUM_THREADS when set, else the component's --cpus-per-task, else 1.
omp() { local v=SLURM_CPUS_PER_TASK_HET_GROUP_$1; echo "${OMP_NUM_THREADS:-${!v:-1}}"; }
nodes() { local v=SLURM_JOB_NODELIST_HET_GROUP_$1; echo "${!v}"; }
ntasks() { local v=SLURM_NTASKS_HET_GROUP_$1; echo "${!v:-?}"; }

# Slurm sends USR1 to this shell (--signal=B:USR1@SECONDS) before the time limit: train sees the
# stop file between iterations, finishes the iteration in flight and exits 75.
export K1RL_STOP_FILE=$run_dir/jobs/$SLURM_JOB_ID.stop
mpilog=$run_dir/jobs/$SLURM_JOB_ID.mpiexec.log  # mpiexec's output, also, to name a failed rank
rm -f "$K1RL_STOP_FILE"
trap 'say "$(date +%T) stop requested (USR1, the time limit is near): the run stops after the iteration in flight"; : >"$K1RL_STOP_FILE"' USR1
trap 'rm -f "$K1RL_STOP_FILE" "$mpilog"' EXIT

say "job $SLURM_JOB_ID$( ((attempt > 0)) && echo " (attempt $((attempt + 1)))"): rollout $(ntasks 0) rank(s) on $(nodes 0), reward $(ntasks 1) on $(nodes 1), train $(ntasks 2) on $(nodes 2); OpenMP threads $(omp 0)/$(omp 1)/$(omp 2)"
if ((start >= 0)); then
  say "run $run_dir: resuming from ckpt/it_$(printf %06d "$start").h5; $K iteration(s) this job; staleness $staleness"
else
  say "run $run_dir: a new run (SFT warm-up, then iteration 0); $K iteration(s) this job; staleness $staleness"
fi

"$het" -env OMP_NUM_THREADS "$(omp 0)" "$bin/k1rl-rollout" "${args[@]}" \
  : -env OMP_NUM_THREADS "$(omp 1)" "$bin/k1rl-reward" "${args[@]}" \
  : -env OMP_NUM_THREADS "$(omp 2)" "$bin/k1rl-train" "${args[@]}" > >(tee -a "$mpilog") 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done  # a trapped USR1 interrupts wait
wait "$pid"
rc=$?

end=$(latest_it)
done_its=$(( end - (start < 0 ? 0 : start) ))
secs=$(( $(date +%s) - t_begin ))
where="ckpt/latest is it_$(printf %06d "$end").h5 in $run_dir"
((end < 0)) && where="no checkpoint yet in $run_dir"
case $rc in
  0)
    say "done: $done_its iteration(s) in $secs s; $where"
    exit 0 ;;
  75)
    say "stopped early (time limit): $done_its of $K iteration(s) in $secs s; $where"
    if ((done_its > 0)) && [ "${K1RL_REQUEUE:-1}" = 1 ] && scontrol requeue "$SLURM_JOB_ID" 2>/dev/null; then
      say "requeued job $SLURM_JOB_ID: it continues from it_$(printf %06d "$end") when Slurm starts it again"
      sleep 60  # Slurm ends this attempt now; the exit code below is for when it cannot
    fi
    say "resubmit to continue: sbatch slurm/rl_iter.sh ${*:-}"
    exit 75 ;;
  2)
    die 2 "an app stopped on bad input or config (its error line is above); nothing was lost; $where" ;;
  *)
    sleep 1  # let tee write mpiexec's last lines
    # Hydra's report: "PID 123 RUNNING AT n3" and "EXIT CODE: 9" (a process killed by signal N shows N).
    host=$(sed -n 's/^= *PID [0-9]* RUNNING AT \([^ ]*\).*$/\1/p' "$mpilog" 2>/dev/null | head -n 1)
    rpid=$(sed -n 's/^= *PID \([0-9]*\) RUNNING AT.*$/\1/p' "$mpilog" 2>/dev/null | head -n 1)
    code=$(sed -n 's/^= *EXIT CODE: \([0-9]*\).*$/\1/p' "$mpilog" 2>/dev/null | head -n 1)
    app="a rank"
    for g in 0 1 2; do
      scontrol show hostnames "$(nodes $g)" 2>/dev/null | grep -qx "$host" && app="a $(echo rollout reward train | cut -d' ' -f$((g + 1))) rank"
    done
    if [ -n "$rpid" ]; then
      msg="$app died (pid $rpid on $host, exit code ${code:-?}; killed by signal N shows as N) and mpiexec ended the job (exit $rc)"
    else
      msg="the MPI job failed (mpiexec exit $rc)"
    fi
    grep -q 'k1rl-[a-z]*: error:' "$mpilog" 2>/dev/null && msg+="; the app's error line is above"
    echo "$me: error: $msg. Published files are intact: $where; the iteration in flight is lost and runs again. Resubmit to resume: sbatch slurm/rl_iter.sh ${*:-}" >&2
    exit 1 ;;
esac
