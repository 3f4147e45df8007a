#!/usr/bin/env bash
# e2e: a two-point strong sweep (1 and 2 rollout ranks, 1 train rank, tiny test config, 3
# iterations) through slurm/scaling/sweep.sh on the local Slurm; then slurm/scaling/collect.sh
# must write scaling.h5 (scaling/1: both points, their placement, a time split that adds up to the
# measured iteration, speed-up 1 at the baseline) and three PNGs, and tools/scaling-model.py must
# read it. No timing assertions.
# Usage: sweep-test.sh BIN_DIR PYTHON
set -uo pipefail
bin=$1 py=${2:-/usr/bin/python3}
source "$(dirname "${BASH_SOURCE[0]}")/../lib/slurm-e2e.sh"
e2e_slurm_up
work=$(mktemp -d "${TMPDIR:-/tmp}/k1rl-e2e-scaling-XXXXXX")
fail=0
bad() { echo "e2e: FAIL: $*"; fail=1; }
cfg=$e2e_root/tests/integration/loop/tiny-test.ini

ids=$(cd "$e2e_root" && K1RL_BIN=$bin slurm/scaling/sweep.sh --mode strong --rollout 1,2 --train 1 --iterations 3 \
        --dir "$work/sweep" --chdir="$e2e_root" -- --config "$cfg") || { echo "e2e: FAIL: sweep.sh refused"; exit 1; }
echo "e2e: jobs $ids"
for j in $ids; do
  state=$(e2e_wait "$j" 90)
  echo "e2e: job $j $state"
  [ "$state" = COMPLETED ] || bad "job $j: $state"
done
if ((fail)); then tail -n 30 "$work"/sweep/*.out; exit 1; fi
for p in strong-r1t1n1x1s1-0 strong-r2t1n1x1s1-0; do
  grep -qE '^oversubscribed=[01]$' "$work/sweep/$p/placement.txt" 2>/dev/null || bad "$p: no placement.txt with oversubscribed=0|1"
done

"$e2e_root/slurm/scaling/collect.sh" "$work/sweep" | tee "$work/collect.log" || bad "collect.sh failed"
grep -qE '^strong +2 +1 ' "$work/collect.log" || bad "the table lacks the 2-rollout-rank row"
for f in scaling.h5 scaling-throughput.png scaling-efficiency.png scaling-time.png; do
  [ -s "$work/sweep/$f" ] || bad "collect.sh wrote no $f"
done
"$py" - "$work/sweep" <<'PY' || bad "scaling.h5 content"
import os, sys
import h5py, numpy as np
d = sys.argv[1]
for png in ("scaling-throughput.png", "scaling-efficiency.png", "scaling-time.png"):
    assert open(os.path.join(d, png), "rb").read(8) == b"\x89PNG\r\n\x1a\n", png + " is not a PNG"
with h5py.File(os.path.join(d, "scaling.h5"), "r") as f:
    assert f.attrs["k1rl_format"] == "scaling/1", f.attrs["k1rl_format"]
    g = f["points"]
    R = g["rollout"][:]
    assert sorted(R.tolist()) == [1.0, 2.0], R
    assert (g["train"][:] == 1).all() and (g["repeats"][:] == 1).all()
    cores = os.cpu_count()
    for i in range(len(R)):
        over = int(g["oversubscribed"][i])
        # rank-threads of rollout + train on this host against its cores
        assert over == int(R[i] + 1 > cores), (R[i], cores, over)
        parts = sum(np.nan_to_num(g[k][i]) for k in g if k.startswith("part_") and k != "part_wait")
        it = g["cycle_s"][i]  # iteration + the weight broadcast before it
        assert it > 0 and abs(parts - it) <= 0.02 * it + 1e-3, f"time split {parts} != iteration {it}"
        for k in ("part_gen", "part_reward_wait", "part_bcast", "part_train_compute", "part_publish"):
            assert np.isfinite(g[k][i]) and g[k][i] >= 0, (k, g[k][i])
        assert g["bcast_bytes"][i] == 4 * g["params"][i], (g["bcast_bytes"][i], g["params"][i])
        assert g["gen_tokens"][i] > 0 and g["f_decode"][i] > 0 and g["f_train"][i] > 0
    base = int(np.argmin(R))
    assert g["speedup_rollout"][base] == 1.0 and g["efficiency_rollout"][base] == 1.0
    other = 1 - base
    want = g["rollout_tokens_per_s"][other] / g["rollout_tokens_per_s"][base]
    assert abs(g["speedup_rollout"][other] - want) < 1e-9
    assert abs(g["efficiency_rollout"][other] - want / 2) < 1e-9
    it = f["iterations"]
    assert len(it["iteration"]) == 4, len(it["iteration"])  # 2 runs x iterations 1, 2
print("e2e: scaling.h5 OK")
PY
"$py" "$e2e_root/tools/scaling-model.py" "$work/sweep/scaling.h5" --shapes smollm2-135m --max-nodes 8 >"$work/model.log" 2>&1 \
  || { sed 's/^/  | /' "$work/model.log"; bad "scaling-model.py failed"; }
grep -q 'fewer than 3 points' "$work/model.log" || bad "scaling-model.py did not say that 2 points are too few to fit"
grep -q 'smollm2-135m (135 M parameters), strong scaling' "$work/model.log" || bad "scaling-model.py printed no prediction"
[ -s "$work/sweep/scaling-model-predict.png" ] || bad "no scaling-model-predict.png"

if ((fail)); then tail -n 30 "$work"/sweep/*.out; exit 1; fi
rm -rf "$work"
echo "e2e: PASS"
