#!/usr/bin/env bash
# A scaling study (docs/scaling.md): one slurm/rl_iter.sh job per point (rollout ranks, train
# ranks, nodes, work scale, repeat), one after the other (--dependency=afterany, so they never
# share nodes), each a fresh run in DIR/<point>; then `slurm/scaling/collect.sh DIR` writes
# DIR/scaling.h5, a table and PNG plots.
# Usage: slurm/scaling/sweep.sh [--mode strong|weak] [--rollout 1,2,4] [--train 1] [--nodes 1]
#          [--per-node K] [--repeats 1] [--scale 1] [--iterations 4] [--threads 1] [--dir scaling]
#          [--repeat-from K] [--after JOBID] [--dry-run] [sbatch options ...] [-- app arguments: --config FILE --section.key=v ...]
#   --mode strong   every point does the config's work: rollout.prompts_per_iteration P and
#                   train.groups_per_step G, whatever the ranks (fixed total work)
#   --mode weak     work per rank fixed: P x rollout ranks prompts, G x train ranks groups per step
#   --nodes LIST    nodes per component (rollout and train each over n nodes, at most its ranks)
#   --per-node K    instead of --nodes: ceil(ranks / K) nodes per component
#   --scale LIST    work multipliers: s x P prompts (so s x the optimizer steps: G stays), to vary
#                   the work at the same ranks
#   --repeats N     runs per point (collect.sh takes the median and the range)
#   --repeat-from K number the repeats from K (interleave the repeats of several sweeps in one DIR)
#   --threads N     OpenMP threads per rollout and train rank (--cpus-per-task)
#   --after JOBID   the first point waits for this job (chain sweeps: the last id printed)
#   --dry-run       print the sbatch commands, submit nothing
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${K1RL_ROOT:-$(cd "$here/.." && pwd)}
bin=${K1RL_BIN:-$root/build/release/bin}
me=sweep
die() { echo "$me: error: $*" >&2; exit 2; }
mode=strong rollout=1,2,4 train=1 nodes=1 per_node="" repeats=1 scale=1 iterations=4 threads=1
dir=scaling dry=0 after="" rep0=0 sb=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
  case "$1" in
    --mode) mode=$2; shift ;;
    --rollout) rollout=$2; shift ;;
    --train) train=$2; shift ;;
    --nodes) nodes=$2; shift ;;
    --per-node) per_node=$2; shift ;;
    --repeats) repeats=$2; shift ;;
    --scale) scale=$2; shift ;;
    --iterations) iterations=$2; shift ;;
    --threads) threads=$2; shift ;;
    --dir) dir=$2; shift ;;
    --after) after=$2; shift ;;
    --repeat-from) rep0=$2; shift ;;
    --dry-run) dry=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) sb+=("$1") ;;
  esac
  shift
done
[ "${1:-}" = -- ] && shift
case "$mode" in strong|weak) ;; *) die "--mode $mode: not strong or weak; pick one" ;; esac
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 $2: not a positive integer; give e.g. $1 2"; }
for l in "--rollout:$rollout" "--train:$train" "--nodes:$nodes" "--scale:$scale"; do
  IFS=, read -ra vs <<<"${l#*:}"
  ((${#vs[@]} > 0)) || die "${l%%:*} is empty; give a list such as 1,2,4"
  for v in "${vs[@]}"; do posint "${l%%:*}" "$v"; done
done
posint --repeats "$repeats"; [[ "$rep0" =~ ^[0-9]+$ ]] || die "--repeat-from $rep0: not a number"; posint --iterations "$iterations"; posint --threads "$threads"
[ -z "$per_node" ] || posint --per-node "$per_node"
((iterations >= 2)) || die "--iterations $iterations: the first iteration is start-up and is not counted; use at least 2"
[ -x "$bin/k1rl-train" ] || die "$bin/k1rl-train not found; build first or set K1RL_BIN"

# The base work from the resolved config (the user's --config and overrides).
args=("$@")
has_config=0
for a in "$@"; do case "$a" in --config|--config=*) has_config=1 ;; esac; done
if ((!has_config)); then
  default=$root/inputs/configs/tiny.ini
  [ -f "$default" ] || default=$root/tests/integration/loop/tiny-test.ini
  args=(--config "$default" "${args[@]}")
fi
resolved=$("$bin/k1rl-train" "${args[@]}" --print-config) \
  || die "the config does not load (the line above says why); fix --config or the overrides"
get() { awk -v s="[$1]" -v k="$2" '$0 == s {f = 1; next} /^\[/ {f = 0} f && $1 == k {sub(/^[^=]*= */, ""); print; exit}' <<<"$resolved"; }
P=$(get rollout prompts_per_iteration) G=$(get train groups_per_step)
[ -n "$P" ] && [ -n "$G" ] || die "no rollout.prompts_per_iteration or train.groups_per_step in the resolved config"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tsv=$dir/sweep.tsv
((dry)) || [ -f "$tsv" ] || printf 'point\tmode\trollout\ttrain\tnodes_rollout\tnodes_train\tscale\trepeat\tprompts\tgroups_per_step\tthreads\titerations\tjob\n' >"$tsv"
export K1RL_ROOT=$root K1RL_BIN=$bin
cdiv() { echo $(( ($1 + $2 - 1) / $2 )); }
prev=$after ids=() n_points=0
# Repeats outermost: every point's k-th run before any (k+1)-th, so that a change in the machine's
# load spreads over the points instead of falling on one.
for ((k = rep0; k < rep0 + repeats; k++)); do
for s in ${scale//,/ }; do
  for t in ${train//,/ }; do
    for r in ${rollout//,/ }; do
      for n in ${nodes//,/ }; do
        if [ -n "$per_node" ]; then nr=$(cdiv "$r" "$per_node") nt=$(cdiv "$t" "$per_node")
        else nr=$((n < r ? n : r)) nt=$((n < t ? n : t)); fi
        p=$((P * s)) g=$G
        [ "$mode" = weak ] && p=$((p * r)) g=$((g * t))
        {
          name=$mode-r${r}t${t}n${nr}x${nt}s${s}-$k
          [ -e "$dir/$name" ] && die "$dir/$name exists (a point of an earlier sweep); use another --dir or remove it"
          dep=()
          [ -n "$prev" ] && dep=(--dependency="afterany:$prev")
          cmd=(sbatch --parsable "${dep[@]}" --job-name="k1rl-scale-$name" --output="$dir/$name.out"
               "${sb[@]}" -N "$nr" -n "$r" -c "$threads" : -N 1 -n 1 -c 1 : -N "$nt" -n "$t" -c "$threads"
               "$here/scaling/point.sh" "${args[@]}" --run.dir="$dir/$name" --run.iterations="$iterations"
               --rollout.prompts_per_iteration="$p" --train.groups_per_step="$g")
          if ((dry)); then echo "${cmd[*]}"; jid=dry$n_points
          else jid=$(OMP_NUM_THREADS=$threads "${cmd[@]}") || die "sbatch refused point $name (its message is above)"
               jid=${jid%%;*}; fi
          ((dry)) || printf '%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n' "$name" "$mode" "$r" "$t" "$nr" "$nt" "$s" "$k" \
            "$p" "$g" "$threads" "$iterations" "$jid" >>"$tsv"
          prev=$jid
          ids+=("$jid")
          n_points=$((n_points + 1))
          echo "$me: $name: rollout $r rank(s) on $nr node(s), train $t on $nt, $p prompts, $g groups/step: job $jid" >&2
        }
      done
    done
  done
done
done
echo "$me: $n_points job(s); when they are done: slurm/scaling/collect.sh $dir" >&2
echo "${ids[*]}"
