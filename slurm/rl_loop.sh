#!/usr/bin/env bash
# Chains N jobs of slurm/rl_iter.sh: each starts when the previous one succeeded
# (--dependency=afterok); a job that fails cancels every later one (--kill-on-invalid-dep=yes).
# A job stopped at its time limit requeues itself (rl_iter.sh), so the chain waits for it.
# Usage: slurm/rl_loop.sh N [sbatch options ...] [-- rl_iter.sh arguments: --config FILE --key=value ...]
# Prints the job ids on stdout (one line), what it did on stderr.
set -euo pipefail
me=rl_loop
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script=${K1RL_RL_ITER:-$here/rl_iter.sh}
die() { echo "$me: error: $*" >&2; exit "${2:-64}"; }
usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; }

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  ''|*[!0-9]*) usage >&2; die "the first argument must be the number of jobs N (got '${1:-}')" ;;
esac
n=$1; shift
((n >= 1)) || die "N must be at least 1"
sb=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do sb+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
command -v sbatch >/dev/null || die "sbatch not found; is Slurm installed? (local cluster: tools/slurm-local.sh up)" 2

ids=() prev=
for ((i = 1; i <= n; i++)); do
  dep=()
  [ -n "$prev" ] && dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
  out=$(sbatch --parsable "${dep[@]}" "${sb[@]}" "$script" "$@" 2>&1) || {
    ((${#ids[@]})) && scancel "${ids[@]}" 2>/dev/null
    die "sbatch refused job $i of $n: $out${ids[*]:+ (cancelled the jobs submitted before: ${ids[*]})}" 2
  }
  prev=${out%%;*}
  ids+=("$prev")
done
echo "$me: submitted $n job(s): ${ids[*]}; each runs after the previous one succeeds, a failure cancels the rest" >&2
echo "${ids[*]}"
