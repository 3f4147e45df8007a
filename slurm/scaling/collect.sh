#!/usr/bin/env bash
# Tabulates a scaling sweep (slurm/scaling/sweep.sh): for every run folder r<R>t<T> under DIR, the
# medians over its iterations after the first (the first includes start-up and the SFT warm-up) of
# rollout tokens/s, rollout, train and iteration seconds; prints a table and writes DIR/scaling.h5
# (one dataset per column, format scaling/1). Post-processing only: uses h5py.
# Usage: slurm/scaling/collect.sh DIR
set -euo pipefail
dir=${1:?usage: slurm/scaling/collect.sh DIR}
py=${K1RL_PYTHON:-/usr/bin/python3}
"$py" - "$dir" <<'PY'
import glob, os, re, sys
import h5py, numpy as np
d = sys.argv[1]
rows = []
for run in sorted(glob.glob(os.path.join(d, "r*t*"))):
    m = re.fullmatch(r"r(\d+)t(\d+)", os.path.basename(run))
    path = os.path.join(run, "metrics.h5")
    if not m or not os.path.isfile(path):
        continue
    with h5py.File(path, "r") as f:
        if "iteration" not in f:
            continue
        t = {k: np.asarray(f["iteration"][k][:]) for k in f["iteration"]}
    keep = slice(1, None) if len(t["iteration"]) > 1 else slice(None)
    med = lambda k: float(np.median(t[k][keep]))
    rows.append((int(m[1]), int(m[2]), len(t["iteration"]), med("tokens_per_s"), med("rollout_s"),
                 med("train_s"), med("iteration_s")))
if not rows:
    sys.exit(f"collect: error: no run folders r<R>t<T> with metrics.h5 in {d}; did the sweep's jobs run?")
rows.sort()
cols = ["rollout_ranks", "train_ranks", "iterations", "tokens_per_s", "rollout_s", "train_s", "iteration_s"]
base = rows[0][3]
print(f"{'rollout':>7} {'train':>5} {'its':>4} {'tok/s':>10} {'speed-up':>8} {'rollout s':>9} {'train s':>8} {'iter s':>8}")
for r in rows:
    print(f"{r[0]:>7} {r[1]:>5} {r[2]:>4} {r[3]:>10.0f} {r[3] / base:>7.2f}x {r[4]:>9.3f} {r[5]:>8.3f} {r[6]:>8.3f}")
out = os.path.join(d, "scaling.h5")
with h5py.File(out + ".tmp", "w") as f:
    f.attrs["k1rl_format"] = "scaling/1"
    for i, c in enumerate(cols):
        f.create_dataset(c, data=np.array([r[i] for r in rows], dtype=np.float64))
os.replace(out + ".tmp", out)
print(f"collect: {len(rows)} run(s) -> {out}")
PY
