#!/usr/bin/env bash
# MPMD mpiexec across the components of a Slurm heterogeneous job: one MPI_COMM_WORLD, app i on
# het component i, MPI_APPNUM = i.  Inside the job script:
#   slurm/lib/het-mpiexec.sh [-n R] k1rl-rollout ... : [-n 1] k1rl-reward ... : [-n T] k1rl-train ...
# -n must come first in its segment; a missing -n takes the component's task count. Outside a het job it is plain mpiexec.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mpiexec=${K1RL_MPIEXEC:-$(command -v mpiexec.mpich || command -v mpiexec || true)}
[ -n "$mpiexec" ] || { echo "het-mpiexec: error: no mpiexec found; install mpich or set K1RL_MPIEXEC" >&2; exit 2; }
het=${SLURM_HET_SIZE:-1}
((het > 1)) || exec "$mpiexec" "$@"

# Split the command line into segments at ':' and find each segment's -n.
segs=() cur=() nseg=0
declare -A ntask
flush() { segs+=("$(printf '%q ' "${cur[@]}")"); cur=(); nseg=$((nseg + 1)); }
while [ $# -gt 0 ]; do
  case "$1" in
    :) flush ;;
    -n|-np) if ((${#cur[@]} == 0)); then ntask[$nseg]=$2; shift; else cur+=("$1"); fi ;;
    *) cur+=("$1") ;;
  esac
  shift
done
flush
((nseg == het)) || { echo "het-mpiexec: error: $nseg app(s) on the command line but the job has $het het components; give one app per component, separated by ':'" >&2; exit 2; }

# hosts: node:slots for every node of every component, in component order; a component's slots
# are cut from its last nodes when its app asks for fewer ranks than the component has tasks.
hosts=() cmd=("$mpiexec" -launcher slurm -launcher-exec "$here/hydra-srun.sh")
for ((g = 0; g < het; g++)); do
  v=SLURM_JOB_NODELIST_HET_GROUP_$g; t=SLURM_TASKS_PER_NODE_HET_GROUP_$g
  [ -n "${!v:-}" ] && [ -n "${!t:-}" ] || { echo "het-mpiexec: error: component $g: no SLURM_JOB_NODELIST/TASKS_PER_NODE_HET_GROUP_$g; run this inside an sbatch het job" >&2; exit 2; }
  # "2(x3),1" -> 2 2 2 1
  per=($(tr ',' '\n' <<<"${!t}" | sed -E 's/^([0-9]+)\(x([0-9]+)\)$/\1 \2/; t; s/$/ 1/' |
         while read -r c k; do for ((i = 0; i < k; i++)); do echo "$c"; done; done))
  nodes=($(scontrol show hostnames "${!v}"))
  total=0; for c in "${per[@]}"; do total=$((total + c)); done
  want=${ntask[$g]:-$total}
  ((want >= 1 && want <= total)) || { echo "het-mpiexec: error: app $g asks for $want ranks but het component $g has $total tasks; change -n or the #SBATCH lines" >&2; exit 2; }
  left=$want
  for i in "${!nodes[@]}"; do
    c=${per[$i]}; ((c > left)) && c=$left
    ((c > 0)) && hosts+=("${nodes[$i]}:$c")
    left=$((left - c))
  done
  ((g == 0)) || cmd+=(:)
  eval "seg=(${segs[$g]})"
  cmd+=(-n "$want" "${seg[@]}")
done
cmd=("${cmd[@]:0:5}" -hosts "$(IFS=,; echo "${hosts[*]}")" "${cmd[@]:5}")
exec "${cmd[@]}"
