#!/usr/bin/env python3
"""Accuracy against mean answer tokens per long2short method (the k1.5 report's Figure 7) from
the JSON line of k1rl-bench-long2short. Usage: plot.py long2short.json out.png"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

r = json.loads(open(sys.argv[1]).read())
methods = ["long", "merge", "shortest_rejection", "dpo", "long2short_rl"]
fig, ax = plt.subplots(figsize=(6, 4))
for m in methods:
    if f"{m}_acc" not in r:
        continue
    x, y = r[f"{m}_tokens"], 100 * r[f"{m}_acc"]
    ax.scatter([x], [y], s=60, marker="*" if m == "long" else "o")
    ax.annotate(m, (x, y), textcoords="offset points", xytext=(5, 5))
ax.axvline(0.7 * r["long_tokens"], ls=":", c="gray", label="30% fewer tokens")
ax.axhline(100 * r["long_acc"] - 2, ls="--", c="gray", label="2 points below long")
ax.set_xlabel("mean answer tokens (held-out, greedy)")
ax.set_ylabel("held-out greedy accuracy (%)")
ax.set_title("long2short: accuracy vs answer length")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=120)
