#!/usr/bin/env bash
# One point of a scaling sweep (slurm/scaling/sweep.sh submits it as a het job of three
# components): writes <run.dir>/placement.txt (the hosts the rollout and train ranks run on, each
# host's cores, whether the point is oversubscribed, the load), then becomes slurm/rl_iter.sh with
# the same arguments. Oversubscribed: a host runs more rollout + train ranks x threads than it has
# cores (the reward rank polls with 0.5 ms sleeps and is not counted). Nodes of one host (the local
# cluster of tools/slurm-local.sh: every NodeAddr is 127.0.0.1) share that host's cores.
#SBATCH --job-name=k1rl-scale
#SBATCH --time=00:30:00
#SBATCH --signal=B:USR1@120
#SBATCH --open-mode=append
set -uo pipefail
root=${K1RL_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
run_dir=""
for a in "$@"; do case "$a" in --run.dir=*) run_dir=${a#--run.dir=} ;; esac; done
[ -n "$run_dir" ] || { echo "point: error: no --run.dir=DIR among the arguments; submit points with slurm/scaling/sweep.sh" >&2; exit 64; }

# "2(x3),1" -> 2 2 2 1
expand() { tr ',' '\n' <<<"$1" | sed -E 's/^([0-9]+)\(x([0-9]+)\)$/\1 \2/; t; s/$/ 1/' |
           while read -r c k; do for ((i = 0; i < k; i++)); do echo "$c"; done; done; }
local_addrs=" 127.0.0.1 ::1 localhost $(hostname) $(hostname -s) $(hostname -I 2>/dev/null) "
declare -A load cores
for g in 0 2; do  # rollout, train
  v=SLURM_JOB_NODELIST_HET_GROUP_$g t=SLURM_TASKS_PER_NODE_HET_GROUP_$g c=SLURM_CPUS_PER_TASK_HET_GROUP_$g
  th=${OMP_NUM_THREADS:-${!c:-1}}
  per=($(expand "${!t:-1}"))
  i=0
  for node in $(scontrol show hostnames "${!v:-$(hostname -s)}" 2>/dev/null); do
    info=$(scontrol show node -o "$node" 2>/dev/null)
    addr=$(grep -oE 'NodeAddr=[^ ]+' <<<"$info" | cut -d= -f2)
    if [[ "$local_addrs" == *" ${addr:-localhost} "* ]]; then
      host=local; cores[$host]=$(nproc --all)
    else
      host=$addr; cores[$host]=$(grep -oE 'CPUTot=[0-9]+' <<<"$info" | cut -d= -f2)
    fi
    load[$host]=$(( ${load[$host]:-0} + ${per[$i]:-1} * th ))
    i=$((i + 1))
  done
done
busy_host="" over=0
for h in "${!load[@]}"; do
  if [ -z "$busy_host" ] || ((load[$h] * cores[$busy_host] > load[$busy_host] * cores[$h])); then busy_host=$h; fi
done
((load[$busy_host] > cores[$busy_host])) && over=1
mkdir -p "$run_dir"
{
  echo "# written by slurm/scaling/point.sh in job ${SLURM_JOB_ID:-?}"
  echo "hosts=${#load[@]}"
  echo "busiest_host=$busy_host"
  echo "busiest_host_cores=${cores[$busy_host]}"
  echo "busiest_host_ranks_x_threads=${load[$busy_host]}"
  echo "oversubscribed=$over"
  echo "load1=$(cut -d' ' -f1 /proc/loadavg)"
} >"$run_dir/placement.txt.tmp" && mv "$run_dir/placement.txt.tmp" "$run_dir/placement.txt"
echo "point: ${load[$busy_host]} rollout + train rank-threads on $busy_host with ${cores[$busy_host]} cores$( ((over)) && echo ": OVERSUBSCRIBED (measures contention, not scaling)"); load $(cut -d' ' -f1 /proc/loadavg)"
exec "$root/slurm/rl_iter.sh" "$@"
