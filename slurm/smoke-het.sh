#!/usr/bin/env bash
# Smoke job for a heterogeneous Slurm allocation: 3 components (2, 1, 1 tasks) run ONE
# MPI_COMM_WORLD, first with MPMD mpiexec across components (roles from MPI_APPNUM), then with an
# srun --mpi=pmi2 het step (roles from K1RL_ROLE). Usage: sbatch slurm/smoke-het.sh BUILD/bin/test_comm_mpmd
#SBATCH --job-name=k1rl-smoke-het
#SBATCH --time=5
#SBATCH --output=k1rl-smoke-het-%j.out
#SBATCH --ntasks=2
#SBATCH hetjob
#SBATCH --ntasks=1
#SBATCH hetjob
#SBATCH --ntasks=1
set -uo pipefail

root=${K1RL_ROOT:-${SLURM_SUBMIT_DIR:-.}}
exe=${1:?usage: sbatch slurm/smoke-het.sh PATH/TO/test_comm_mpmd}
het=$root/slurm/lib/het-mpiexec.sh
[ -x "$het" ] || { echo "smoke-het: error: $het not found; submit from the k1rl folder or set K1RL_ROOT" >&2; exit 2; }
[ -x "$exe" ] || { echo "smoke-het: error: test binary '$exe' not found; build target test_comm_mpmd" >&2; exit 2; }
filter=--gtest_filter=-CommMissingApp.*
rc=0
echo "smoke-het: job $SLURM_JOB_ID, components: $SLURM_JOB_NODELIST_HET_GROUP_0 | $SLURM_JOB_NODELIST_HET_GROUP_1 | $SLURM_JOB_NODELIST_HET_GROUP_2"

# Where each rank runs: hydra passes mpiexec's environment to the ranks, so the node comes from
# the environment of the rank's parent (hydra's proxy, which srun started in its component).
echo "== placement (het-mpiexec)"
probe='n=$(tr "\0" "\n" < /proc/$PPID/environ | sed -n "s/^SLURMD_NODENAME=//p"); echo "$PMI_RANK $n"'
placed=$(timeout 60 "$het" bash -c "$probe" : bash -c "$probe" : bash -c "$probe" | sort -n) || rc=1
want=$(for g in 0 1 2; do
         v=SLURM_JOB_NODELIST_HET_GROUP_$g t=SLURM_NTASKS_HET_GROUP_$g
         for ((i = 0; i < ${!t}; i++)); do scontrol show hostnames "${!v}" | head -n 1; done
       done | awk '{print NR - 1, $1}')
echo "$placed" | sed 's/^/placement: rank /'
if [ "$placed" = "$want" ]; then echo "placement: ok"; else echo "placement: wrong, expected: $want" | tr '\n' ' '; echo; rc=1; fi

echo "== comm test, MPMD mpiexec across components (MPI_APPNUM)"
timeout 120 "$het" "$exe" --expect=2,1,1 "$filter" : "$exe" "$filter" : "$exe" "$filter" || rc=1

echo "== comm test, srun --mpi=pmi2 het step (K1RL_ROLE)"
timeout 120 srun --mpi=pmi2 --export=ALL,K1RL_ROLE=rollout "$exe" --expect=2,1,1 "$filter" \
  : --export=ALL,K1RL_ROLE=reward "$exe" "$filter" \
  : --export=ALL,K1RL_ROLE=train "$exe" "$filter" || rc=1

echo "smoke-het: $( ((rc == 0)) && echo PASS || echo FAIL)"
exit $rc
