# Shared by the run tests on the local Slurm (sourced): slurm-e2e.sh plus submitting
# slurm/rl_iter.sh on the tiny test config with this build's binaries, one OpenMP thread per rank.
# Needs $runs_bin (the folder of k1rl-train, k1rl-rollout, k1rl-reward) set before sourcing.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/slurm-e2e.sh"
runs_cfg=$e2e_root/tests/integration/loop/tiny-test.ini

# runs_submit WORK [sbatch options] -- [app arguments]: submits rl_iter.sh, prints the job id.
runs_submit() {
  local work=$1 sb=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sb+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  sbatch --parsable --chdir="$e2e_root" --output="$work/job-%j.out" \
    --export="ALL,K1RL_ROOT=$e2e_root,K1RL_BIN=$runs_bin,OMP_NUM_THREADS=1" "${sb[@]}" \
    "$e2e_root/slurm/rl_iter.sh" --config "$runs_cfg" "$@"
}
# The batch script's exit code of a finished job ("0", "75", ...).
runs_exit() { scontrol show job "$1" 2>/dev/null | grep -oE ' ExitCode=[0-9]+' | head -n 1 | cut -d= -f2; }
# The iteration ckpt/latest names, or -1.
runs_latest() { local n; n=$(cat "$1/ckpt/latest" 2>/dev/null) || { echo -1; return; }; n=${n#it_}; echo $((10#${n%.h5})); }
# runs_wait_file PATH SECONDS: waits until PATH exists.
runs_wait_file() { local t=$(($2 * 20)); while ((t-- > 0)); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
runs_fail=0
runs_bad() { echo "e2e: FAIL: $*"; runs_fail=1; }
runs_log() { sed 's/^/  | /' "$1" 2>/dev/null | grep -v 'k1rl-reward' | tail -n "${2:-40}"; }
