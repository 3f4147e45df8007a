#!/usr/bin/env bash
# The sweep measured in docs/scaling.md ("Measured"): a 0.8 M-parameter model on the tiny test
# config, 1-2 rollout x 1-2 train ranks strong and weak, 1 + 1 ranks at work scales 2-4, three
# rounds of one run per point, 10 iterations each. Submits and prints the last job id; then
#   slurm/scaling/collect.sh DIR && tools/scaling-model.py DIR/scaling.h5
# Usage: slurm/scaling/measured-sweep.sh [DIR] [sbatch options ...]   (from the k1rl folder)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${1:-scaling-measured}
shift || true
app=(--config "$here/../../tests/integration/loop/tiny-test.ini" --model.dim=128 --model.layers=4
     --model.heads=4 --model.kv_heads=2 --model.ffn_dim=384 --model.max_seq=96
     --rollout.max_answer_tokens=32 --rollout.segment_tokens=32 --rollout.prompts_per_iteration=8
     --train.groups_per_step=4 --rollout.max_batch=16)
last=""
for k in 0 1 2; do
  for sw in "--mode strong --rollout 1,2 --train 1,2" "--mode weak --rollout 1,2 --train 1,2" \
            "--mode strong --rollout 1 --train 1 --scale 2,3,4"; do
    # shellcheck disable=SC2086  # $sw is a list of options
    ids=$("$here/sweep.sh" $sw --repeats 1 --repeat-from "$k" --iterations 10 --dir "$D" ${last:+--after "$last"} \
            "$@" -- "${app[@]}")
    last=${ids##* }
  done
done
echo "$last"
