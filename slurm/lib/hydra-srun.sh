#!/usr/bin/env bash
# Launcher for MPICH's mpiexec (hydra) inside a Slurm heterogeneous job: hydra calls
#   hydra-srun.sh --nodelist n1,n2,n3 -N 3 -n 3 --input none hydra_pmi_proxy ...
# and a plain srun would only reach het component 0. This turns it into one het step with one proxy
# per node, each in the component that owns the node. Used by het-mpiexec.sh (-launcher-exec).
set -euo pipefail

nodelist="" pre=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodelist) nodelist=$2; shift 2 ;;
    -N|-n) shift 2 ;;
    --input) pre+=(--input "$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "hydra-srun: error: no command to launch" >&2; exit 2; }
# One proxy per node; its ranks must not inherit a one-CPU binding (only where binding exists).
opts=(--ntasks-per-node=1 --mpi=none)
scontrol show config 2>/dev/null | grep -Eq '^TaskPlugin +=.*task/(affinity|cgroup)' && opts+=(--cpu-bind=none)
if [ "${SLURM_HET_SIZE:-1}" -le 1 ]; then
  exec srun "${pre[@]}" --nodelist "$nodelist" "${opts[@]}" \
    -N "$(tr ',' '\n' <<<"$nodelist" | wc -l)" -n "$(tr ',' '\n' <<<"$nodelist" | wc -l)" "$@"
fi

# Hydra numbers proxies in --nodelist order and each proxy takes its id from SLURM_PROCID, so the
# components below must keep that order: het-mpiexec.sh lists hosts group by group.
args=() seen=0
for ((g = 0; g < SLURM_HET_SIZE; g++)); do
  v=SLURM_JOB_NODELIST_HET_GROUP_$g
  mine=()
  for h in $(scontrol show hostnames "${!v}"); do
    [[ ",$nodelist," == *",$h,"* ]] && mine+=("$h")
  done
  ((${#mine[@]})) || continue
  ((seen == 0)) || args+=(:)
  seen=$((seen + ${#mine[@]}))
  args+=(--het-group="$g" -N "${#mine[@]}" -n "${#mine[@]}" "${opts[@]}"
         --nodelist "$(IFS=,; echo "${mine[*]}")" "$@")
done
want=$(tr ',' '\n' <<<"$nodelist" | wc -l)
((seen == want)) || { echo "hydra-srun: error: hosts '$nodelist' are not all in this job's het components" >&2; exit 2; }
exec srun "${pre[@]}" "${args[@]}"
