#!/usr/bin/env bash
# The per-iteration time split (docs/metrics.md "Time split") under MPMD mpiexec without Slurm:
# 1 rollout + 1 reward + 2 train ranks, tiny test config, 3 iterations; checks that the timers are
# present on every row, non-negative and nested as the loop runs them (parts of train_s within
# train_s, the rollout's parts within rollout_s, train idle about the rollout time with staleness
# 0), and that the bytes are exact: each weight broadcast moves 4 bytes per parameter, each
# optimizer step's gradient allreduce 4 bytes per parameter.
# Usage: timers-test.sh MPIEXEC BIN_DIR PYTHON WORK
set -uo pipefail
mpiexec=$1 bin=$2 py=$3 work=$4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
rm -rf "$work" && mkdir -p "$work"
a=(--config "$root/tests/integration/loop/tiny-test.ini" --run.dir="$work/run" --run.iterations=3)
(cd "$root" && OMP_NUM_THREADS=1 timeout 120 "$mpiexec" -n 1 "$bin/k1rl-rollout" "${a[@]}" \
   : -n 1 "$bin/k1rl-reward" "${a[@]}" : -n 2 "$bin/k1rl-train" "${a[@]}") >"$work/log" 2>&1 \
  || { tail -n 30 "$work/log"; echo "timers: FAIL: the run failed"; exit 1; }
"$py" - "$work/run" <<'PY'
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1] + "/metrics.h5", "r") as f:
    it = {k: f["iteration"][k][:] for k in f["iteration"]}
    ro = {k: f["rollout"][k][:] for k in f["rollout"]}
    with h5py.File(sys.argv[1] + "/ckpt/it_000001.h5", "r") as c:
        params = sum(c["params"][k].size for k in c["params"])
n = len(it["iteration"])
assert n == 3, n
cols = ["gen_s", "reward_wait_s", "rollout_publish_s", "rollout_wait_s", "wait_rollout_s", "bcast_s",
        "bcast_bytes", "train_read_s", "train_compute_s", "allreduce_s", "allreduce_bytes", "ckpt_s"]
for c in cols:
    assert c in it, f"/iteration lacks {c}"
    assert np.all(np.isfinite(it[c])) and np.all(it[c] >= 0), (c, it[c])
for c in ("reward_wait_s", "publish_s", "wait_s", "bcast_s"):
    assert c in ro and np.all(np.isfinite(ro[c])) and np.all(ro[c] >= 0), (c, ro.get(c))
eps = 2e-3
for i in range(n):
    g = lambda c: float(it[c][i])
    parts = g("train_read_s") + g("train_compute_s") + g("allreduce_s") + g("ckpt_s")
    assert parts <= g("train_s") + eps, ("train parts", parts, g("train_s"))
    assert g("gen_s") + g("reward_wait_s") + g("rollout_publish_s") <= g("rollout_s") + eps, i
    # staleness 0: train waits for rollout's done while rollout works
    assert abs(g("wait_rollout_s") - g("rollout_s")) <= 0.2 * g("rollout_s") + 0.02, (g("wait_rollout_s"), g("rollout_s"))
    assert g("bcast_bytes") == 4 * params, (g("bcast_bytes"), params)
    assert g("allreduce_bytes") == 4 * params * g("steps"), (g("allreduce_bytes"), params, g("steps"))
    assert g("train_compute_s") > 0 or g("steps") == 0
# the rollout rank's own columns agree with what train recorded for it (one rollout rank: the max is its own)
for c_it, c_ro in (("reward_wait_s", "reward_wait_s"), ("rollout_publish_s", "publish_s"), ("rollout_wait_s", "wait_s")):
    for i in range(n):
        r = ro[c_ro][ro["iteration"] == it["iteration"][i]]
        assert len(r) == 1 and abs(r[0] - it[c_it][i]) < 1e-9, (c_it, r, it[c_it][i])
print(f"timers: OK: {n} iterations, {params} parameters, steps {it['steps'].tolist()}, "
      f"allreduce {it['allreduce_s'].round(4).tolist()} s, bcast {it['bcast_s'].round(4).tolist()} s")
PY
