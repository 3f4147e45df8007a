"""Collects a scaling sweep (slurm/scaling/sweep.sh) into DIR/scaling.h5 (format scaling/1,
docs/scaling.md), prints a table with speed-up and parallel efficiency per role, and writes the
PNG plots DIR/scaling-throughput.png, scaling-efficiency.png and scaling-time.png.
Usage: collect.py DIR   (slurm/scaling/collect.sh DIR runs it with Debian's python3)"""
import csv
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scalelib  # noqa: E402

ME = "collect"
# The time split of an iteration (seconds; docs/scaling.md "Where the time goes").
PARTS = ["gen", "reward_wait", "rollout_other", "bcast", "train_read", "train_compute", "allreduce",
         "publish", "wait", "other"]


def die(msg):
    print(f"{ME}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_ini(path):
    out, sec = {}, ""
    for line in open(path):
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            sec = line[1:-1]
        elif "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[f"{sec}.{k.strip()}"] = v.strip()
    return out


def read_kv(path):
    out = {}
    if os.path.isfile(path):
        for line in open(path):
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                out[k] = v
    return out


def shape_of(cfg):
    g = lambda k: int(float(cfg[f"model.{k}"]))
    return dict(layers=g("layers"), dim=g("dim"), heads=g("heads"), kv_heads=g("kv_heads"),
                ffn_dim=g("ffn_dim"), vocab=g("vocab"), tie=cfg["model.tie_embeddings"] == "true")


def table(f, name):
    if name not in f:
        return None
    return {k: np.asarray(f[name][k][:], dtype=float) for k in f[name]}


def col(t, k, n):
    return t[k] if t is not None and k in t else np.full(n, np.nan)


def shard_work(run, it, shape, epochs):
    """FLOPs and tokens of iteration `it` from its buffer shards: prefill of each answer generated
    in it (prompt + earlier segments, re-prefilled), decode of its new tokens, training of every
    ready ended trajectory."""
    pre = dec = train = 0.0
    gen_tokens = pre_tokens = train_tokens = answers = 0
    bdir = os.path.join(run, "buffer")
    for name in sorted(os.listdir(bdir)) if os.path.isdir(bdir) else []:
        if not (name.startswith(f"it_{it:06d}.r") and name.endswith(".h5")):
            continue
        with h5py.File(os.path.join(bdir, name), "r") as s:
            toff, aoff = s["token_offsets"][:], s["answer_offsets"][:]
            seg, status, ready = s["segment_iter"][:], s["status"][:], s["ready"][:]
        for i in range(len(toff) - 1):
            n_tok = int(toff[i + 1] - toff[i])
            new = int(np.sum(seg[aoff[i]:aoff[i + 1]] == it))
            if new > 0:
                answers += 1
                pre += scalelib.seq_flops(shape, 0, n_tok - new)
                dec += scalelib.seq_flops(shape, n_tok - new, new)
                gen_tokens += new
                pre_tokens += n_tok - new
            if ready[i] and status[i] != 0:  # status 0: open (parked)
                train += 3.0 * epochs * scalelib.seq_flops(shape, 0, n_tok)
                train_tokens += n_tok * epochs
    return dict(f_prefill=pre, f_decode=dec, f_train=train, gen_tokens=gen_tokens,
                prefill_tokens=pre_tokens, train_tokens=train_tokens, answers=answers)


def run_rows(run, meta):
    """One dict per counted iteration (all but the job's first) of one run."""
    path = os.path.join(run, "metrics.h5")
    if not os.path.isfile(path):
        return []
    cfg = read_ini(os.path.join(run, "config.ini"))
    shape = shape_of(cfg)
    epochs = int(float(cfg.get("train.epochs", 1)))
    with h5py.File(path, "r") as f:
        itab, rtab, ttab = table(f, "iteration"), table(f, "rollout"), table(f, "train")
    if itab is None or len(itab["iteration"]) < 2:
        return []
    params = scalelib.n_params(shape)
    out = []
    n = len(itab["iteration"])
    for j in range(1, n):
        it = int(itab["iteration"][j])
        g = lambda k: float(col(itab, k, n)[j])
        r_it = rtab["iteration"] == it if rtab is not None else np.zeros(0, bool)
        gen = g("gen_s") if np.isfinite(g("gen_s")) else float(np.max(rtab["gen_s"][r_it])) if r_it.any() else np.nan
        if ttab is not None:
            rl = (ttab["iteration"] == it) & ~(col(ttab, "sft", len(ttab["iteration"])) == 1)
            steps_s, steps = float(np.sum(ttab["time_s"][rl])), int(np.sum(rl))
        else:
            steps_s, steps = np.nan, 0
        w = shard_work(run, it, shape, epochs)
        it_s, ro_s, tr_s = g("iteration_s"), g("rollout_s"), g("train_s")
        p = {k: np.nan for k in PARTS}
        if np.isfinite(g("train_compute_s")):  # the timers of docs/metrics.md "Time split"
            for k in ("gen", "reward_wait", "bcast", "train_read", "train_compute", "allreduce"):
                p[k] = g(f"{k}_s")
            p["publish"] = g("ckpt_s") + g("rollout_publish_s")
            p["rollout_other"] = max(0.0, ro_s - p["gen"] - p["reward_wait"] - g("rollout_publish_s"))
            p["wait"] = g("wait_rollout_s")  # train idle while rollout works: overlaps, not added
            # iteration_s runs from the end of the broadcast to the end of training
            p["other"] = max(0.0, it_s - sum(v for k, v in p.items()
                                             if k not in ("other", "wait", "bcast") and np.isfinite(v)))
        else:  # today's columns: rollout_s, train_s, /rollout gen_s, /train time_s
            p["gen"] = gen
            p["rollout_other"] = max(0.0, ro_s - gen)
            p["train_compute"] = steps_s
            p["publish"] = max(0.0, tr_s - steps_s)
            p["other"] = max(0.0, it_s - ro_s - tr_s)
        row = dict(meta)
        row.update(w)
        row.update({f"part_{k}": v for k, v in p.items()})
        cycle = it_s + (p["bcast"] if np.isfinite(p["bcast"]) else 0.0)
        row.update(iteration=it, iteration_s=it_s, cycle_s=cycle, rollout_s=ro_s, train_s=tr_s, steps=steps,
                   params=params, layers=shape["layers"], dim=shape["dim"],
                   allreduce_bytes=g("allreduce_bytes"), bcast_bytes=g("bcast_bytes"))
        out.append(row)
    return out


NUM = ["rollout", "train", "nodes_rollout", "nodes_train", "scale", "prompts", "groups_per_step",
       "threads"]


def main():
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 else 2)
    d = sys.argv[1]
    tsv = os.path.join(d, "sweep.tsv")
    if not os.path.isfile(tsv):
        die(f"no {tsv}; is {d} the --dir of a slurm/scaling/sweep.sh sweep?")
    runs = list(csv.DictReader(open(tsv), delimiter="\t"))
    per_point, missing = {}, []
    for m in runs:
        run = os.path.join(d, m["point"])
        place = read_kv(os.path.join(run, "placement.txt"))
        meta = {k: int(m[k]) for k in NUM}
        meta.update(point=m["point"].rsplit("-", 1)[0], mode=m["mode"], repeat=int(m["repeat"]),
                    oversubscribed=int(place.get("oversubscribed", -1)),
                    cores=float(place.get("busiest_host_cores", "nan")),
                    rank_threads=float(place.get("busiest_host_ranks_x_threads", "nan")),
                    load1=float(place.get("load1", "nan")))
        rows = run_rows(run, meta)
        if not rows:
            missing.append(m["point"])
            continue
        key = m["point"].rsplit("-", 1)[0]
        per_point.setdefault(key, []).append(rows)
    if missing:
        print(f"{ME}: warning: no counted iterations (job not run, failed, or 1 iteration) in: {' '.join(missing)}",
              file=sys.stderr)
    if not per_point:
        die(f"no run of {tsv} has metrics with 2 or more iterations; did the sweep's jobs run? (their logs: {d}/*.out)")
    points = [aggregate(k, reps) for k, reps in per_point.items()]
    points.sort(key=lambda p: (p["mode"], p["scale"], p["train"], p["rollout"], p["nodes_rollout"]))
    derive(points)
    write_h5(d, points, [r for reps in per_point.values() for rows in reps for r in rows])
    print_table(points)
    plots(d, points)


def aggregate(key, reps):
    """A point: per repeat the median over its iterations; then the median over repeats (and the
    range of the repeats' iteration seconds)."""
    med = lambda rows, k: float(np.nanmedian([r[k] for r in rows])) if any(np.isfinite(r[k]) for r in rows) else np.nan
    keys = [k for k, v in reps[0][0].items() if isinstance(v, (int, float))]
    per_rep = [{k: med(rows, k) for k in keys} for rows in reps]
    p = {k: float(np.nanmedian([r[k] for r in per_rep])) if any(np.isfinite(r[k]) for r in per_rep) else np.nan
         for k in keys}
    its = [r["iteration_s"] for r in per_rep]
    p.update(point=key, mode=reps[0][0]["mode"], repeats=len(reps), iterations=sum(len(r) for r in reps),
             iteration_s_min=min(its), iteration_s_max=max(its),
             oversubscribed=max(r["oversubscribed"] for r in per_rep))
    return p


def derive(points):
    """Throughput per role and, against each role's baseline (the point with the fewest ranks of
    that role among those of the same mode, scale and ranks of the other role), speed-up
    (throughput ratio) and parallel efficiency (throughput per rank ratio)."""
    for p in points:
        p["tokens_per_s"] = p["gen_tokens"] / p["iteration_s"]
        p["rollout_tokens_per_s"] = p["gen_tokens"] / p["part_gen"] if p["part_gen"] > 0 else np.nan
        p["train_tokens_per_s"] = p["train_tokens"] / p["part_train_compute"] if p["part_train_compute"] > 0 else np.nan
        p["rollout_flops_per_s"] = (p["f_prefill"] + p["f_decode"]) / p["part_gen"] if p["part_gen"] > 0 else np.nan
        p["train_flops_per_s"] = p["f_train"] / p["part_train_compute"] if p["part_train_compute"] > 0 else np.nan
    for role, other, thr in (("rollout", "train", "rollout_tokens_per_s"), ("train", "rollout", "train_tokens_per_s"),
                             ("iteration", None, "tokens_per_s")):
        for p in points:
            if role == "iteration":
                grp = [q for q in points if q["mode"] == p["mode"] and q["scale"] == p["scale"]]
                ranks = lambda q: q["rollout"] + q["train"]
            else:
                grp = [q for q in points if q["mode"] == p["mode"] and q["scale"] == p["scale"] and q[other] == p[other]]
                ranks = lambda q, role=role: q[role]
            base = min(grp, key=lambda q: (ranks(q), q["nodes_rollout"] + q["nodes_train"]))
            p[f"speedup_{role}"] = p[thr] / base[thr]
            p[f"efficiency_{role}"] = (p[thr] / ranks(p)) / (base[thr] / ranks(base))


STR_COLS = ("point", "mode")


def write_h5(d, points, rows):
    out = os.path.join(d, "scaling.h5")
    with h5py.File(out + ".tmp", "w") as f:
        f.attrs["k1rl_format"] = "scaling/1"
        f.attrs["source"] = os.path.abspath(d)
        for name, recs in (("points", points), ("iterations", rows)):
            g = f.create_group(name)
            for k in recs[0]:
                if k in STR_COLS:
                    g.create_dataset(k, data=np.array([r[k] for r in recs], dtype=h5py.string_dtype()))
                else:
                    g.create_dataset(k, data=np.array([float(r.get(k, np.nan)) for r in recs]))
    os.replace(out + ".tmp", out)
    print(f"{ME}: {len(points)} point(s), {len(rows)} iteration(s) -> {out}")


def print_table(points):
    hdr = (f"{'mode':<6} {'R':>3} {'T':>3} {'nodes':>5} {'x':>2} {'reps':>4} {'iter s':>8} {'range':>13} "
           f"{'tok/s':>8} {'gen tok/s':>9} {'S_roll':>6} {'E_roll':>6} {'train tok/s':>11} {'S_train':>7} "
           f"{'E_train':>7}  note")
    print(hdr)
    for p in points:
        note = {1: "OVERSUBSCRIBED: out of the fit", 0: "", -1: "placement unknown"}[int(p["oversubscribed"])]
        print(f"{p['mode']:<6} {p['rollout']:>3.0f} {p['train']:>3.0f} {p['nodes_rollout']:>2.0f}+{p['nodes_train']:<2.0f} "
              f"{p['scale']:>2.0f} {p['repeats']:>4} {p['iteration_s']:>8.3f} "
              f"{p['iteration_s_min']:>6.3f}-{p['iteration_s_max']:<6.3f} {p['tokens_per_s']:>8.0f} "
              f"{p['rollout_tokens_per_s']:>9.0f} {p['speedup_rollout']:>5.2f}x {p['efficiency_rollout']:>6.2f} "
              f"{p['train_tokens_per_s']:>11.0f} {p['speedup_train']:>6.2f}x {p['efficiency_train']:>7.2f}  {note}")
    n_over = sum(1 for p in points if p["oversubscribed"] == 1)
    if n_over:
        print(f"{ME}: {n_over} of {len(points)} point(s) run more rollout + train rank-threads than their host has "
              f"cores: they measure contention, not scaling, and the model leaves them out")


def plots(d, points):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    modes = sorted({p["mode"] for p in points})
    roles = [("rollout", "train", "rollout_tokens_per_s", "rollout generation"),
             ("train", "rollout", "train_tokens_per_s", "train compute"),
             ("iteration", None, "tokens_per_s", "whole iteration")]

    def series(mode, role, other):
        groups = {}
        for p in points:
            if p["mode"] != mode:
                continue
            key = (p["scale"], p[other]) if other else (p["scale"],)
            groups.setdefault(key, []).append(p)
        for key, ps in sorted(groups.items()):
            x = (lambda q: q["rollout"] + q["train"]) if role == "iteration" else (lambda q: q[role])
            ps.sort(key=x)
            lab = f"x{key[0]:.0f}" + (f", {other} {key[1]:.0f}" if other else "")
            yield lab, ps, x

    for what, fname, ylab in (("thr", "scaling-throughput.png", None), ("eff", "scaling-efficiency.png", "parallel efficiency")):
        fig, axes = plt.subplots(len(modes), 3, figsize=(13, 3.6 * len(modes)), squeeze=False)
        for mi, mode in enumerate(modes):
            for ri, (role, other, thr, title) in enumerate(roles):
                ax = axes[mi][ri]
                for lab, ps, x in series(mode, role, other):
                    if len(ps) < 2:  # a work-scale point alone: see scaling-time.png and the model's fit plot
                        continue
                    xs = [x(q) for q in ps]
                    ys = [q[thr] if what == "thr" else q[f"efficiency_{role}"] for q in ps]
                    line, = ax.plot(xs, ys, ls="-" if role != "iteration" else "none", lw=1,
                                    label=lab if role != "iteration" else None)
                    for q, xv, yv in zip(ps, xs, ys):
                        over = q["oversubscribed"] == 1
                        ax.plot(xv, yv, "o", ms=7, color=line.get_color(), mfc="none" if over else line.get_color())
                        if role == "iteration":
                            ax.annotate(f"{q['rollout']:.0f}+{q['train']:.0f}", (xv, yv), textcoords="offset points",
                                        xytext=(6, 3), fontsize=7)
                    if what == "thr" and ps:  # ideal: throughput per rank of the first point
                        b = ps[0]
                        ideal = [b[thr] * xv / xs[0] for xv in xs]
                        if ideal:
                            ax.plot(xs, ideal, ":", color=line.get_color(), lw=1)
                if what == "eff":
                    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
                    ax.set_ylim(0, max(1.2, ax.get_ylim()[1]))
                ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
                ax.set_title(f"{mode}: {title}", fontsize=10)
                ax.set_xlabel("rollout + train ranks" if role == "iteration" else f"{role} ranks")
                ax.set_ylabel(ylab or ("generated tokens/s" if role != "train" else "trained tokens/s"))
                ax.grid(alpha=0.3)
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(fontsize=7, title="work scale, other role" if other else "work scale (labels: R+T)",
                              title_fontsize=7)
        fig.suptitle(f"{d}: hollow markers = oversubscribed (more rank-threads than cores)"
                     + ("; dotted = ideal" if what == "thr" else ""), fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(d, fname), dpi=110)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(points) + 2), 4.5))
    bottom = np.zeros(len(points))
    colors = plt.cm.tab10.colors
    for i, part in enumerate(PARTS):
        if part == "wait":  # train idle while rollout works: overlaps the rollout parts
            continue
        v = np.array([p[f"part_{part}"] for p in points], dtype=float)
        if not np.any(np.isfinite(v) & (v > 0)):
            continue
        v = np.nan_to_num(v)
        ax.bar(range(len(points)), v, bottom=bottom, color=colors[i % 10], label=part.replace("_", " "))
        bottom += v
    ax.plot(range(len(points)), [p["cycle_s"] for p in points], "k_", ms=14, mew=2,
            label="iteration + broadcast (measured)")
    w = np.array([p["part_wait"] for p in points], dtype=float)
    if np.any(np.isfinite(w)):
        ax.plot(range(len(points)), w, "v", color="0.3", ms=6, label="train idle (overlaps rollout)")
    ax.set_xticks(range(len(points)))
    ax.set_xticklabels([f"{p['point']}{' *' if p['oversubscribed'] == 1 else ''}" for p in points],
                       rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("seconds per iteration (median)")
    ax.set_title("where the time goes, per point (* oversubscribed)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "scaling-time.png"), dpi=110)
    plt.close(fig)
    print(f"{ME}: plots -> {d}/scaling-throughput.png scaling-efficiency.png scaling-time.png")


if __name__ == "__main__":
    main()
