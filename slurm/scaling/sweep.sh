#!/usr/bin/env bash
# A scaling study: one slurm/rl_iter.sh job per (rollout ranks, train ranks) pair, one after the
# other (--dependency=afterany, so they never share nodes), each in its own run folder under DIR;
# then `slurm/scaling/collect.sh DIR` tabulates the throughput into DIR/scaling.h5.
# Usage: slurm/scaling/sweep.sh [--rollout 1,2,4] [--train 1] [--iterations 4] [--dir scaling]
#                               [sbatch options ...] [-- app arguments: --config FILE ...]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rollout=1,2,4 train=1 iterations=4 dir=scaling sb=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case "$1" in
    --rollout) rollout=$2; shift ;;
    --train) train=$2; shift ;;
    --iterations) iterations=$2; shift ;;
    --dir) dir=$2; shift ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) sb+=("$1") ;;
  esac
  shift
done
[ "${1:-}" = -- ] && shift
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
prev= ids=()
for t in ${train//,/ }; do
  for r in ${rollout//,/ }; do
    dep=()
    [ -n "$prev" ] && dep=(--dependency="afterany:$prev")
    prev=$(sbatch --parsable "${dep[@]}" --job-name="k1rl-scale-r${r}t${t}" --output="$dir/r${r}t${t}.out" \
             "${sb[@]}" -n "$r" : -n 1 : -n "$t" "$here/rl_iter.sh" "$@" --run.dir="$dir/r${r}t${t}" \
             --run.iterations="$iterations")
    prev=${prev%%;*}
    ids+=("$prev")
    echo "sweep: rollout $r, train $t: job $prev -> $dir/r${r}t${t}" >&2
  done
done
echo "sweep: when they are done: slurm/scaling/collect.sh $dir" >&2
echo "${ids[*]}"
