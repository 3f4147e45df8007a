# Shared by the e2e tests (sourced): bring the local Slurm up when it is not running, take it down
# at exit only if this test brought it up, skip (exit 77) where Slurm cannot start, and wait for a
# job with a bound. Tests using it set the ctest property RESOURCE_LOCK k1rl_slurm_local.
# Set K1RL_E2E_REQUIRE_SLURM=1 to fail instead of skipping when Slurm cannot start.

e2e_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
e2e_local=$e2e_root/tools/slurm-local.sh
e2e_started=0

e2e_skip() {
  echo "e2e: SKIP: $*"
  [ "${K1RL_E2E_REQUIRE_SLURM:-0}" = 1 ] && { echo "e2e: K1RL_E2E_REQUIRE_SLURM=1, so this is a failure"; exit 1; }
  exit 77
}

e2e_down() { ((e2e_started)) && "$e2e_local" down; e2e_started=0; }

# Uses the running local cluster, or starts one (and stops it when the test exits).
e2e_slurm_up() {
  local out
  if ! "$e2e_local" status >/dev/null 2>&1; then
    out=$("$e2e_local" up 2>&1) || { "$e2e_local" down >/dev/null 2>&1; e2e_skip "local Slurm did not start: $out"; }
    e2e_started=1
    trap e2e_down EXIT
  fi
  eval "$("$e2e_local" env)"
}

# e2e_wait JOBID SECONDS: waits until the job has left the queue; prints its final state
# ("COMPLETED", "FAILED", ...); cancels it and returns 1 after the bound.
e2e_wait() {
  local jid=$1 t=$(($2 * 5)) state
  while ((t-- > 0)); do
    state=$(scontrol show job "$jid" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | head -n 1 | cut -d= -f2)
    case "$state" in
      PENDING|CONFIGURING|RUNNING|COMPLETING|"") sleep 0.2 ;;
      *) echo "$state"; return 0 ;;
    esac
  done
  scancel "$jid" 2>/dev/null
  echo "TIMEOUT"
  return 1
}
