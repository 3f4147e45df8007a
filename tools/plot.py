#!/usr/bin/python3
"""Plots and an offline report of a k1rl run directory (no network: h5py + matplotlib, Agg).

Reads RUN/metrics.h5 (tables /iteration /train /rollout /reward, docs/metrics.md), RUN/eval.h5,
RUN/config.ini and the buffer shards in RUN/buffer, and writes into --out (default RUN/report):
  reward.png accuracy.png answer_length.png kl.png entropy.png grad_norm.png tokens_per_s.png
      per RL iteration (a faint line per value, a bold running mean when the series is long)
  time.png                 rollout, train, reward-service and whole-iteration seconds per iteration
  answer_length_hist.png   answer-length distribution per iteration (the shards still present)
  sft_loss.png             the SFT warm-up loss per step (when the run had one)
  report.html              one self-contained page: the images inline, `k1rl-inspect summary`, the
                           resolved config.ini, the eval table and a few sample answers per iteration
                           (`k1rl-inspect answers RUN --json --limit N`)
Works on a live run (published files only). Exit codes: 0 ok, 2 bad input (one line names the
file and why), 64 bad command line.

usage: tools/plot.py RUN [--out DIR] [--samples N] [--inspect PATH]
"""
import argparse
import base64
import datetime
import glob
import html
import json
import math
import os
import shutil
import subprocess
import sys

PROG = "plot.py"


def die(what, why, hint, code=2):
    print(f"{PROG}: error: {what}: {why}; {hint}", file=sys.stderr)
    sys.exit(code)


try:
    import h5py
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no network
    import matplotlib.pyplot as plt
    import numpy as np
except ImportError as e:
    die("missing Python package", str(e), "install python3-h5py python3-matplotlib (tools/install-deps.sh)")


# --- reading -------------------------------------------------------------------------------------

def check_format(f, path, kind):
    fmt = f.attrs.get("k1rl_format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt is None:
        die(f"'{path}' is not a k1rl file", "no k1rl_format attribute", f"give a {kind} file written by k1rl")
    got, _, ver = str(fmt).partition("/")
    if got != kind:
        die(f"'{path}' is a {got} file", f"expected a {kind} file", "check which file you passed")
    if not ver.isdigit() or int(ver) != 1:
        die(f"'{path}' has format {fmt}", f"this script reads {kind}/1", "use the k1rl version that wrote it")


def read_tables(path, kind):
    """{table: {column: np.array}} of a metrics/1 or eval/1 file; {} when it does not exist."""
    if not os.path.exists(path):
        return {}
    try:
        with h5py.File(path, "r") as f:
            check_format(f, path, kind)
            return {t: {c: np.asarray(f[t][c][:], dtype=float) for c in f[t]} for t in f
                    if isinstance(f[t], h5py.Group)}
    except OSError as e:
        die(f"cannot read '{path}'", f"corrupt or truncated HDF5 file ({e})", "restore it or rerun the step that wrote it")


def answer_lengths(run):
    """{iteration: np.array of the lengths in tokens of the ended answers (finished, truncated or
    repeated; parked open ones are partial)} over the published shards."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run, "buffer", "it_*.r*.h5"))):
        if ".tmp-" in os.path.basename(path):
            continue
        try:
            with h5py.File(path, "r") as f:
                check_format(f, path, "buffer")
                off = np.asarray(f["answer_offsets"][:])
                ended = np.asarray(f["status"][:]) != 0  # buffer/1: 0 = open
                it = int(f.attrs["iteration"])
        except FileNotFoundError:
            continue  # deleted meanwhile (retention on a live run)
        except OSError as e:
            die(f"cannot read '{path}'", f"corrupt or truncated HDF5 file ({e})", "delete the shard of the iteration in flight")
        out.setdefault(it, []).append(np.diff(off)[ended])
    return {it: np.concatenate(v) for it, v in out.items()}


def per_iteration_mean(table, col, rl_only=True):
    """(iterations, mean of col per iteration) over the rows of a per-step table (/train)."""
    if col not in table or "iteration" not in table:
        return None
    it, v = table["iteration"], table[col]
    keep = ~np.isnan(it) & ~np.isnan(v)
    if rl_only and "sft" in table:
        keep &= ~(table["sft"] == 1.0)
    if not keep.any():
        return None
    its = np.unique(it[keep])
    return its, np.array([v[keep & (it == i)].mean() for i in its])


def find_inspect(given):
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in [given, os.path.join(os.environ.get("K1RL_BIN", ""), "k1rl-inspect") if os.environ.get("K1RL_BIN") else None,
                 os.path.join(here, "..", "build", "release", "bin", "k1rl-inspect"), shutil.which("k1rl-inspect")]:
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


# --- plotting ------------------------------------------------------------------------------------

def running_median(y, w):
    """Median of the w values centred on each point: a trend that one outlier iteration does not
    bend, and that does not lag behind a fast change (a trailing window would)."""
    out = np.full_like(y, np.nan)
    for i in range(len(y)):
        seg = y[max(0, i - w // 2): i + w // 2 + 1]
        seg = seg[~np.isnan(seg)]
        if len(seg):
            out[i] = np.median(seg)
    return out


def new_axes(title, ylabel, xlabel="RL iteration"):
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def plot_series(ax, x, y, label, color):
    """A faint raw line and, for long noisy series, a bold running median."""
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    if len(y) == 0:
        return False
    if len(y) > 20:
        w = max(5, len(y) // 20)
        ax.plot(x, y, color=color, alpha=0.3, linewidth=1)
        ax.plot(x, running_median(y, w), color=color, linewidth=2, label=f"{label}, running median of {w}")
    else:
        ax.plot(x, y, color=color, marker="o", markersize=3, linewidth=1.5, label=label)
    return True


def save(fig, out, name, images):
    fig.tight_layout()
    path = os.path.join(out, name)
    fig.savefig(path)
    plt.close(fig)
    images.append(path)


def metric_plot(out, images, name, title, ylabel, series, ylim=None, extra=None, log_if_spread=False):
    """series: [(label, x, y)]; extra(ax) adds more (eval points). log_if_spread: a log y axis when
    the largest value is over 100x the median (one spike would otherwise flatten the curve)."""
    fig, ax = new_axes(title, ylabel)
    any_ = False
    for (label, x, y), color in zip(series, ["C0", "C1", "C2", "C3", "C4"]):
        if x is not None:
            any_ |= plot_series(ax, np.asarray(x, float), np.asarray(y, float), label, color)
    if extra:
        any_ |= extra(ax)
    if not any_:
        plt.close(fig)
        return
    if ylim:
        ax.set_ylim(*ylim)
    if log_if_spread:
        ys = np.concatenate([np.asarray(y, float) for _, x, y in series if x is not None])
        ys = ys[~np.isnan(ys) & (ys > 0)]
        if len(ys) and ys.max() > 100 * np.median(ys):
            ax.set_yscale("log")
            ax.set_ylabel(ylabel + ", log scale")
    ax.legend(loc="best", fontsize=8)
    save(fig, out, name, images)


def col(table, name):
    if table and name in table and "iteration" in table:
        return table["iteration"], table[name]
    return None, None


def make_plots(run, out, m, ev):
    it_t, tr, ro, rw = m.get("iteration", {}), m.get("train", {}), m.get("rollout", {}), m.get("reward", {})
    images = []
    x, y = col(it_t, "reward_mean")
    metric_plot(out, images, "reward.png", "Reward of the trained answers", "mean reward per answer",
                [("reward_mean (/iteration)", x, y)])

    def eval_points(ax):
        if "eval" not in ev:
            return False
        e = ev["eval"]
        ax.plot(e["iteration"], e["greedy_accuracy"], "s", color="C3", label="held-out greedy (eval.h5)")
        if "pass1" in e and not np.all(np.isnan(e["pass1"])):
            ax.plot(e["iteration"], e["pass1"], "^", color="C4", label="held-out pass@1 (eval.h5)")
        return True

    x, y = col(it_t, "accuracy")
    metric_plot(out, images, "accuracy.png", "Accuracy (checker score)", "fraction correct",
                [("train answers (/iteration)", x, y)], ylim=(-0.02, 1.02), extra=eval_points)
    x, y = col(it_t, "answer_len_mean")
    metric_plot(out, images, "answer_length.png", "Answer length", "mean answer length (tokens)",
                [("trained answers (/iteration)", x, y)])
    x, y = col(it_t, "kl")
    metric_plot(out, images, "kl.png", "KL(π_θ ‖ π_θi) during the update", "KL per token (nats, k3 estimate)",
                [("kl (/iteration)", x, y)], log_if_spread=True)
    e = per_iteration_mean(tr, "entropy")
    metric_plot(out, images, "entropy.png", "Policy entropy over answer tokens", "entropy per token (nats)",
                [("entropy (/train, mean over the iteration's steps)", *(e if e else (None, None)))])
    g = per_iteration_mean(tr, "grad_norm")
    metric_plot(out, images, "grad_norm.png", "Gradient norm before clipping", "global L2 norm",
                [("grad_norm (/train, mean over the iteration's steps)", *(g if g else (None, None)))],
                log_if_spread=True)
    x, y = col(it_t, "tokens_per_s")
    metric_plot(out, images, "tokens_per_s.png", "Rollout throughput", "generated tokens per second (all ranks)",
                [("tokens_per_s (/iteration)", x, y)])

    fig, ax = new_axes("Time per iteration", "seconds")
    any_ = False
    for name, label, color in [("rollout_s", "rollout", "C0"), ("train_s", "train", "C1"),
                               ("iteration_s", "whole iteration", "C7")]:
        x, y = col(it_t, name)
        if x is not None:
            any_ |= plot_series(ax, x, y, label + " (/iteration)", color)
    if rw and "serve_s" in rw:
        r = per_iteration_mean({"iteration": rw["iteration"], "serve_s": rw["serve_s"]}, "serve_s", rl_only=False)
        if r:
            any_ |= plot_series(ax, r[0], r[1], "reward service (/reward)", "C2")
    if any_:
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", fontsize=8)
        save(fig, out, "time.png", images)
    else:
        plt.close(fig)

    lengths = answer_lengths(run)
    if lengths:
        its = sorted(lengths)
        top = max(int(v.max()) if len(v) else 0 for v in lengths.values()) + 1
        fig, ax = new_axes("Length of the answers ended in each iteration (buffer shards present)",
                           "answer length (tokens)")
        if len(its) == 1:
            v = lengths[its[0]]
            ax.hist(v, bins=range(0, top + 1), color="C0")
            ax.set_xlabel(f"answer length (tokens), iteration {its[0]}")
            ax.set_ylabel("answers")
        else:
            bins = np.arange(0, top + 1)
            grid = np.array([np.histogram(lengths[i], bins=bins)[0] / max(1, len(lengths[i])) for i in its]).T
            edges_x = np.array(its + [its[-1] + 1], dtype=float) - 0.5
            ax.grid(False)
            mesh = ax.pcolormesh(edges_x, bins - 0.5, grid, cmap="viridis", shading="flat")
            fig.colorbar(mesh, ax=ax, label="fraction of the iteration's answers")
            if len(its) < len(range(its[0], its[-1] + 1)):
                ax.set_xlabel("RL iteration (shards of other iterations deleted by retention)")
        save(fig, out, "answer_length_hist.png", images)

    if tr and "sft" in tr and "loss" in tr:
        sft = tr["sft"] == 1.0
        if sft.any():
            fig, ax = new_axes("SFT warm-up loss", "NLL per solution token (nats)", xlabel="optimizer step")
            plot_series(ax, tr["step"][sft], tr["loss"][sft], "loss (/train, sft rows)", "C0")
            ax.legend(loc="best", fontsize=8)
            save(fig, out, "sft_loss.png", images)
    return images


# --- the report ----------------------------------------------------------------------------------

def run_inspect(inspect, args):
    if not inspect:
        return None, "k1rl-inspect not found (give --inspect PATH or set K1RL_BIN)"
    p = subprocess.run([inspect] + args, capture_output=True)
    if p.returncode != 0:
        return None, p.stderr.decode("utf-8", "replace").strip()
    return p.stdout.decode("utf-8", "replace"), None


def eval_table(ev):
    if "eval" not in ev:
        return "<p>No eval.h5 (run k1rl-eval to add held-out accuracy).</p>"
    e = ev["eval"]
    cols = [("iteration", "iteration", "{:.0f}"), ("prompts", "prompts", "{:.0f}"),
            ("greedy_accuracy", "greedy accuracy", "{:.3f}"), ("pass1", "pass@1", "{:.3f}"),
            ("passk", "pass@k", "{:.3f}"), ("k", "k", "{:.0f}"), ("answer_len_mean", "answer length (tokens)", "{:.1f}"),
            ("truncated_frac", "truncated fraction", "{:.3f}"), ("seconds", "seconds", "{:.1f}")]
    cols = [c for c in cols if c[0] in e]
    rows = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in cols) + "</tr>"]
    for i in range(len(e["iteration"])):
        rows.append("<tr>" + "".join(
            f"<td>{'-' if math.isnan(e[c][i]) else f.format(e[c][i])}</td>" for c, _, f in cols) + "</tr>")
    return "<table>" + "\n".join(rows) + "</table>"


def samples_html(run, inspect, n):
    text, err = run_inspect(inspect, ["answers", run, "--json", "--limit", str(n)])
    if text is None:
        return f"<p>Sample answers unavailable: {html.escape(err)}</p>"
    by_it = {}
    for line in text.splitlines():
        if line.strip():
            a = json.loads(line)
            by_it.setdefault(a["iteration"], []).append(a)
    if not by_it:
        return "<p>No buffer shards in the run.</p>"
    parts = []
    for it in sorted(by_it):
        rows = ["<tr><th>status</th><th>reward</th><th>components</th><th>tokens</th><th>prompt</th><th>answer</th></tr>"]
        for a in by_it[it]:
            comps = ", ".join(f"{k} {v:.3g}" for k, v in a["components"].items())
            status = a["status"] + (", ready" if a["ready"] else "")
            rows.append(f"<tr><td>{html.escape(status)}</td><td>{a['reward']:.3f}</td><td>{html.escape(comps)}</td>"
                        f"<td>{a['answer_tokens']}</td><td><pre>{html.escape(a['prompt'])}</pre></td>"
                        f"<td><pre>{html.escape(a['answer'])}</pre></td></tr>")
        parts.append(f"<h3>Iteration {it}</h3><table>" + "\n".join(rows) + "</table>")
    return "\n".join(parts)


CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}table{border-collapse:collapse;margin:.5em 0;font-size:90%}
td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;text-align:left}pre{margin:0;white-space:pre-wrap}
.box{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:85%}"""


def write_report(run, out, images, ev, inspect, n_samples):
    config = os.path.join(run, "config.ini")
    config_text = open(config, encoding="utf-8", errors="replace").read() if os.path.exists(config) else "(no config.ini)"
    summary, err = run_inspect(inspect, ["summary", run])
    body = [f"<h1>k1rl run report</h1><p>Run <code>{html.escape(os.path.abspath(run))}</code>, "
            f"written {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} by tools/plot.py. Column meanings and "
            f"units: docs/metrics.md.</p>",
            "<h2>Summary</h2>",
            f"<pre class=box>{html.escape(summary)}</pre>" if summary else f"<p>{html.escape(err)}</p>",
            "<h2>Curves</h2>"]
    for path in images:
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        body.append(f'<div><img alt="{html.escape(os.path.basename(path))}" src="data:image/png;base64,{data}"></div>')
    body += ["<h2>Held-out evaluation (eval.h5)</h2>", eval_table(ev),
             f"<h2>Sample answers ({n_samples} per iteration, from the shards still present)</h2>",
             samples_html(run, inspect, n_samples),
             "<h2>Resolved config (config.ini)</h2>", f"<pre class=box>{html.escape(config_text)}</pre>"]
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>k1rl report: "
            f"{html.escape(os.path.basename(os.path.abspath(run)))}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
    path = os.path.join(out, "report.html")
    tmp = path + f".tmp-{os.uname().nodename}-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, path)  # never a half-written report under the final name
    return path


def main():
    ap = argparse.ArgumentParser(prog="tools/plot.py", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", metavar="RUN", help="the run directory (run.dir)")
    ap.add_argument("--out", metavar="DIR", help="where the PNGs and report.html go (default RUN/report)")
    ap.add_argument("--samples", metavar="N", type=int, default=3, help="sample answers per iteration in the report (default 3)")
    ap.add_argument("--inspect", metavar="PATH", help="the k1rl-inspect binary (default $K1RL_BIN/k1rl-inspect, "
                    "build/release/bin/k1rl-inspect, or k1rl-inspect on PATH)")
    try:
        args = ap.parse_args()
    except SystemExit as e:
        sys.exit(0 if e.code == 0 else 64)
    run = args.run
    if not os.path.isdir(run):
        die(f"'{run}' is not a run directory", "it does not exist" if not os.path.exists(run) else "it is a file",
            "give the run.dir of a run (it holds metrics.h5)")
    metrics = os.path.join(run, "metrics.h5")
    if not os.path.exists(metrics):
        die(f"no metrics in '{run}'", f"{metrics} does not exist", "wait for the first iteration, or check the path")
    out = args.out or os.path.join(run, "report")
    os.makedirs(out, exist_ok=True)
    m = read_tables(metrics, "metrics")
    ev = read_tables(os.path.join(run, "eval.h5"), "eval")
    images = make_plots(run, out, m, ev)
    report = write_report(run, out, images, ev, find_inspect(args.inspect), args.samples)
    print(f"{PROG}: {len(images)} plot(s) and {report}")


if __name__ == "__main__":
    main()
