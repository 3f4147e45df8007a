#!/usr/bin/env bash
# Collects a scaling sweep (slurm/scaling/sweep.sh): per point the medians over its iterations after
# the first (start-up, SFT warm-up) and over its repeats; writes DIR/scaling.h5 (format scaling/1,
# docs/scaling.md), prints a table with speed-up and parallel efficiency per role (oversubscribed
# points marked), and PNG plots DIR/scaling-{throughput,efficiency,time}.png. Then fit and predict:
#   tools/scaling-model.py DIR/scaling.h5
# Usage: slurm/scaling/collect.sh DIR      (post-processing only: Debian's python3-h5py, -matplotlib)
set -euo pipefail
[ $# -eq 1 ] && [ "$1" != -h ] && [ "$1" != --help ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; [ $# -eq 1 ]; exit $?; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
exec "${K1RL_PYTHON:-/usr/bin/python3}" "$here/tools/scaling/collect.py" "$1"
