#!/usr/bin/python3
"""Learning curves of a k1rl-bench-learning run: per RL iteration, the mean over seeds (and the
min-max band) of rollout accuracy, reward, answer length and KL, one line per algorithm.

Reads OUT/seed<N>/<algorithm>/metrics.h5 (table /iteration, docs/metrics.md) as the benchmark
leaves them (`k1rl-bench-learning --out OUT`), writes one PNG (four panels) and prints the same
figures as a Markdown table. Exit codes: 0 ok, 2 bad input (one line names the file and why),
64 bad command line.

usage: tools/plot-learning.py OUT [--png FILE] [--title TEXT]
"""
import argparse
import glob
import os
import sys

PROG = "plot-learning.py"
PANELS = [("accuracy", "rollout accuracy"), ("reward_mean", "reward mean"),
          ("answer_len_mean", "answer tokens"), ("kl", "KL(π_θ‖π_θi)")]


def die(what, why, hint, code=2):
    print(f"{PROG}: error: {what}: {why}; {hint}", file=sys.stderr)
    sys.exit(code)


try:
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as e:
    die("python modules", str(e), "install Debian's python3-h5py and python3-matplotlib "
        "(tools/install-deps.sh) and run this with /usr/bin/python3")


def read_run(path):
    """{column: [value per iteration]} of RUN/metrics.h5's /iteration table."""
    try:
        with h5py.File(path, "r") as f:
            t = f["iteration"]
            return {k: [float(x) for x in t[k][()]] for k, _ in PANELS + [("iteration", "")]}
    except (OSError, KeyError) as e:
        die(path, f"not a k1rl metrics file with an /iteration table ({e})",
            "pass the --out directory of k1rl-bench-learning")


def collect(out):
    """{algorithm: [run per seed]} for OUT/seed*/ALGO/metrics.h5 (the SFT start is skipped)."""
    runs = {}
    for m in sorted(glob.glob(os.path.join(out, "seed*", "*", "metrics.h5"))):
        algo = os.path.basename(os.path.dirname(m))
        if algo == "sft":
            continue
        runs.setdefault(algo, []).append(read_run(m))
    if not runs:
        die(out, "no seed*/<algorithm>/metrics.h5 under it", "pass k1rl-bench-learning's --out")
    return runs


def band(series, key):
    """Per iteration: mean, min, max over the seeds that reached it (a live run may lag)."""
    n = max(len(s[key]) for s in series)
    cols = [[s[key][i] for s in series if i < len(s[key])] for i in range(n)]
    return ([sum(c) / len(c) for c in cols], [min(c) for c in cols], [max(c) for c in cols])


def main():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="the --out directory of k1rl-bench-learning")
    p.add_argument("--png", help="image to write (default OUT/learning.png)")
    p.add_argument("--title", default="", help="figure title")
    try:
        a = p.parse_args()
    except SystemExit as e:
        sys.exit(0 if e.code == 0 else 64)
    runs = collect(a.out)
    png = a.png or os.path.join(a.out, "learning.png")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    for ax, (key, label) in zip(axes.flat, PANELS):
        for algo, series in sorted(runs.items()):
            mean, lo, hi = band(series, key)
            x = list(range(len(mean)))
            ax.plot(x, mean, marker="o", label=f"{algo} (mean of {len(series)} seed(s), min-max band)")
            ax.fill_between(x, lo, hi, alpha=0.2)
        ax.set_xlabel("RL iteration")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes.flat[0].legend()
    if a.title:
        fig.suptitle(a.title)
    tmp = png + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, png)  # never a half-written image
    print("| algorithm | iteration | " + " | ".join(label for _, label in PANELS) + " |")
    print("| --- | --- |" + " --- |" * len(PANELS))
    for algo, series in sorted(runs.items()):
        bands = {key: band(series, key) for key, _ in PANELS}
        for i in range(len(bands[PANELS[0][0]][0])):
            cells = [f"{bands[k][0][i]:.3g} [{bands[k][1][i]:.3g}, {bands[k][2][i]:.3g}]"
                     for k, _ in PANELS]
            print(f"| {algo} | {i} | " + " | ".join(cells) + " |")
    print(f"{PROG}: wrote {png}", file=sys.stderr)


if __name__ == "__main__":
    main()
