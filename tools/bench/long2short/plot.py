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
fig, ax = plt.subplots(figsize=(7, 4.5))
# The goal's region: >= 30% fewer tokens at <= 2 points below the long model.
ax.fill_between([0, 0.7 * r["long_tokens"]], 100 * r["long_acc"] - 2, 102, color="tab:green",
                alpha=0.12, label="goal: >= 30% fewer tokens, <= 2 points lost")
markers = {"long": "*", "merge": "s", "shortest_rejection": "^", "dpo": "D", "long2short_rl": "o"}
xmax = r["long_tokens"]
for m in methods:
    if f"{m}_acc" not in r:
        continue
    x, y = r[f"{m}_tokens"], 100 * r[f"{m}_acc"]
    xmax = max(xmax, x)
    # a legend entry per method, with its numbers: labels beside points overlap when two
    # methods land on the same spot (e.g. long and a method that cut nothing)
    ax.scatter([x], [y], s=140 if m == "long" else 70, marker=markers[m], alpha=0.8,
               label=f"{m}: {y:.1f}%, {x:.0f} tokens", zorder=3)
ax.set_xlim(0, 1.1 * xmax)
ax.set_ylim(-2, 102)
ax.set_xlabel("mean answer tokens (held-out, greedy)")
ax.set_ylabel("held-out greedy accuracy (%)")
ax.set_title("long2short: accuracy vs answer length")
ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=120)
