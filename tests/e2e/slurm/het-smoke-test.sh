#!/usr/bin/env bash
# e2e: a heterogeneous job (2 + 1 + 1 tasks on three slurmd) on the local Slurm runs lib/comm's
# MPMD test as one MPI_COMM_WORLD, with MPI_APPNUM roles (het-mpiexec) and K1RL_ROLE roles (srun
# --mpi=pmi2), each rank on its component's node. Usage: het-smoke-test.sh PATH/TO/test_comm_mpmd
set -uo pipefail
exe=${1:?usage: het-smoke-test.sh PATH/TO/test_comm_mpmd}
source "$(dirname "${BASH_SOURCE[0]}")/../lib/slurm-e2e.sh"
e2e_slurm_up

work=$(mktemp -d "${TMPDIR:-/tmp}/k1rl-e2e-het-XXXXXX")
t0=$(date +%s.%N)
jid=$(sbatch --parsable --chdir="$work" --output="$work/job-%j.out" \
        --export=ALL,K1RL_ROOT="$e2e_root" "$e2e_root/slurm/smoke-het.sh" "$exe") \
  || { echo "e2e: FAIL: sbatch refused the het job"; exit 1; }
state=$(e2e_wait "$jid" 120)
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
log=$work/job-$jid.out
echo "e2e: job $jid $state after $secs s; log $log"
fail=0
check() { grep -qE "$1" "$log" 2>/dev/null || { echo "e2e: FAIL: the job log lacks: $1"; fail=1; }; }
[ "$state" = COMPLETED ] || { echo "e2e: FAIL: job state $state"; fail=1; }
check '^placement: ok$'
[ "$(grep -c '^comm-mpmd-test: PASS on 4 ranks$' "$log" 2>/dev/null)" = 2 ] \
  || { echo "e2e: FAIL: expected 2 passing comm test runs"; fail=1; }
check 'roles from MPI_APPNUM'
check 'roles from K1RL_ROLE'
check '^smoke-het: PASS$'
if ((fail)); then
  sed 's/^/  | /' "$log" 2>/dev/null | tail -n 60
  exit 1
fi
grep -E '^(placement|comm-mpmd-test|smoke-het):' "$log"
rm -rf "$work"
echo "e2e: PASS"
