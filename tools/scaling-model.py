#!/usr/bin/python3
"""k1rl scaling model (docs/scaling.md): fits the per-iteration time model on the measured points
of a sweep (DIR/scaling.h5 from slurm/scaling/collect.sh), prints the fit and its leave-one-out
errors, then predicts strong and weak scaling from 1 to 1,000 nodes for the SmolLM2-135M, 1B and 7B
shapes on a cluster given by a node's FLOP rate and the network's latency and bandwidth, and says
which term dominates where. Writes scaling-model-fit.png and scaling-model-predict.png.

  tools/scaling-model.py DIR/scaling.h5                    # fit, validate, predict (HDR defaults)
  tools/scaling-model.py DIR/scaling.h5 --network ndr --node-flops 3.2e15
  tools/scaling-model.py --no-fit                          # predict only, from the defaults
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scaling"))
import scalelib as sl  # noqa: E402

ME = "scaling-model"
LOO_TARGET = 0.20


def die(msg):
    print(f"{ME}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load_points(path):
    import h5py
    if not os.path.isfile(path):
        die(f"{path}: no such file; give the scaling.h5 that slurm/scaling/collect.sh wrote")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        die(f"cannot open {path}: {e}; give the scaling.h5 that slurm/scaling/collect.sh wrote")
    with f:
        if f.attrs.get("k1rl_format") != "scaling/1" or "points" not in f:
            die(f"{path} is not a scaling/1 file; give the scaling.h5 that slurm/scaling/collect.sh wrote")
        g = f["points"]
        cols = {k: g[k][:] for k in g}
    n = len(cols["iteration_s"])
    pts = []
    for i in range(n):
        p = {k: (v[i].decode() if isinstance(v[i], bytes) else v[i]) for k, v in cols.items()}
        pts.append(p)
    return pts


def features(p):
    P = p["params"]
    return dict(R=p["rollout"], T=p["train"], f_prefill=p["f_prefill"], f_decode=p["f_decode"],
                f_train=p["f_train"], steps=p["steps"], params=P, answers=p["answers"],
                ckpt_bytes=12.0 * P, grad_bytes=4.0 * P, weight_bytes=4.0 * P)


def nz(v):
    return 0.0 if not np.isfinite(v) else float(v)


def measured_parts(p, x, alpha, beta):
    """The model's parts from collect.py's time split; communication that was not timed on its
    own (no item-3 timers) is taken out of the part that contains it with its alpha-beta cost."""
    ar = p["part_allreduce"] if np.isfinite(p["part_allreduce"]) else sl.comm_time("allreduce", x, alpha, beta)
    tc = p["part_train_compute"] - (0.0 if np.isfinite(p["part_allreduce"]) else ar)
    ot = p["part_other"]  # the broadcast precedes iteration_s: never inside it
    return {"gen": p["part_gen"],
            "rollout_other": p["part_rollout_other"] + nz(p["part_reward_wait"]),
            "train_compute": max(0.0, tc),
            "publish": p["part_publish"] + nz(p["part_train_read"]),
            "other": max(0.0, ot)}


def scaled(x, R, T, mode, R0, T0):
    """Features of the base point's run moved to R rollout and T train ranks: strong keeps the
    work, weak scales the answers (and their FLOPs) with R and the groups per step with T."""
    y = dict(x, R=R, T=T)
    if mode == "weak":
        k = R / R0
        for key in ("f_prefill", "f_decode", "f_train", "answers"):
            y[key] = x[key] * k
        y["steps"] = x["steps"] * k * T0 / T
    return y


def fit_section(pts, args, out_dir):
    alpha, beta = args.local_alpha, args.local_beta
    for p in pts:  # measured seconds per iteration, the weight broadcast included (cycle_s)
        p["t"] = p["cycle_s"] if np.isfinite(p.get("cycle_s", np.nan)) else p["iteration_s"]
    fit_pts = [p for p in pts if p["oversubscribed"] == 0 and np.isfinite(p["t"])]
    over = [p["point"] for p in pts if p["oversubscribed"] != 0]
    print(f"{ME}: {len(pts)} measured point(s); {len(fit_pts)} in the fit"
          + (f"; left out (oversubscribed or placement unknown): {' '.join(over)}" if over else ""))
    if len(fit_pts) < 3:
        print(f"{ME}: warning: fewer than 3 points that are not oversubscribed: no fit, no leave-one-out; "
              "the prediction uses the defaults")
        return None
    data = [(features(p), measured_parts(p, features(p), alpha, beta)) for p in fit_pts]
    coef = sl.fit(data, alpha, beta)
    print(f"{ME}: fit on {len(fit_pts)} point(s) (local network: alpha {alpha:.2g} s, beta {beta:.3g} B/s):")
    for k, v in coef.items():
        extra = ""
        if k.startswith("s_per_flop") and v > 0:
            extra = f"   = {1 / v / 1e9:.2f} GFLOP/s per rank"
        print(f"  {k:<20} {v:.4g}{extra}")
    for part, col in (("bcast", "part_bcast"), ("allreduce", "part_allreduce")):
        meas = [(p, p[col]) for p in pts if np.isfinite(p[col]) and (part == "bcast" or p["train"] > 1)]
        if meas:
            print(f"{ME}: {part}, measured against alpha-beta: " + ", ".join(
                f"{p['point']} {v * 1e3:.2f} ms / {sl.comm_time(part, features(p), alpha, beta) * 1e3:.2f} ms"
                for p, v in meas))
    totals = [p["t"] for p in fit_pts]
    errs = sl.leave_one_out(data, alpha, beta, totals)
    print(f"{ME}: leave-one-out (fit without the point, predict its iteration seconds):")
    for p, e, (x, _) in zip(fit_pts, errs, data):
        c = sl.fit([d for d in data if d[0] is not x], alpha, beta)
        print(f"  {p['point']:<24} measured {p['t']:.4f} s  predicted {sl.predict(c, x, alpha, beta):.4f} s"
              f"  error {100 * e:+6.1f}%")
    worst = max(abs(e) for e in errs)
    verdict = "within" if worst <= LOO_TARGET else "OUTSIDE"
    print(f"{ME}: leave-one-out: largest |error| {100 * worst:.1f}% ({verdict} the {100 * LOO_TARGET:.0f}% target)")
    plot_fit(pts, coef, alpha, beta, out_dir, errs, fit_pts)
    return coef


def plot_fit(pts, coef, alpha, beta, out_dir, errs, fit_pts):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = sorted({p["mode"] for p in pts})
    fig, axes = plt.subplots(1, len(modes) + 2, figsize=(4.6 * (len(modes) + 2), 4.2), squeeze=False)
    axes = axes[0]
    colors = plt.cm.tab10.colors
    for mi, mode in enumerate(modes):
        ax = axes[mi]
        mp = [p for p in pts if p["mode"] == mode and p["scale"] == 1]
        Ts = sorted({p["train"] for p in mp})
        Rmax = max(p["rollout"] for p in mp) * 4
        base = min(mp, key=lambda p: (p["rollout"], p["train"]))
        xb = features(base)
        for ci, T in enumerate(Ts):
            Rs = np.arange(1, Rmax + 1)
            ys = [sl.predict(coef, scaled(xb, R, T, mode, base["rollout"], base["train"]), alpha, beta) for R in Rs]
            ax.plot(Rs, ys, "-", color=colors[ci], label=f"model, train ranks {T:.0f}")
            for p in mp:
                if p["train"] == T:
                    over = p["oversubscribed"] != 0
                    ax.errorbar(p["rollout"], p["t"],
                                yerr=[[p["iteration_s"] - p["iteration_s_min"]], [p["iteration_s_max"] - p["iteration_s"]]],
                                fmt="o", ms=7, color=colors[ci], mfc="none" if over else colors[ci], capsize=3)
        ax.set_title(f"{mode} scaling: iteration time", fontsize=10)
        ax.set_xlabel("rollout ranks")
        ax.set_ylabel("seconds per iteration")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[len(modes)]
    sp = sorted([p for p in pts if p["rollout"] == 1 and p["train"] == 1 and p["mode"] == "strong"], key=lambda p: p["scale"])
    if sp:
        b = sp[0]
        xb = features(b)
        ss = np.linspace(0.5, max(p["scale"] for p in sp) * 1.5, 40)
        ax.plot(ss, [sl.predict(coef, dict(xb, **{k: xb[k] * s / b["scale"] for k in ("f_prefill", "f_decode", "f_train", "answers", "steps")}),
                                alpha, beta) for s in ss], "-", color=colors[0], label="model")
        for p in sp:
            ax.errorbar(p["scale"], p["t"],
                        yerr=[[p["iteration_s"] - p["iteration_s_min"]], [p["iteration_s_max"] - p["iteration_s"]]],
                        fmt="o", color=colors[0], mfc="none" if p["oversubscribed"] else colors[0], capsize=3)
    ax.set_title("1 + 1 ranks: iteration time against work", fontsize=10)
    ax.set_xlabel("work scale s (s x prompts, s x optimizer steps)")
    ax.set_ylabel("seconds per iteration")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[-1]
    for p, e in zip(fit_pts, errs):
        ax.plot(p["t"], p["t"] * (1 + e), "o", color=colors[1])
    hi = max(p["t"] for p in pts) * 1.2
    ax.plot([0, hi], [0, hi], "k-", lw=0.8)
    ax.fill_between([0, hi], [0, hi * 0.8], [0, hi * 1.2], color="grey", alpha=0.2, label="±20%")
    ax.set_xlim(0, hi)
    ax.set_ylim(0, hi)
    ax.set_title(f"leave-one-out: largest |error| {100 * max(abs(e) for e in errs):.1f}%", fontsize=10)
    ax.set_xlabel("measured seconds")
    ax.set_ylabel("predicted without the point")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle("fit on the measured points (filled); hollow = oversubscribed, not in the fit; bars = range of repeats",
                 fontsize=10)
    fig.tight_layout()
    path = os.path.join(out_dir, "scaling-model-fit.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"{ME}: plot -> {path}")


NODE_GRID = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1000]
SHOW = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000]
PART_ORDER = ["prefill", "decode", "reward", "rollout_io", "train_compute", "allreduce", "bcast", "publish",
              "fixed"]
DEFAULT_IO_S_PER_ANSWER = 50e-6  # without a fit; the 2-core VM's fit gives about this
DEFAULT_FIXED_S = 0.1
DEFAULT_REWARD_S_PER_ANSWER = 1.0 / 812e3  # docs/reward.md: checker answers/s on one thread


def predict_section(args, coef, out_dir):
    node = dict(flops=args.node_flops, mem_bw=args.mem_bw, io_bw=args.io_bw)
    net = dict(sl.NETWORKS[args.network])
    if args.alpha is not None:
        net["alpha"] = args.alpha
    if args.beta is not None:
        net["beta"] = args.beta
    mfu = dict(prefill=args.mfu_prefill, decode=args.mfu_decode, train=args.mfu_train)
    io_answer, fixed, from_fit = args.io_s_per_answer, args.fixed_s, []
    if coef is not None:
        if io_answer is None:
            io_answer = coef["s_per_answer"]
            from_fit.append("shard I/O per answer")
        if fixed is None:
            fixed = sum(v for k, v in coef.items() if k.endswith("fixed_s"))
            from_fit.append("fixed seconds")
    io_answer = DEFAULT_IO_S_PER_ANSWER if io_answer is None else io_answer
    fixed = DEFAULT_FIXED_S if fixed is None else fixed
    per_answer = args.reward_s_per_answer
    A = args.prompts * args.samples
    strong = dict(answers=A, prompt_len=args.prompt_len, answer_len=args.answer_len, steps=args.steps)
    print(f"\n{ME}: cluster: node {node['flops'] / 1e15:.2f} PFLOP/s peak (MFU prefill {mfu['prefill']}, decode "
          f"{mfu['decode']}, train {mfu['train']}), memory {node['mem_bw'] / 1e12:.1f} TB/s, filesystem "
          f"{node['io_bw'] / 1e9:.1f} GB/s; network {args.network}: alpha {net['alpha'] * 1e6:.1f} us, beta "
          f"{net['beta'] / 1e9:.0f} GB/s; reward {per_answer * 1e6:.2f} us/answer on one rank, shard I/O "
          f"{io_answer * 1e6:.1f} us/answer per rollout rank, fixed {fixed:.3f} s/iteration"
          + (f" ({' and '.join(from_fit)} from the fit)" if from_fit else ""))
    print(f"{ME}: strong: {A} answers ({args.prompts} prompts x {args.samples}) of {args.prompt_len} + {args.answer_len} "
          f"tokens, {args.steps} optimizer steps per iteration; weak: {A / args.weak_base_nodes:g} answers per node "
          f"(the strong workload at {args.weak_base_nodes} nodes); a checkpoint every {args.ckpt_every} iteration(s)")
    results = {}
    for shape in args.shapes:
        s = sl.SHAPES[shape]
        for mode in ("strong", "weak"):
            rows = []
            for N in NODE_GRID:
                if N > args.max_nodes:
                    break
                w = dict(strong)
                if mode == "weak":
                    w["answers"] = A * N / args.weak_base_nodes
                R, T, parts = sl.best_split(s, N, w, node, mfu, net, per_answer, io_answer, args.ckpt_every)
                parts["fixed"] = fixed
                rows.append((N, R, T, parts, sum(parts.values()), w["answers"]))
            results[(shape, mode)] = rows
    for (shape, mode), rows in results.items():
        print(f"\n{shape} ({sl.n_params(sl.SHAPES[shape]) / 1e6:.0f} M parameters), {mode} scaling:")
        print(f"  {'nodes':>5} {'R+T':>9} {'iter s':>9} {'tok/s':>10} {'speed-up':>8} {'eff':>5}  dominant term (share)")
        t1 = rows[0][4]
        for N, R, T, parts, t, ans in rows:
            if N not in SHOW and N != rows[-1][0]:
                continue
            dom = max(parts, key=parts.get)
            tok = ans * args.answer_len / t
            sp = (t1 / t) if mode == "strong" else (t1 / t) * (ans / rows[0][5])
            print(f"  {N:>5} {R:>4}+{T:<4} {t:>9.3f} {tok:>10.3g} {sp:>7.1f}x {sp / N:>5.2f}  {dom} ({100 * parts[dom] / t:.0f}%)")
        regions, last = [], None
        for N, R, T, parts, t, ans in rows:
            dom = max(parts, key=parts.get)
            if dom != last:
                regions.append([dom, N, N])
                last = dom
            regions[-1][2] = N
        print("  dominates: " + "; ".join(f"{d} at {a}-{b} nodes" if a != b else f"{d} at {a} node(s)" for d, a, b in regions))
    plot_predict(results, args, out_dir)


def plot_predict(results, args, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = args.shapes
    fig, axes = plt.subplots(len(shapes), 3, figsize=(15, 3.8 * len(shapes)), squeeze=False)
    colors = dict(zip(PART_ORDER, plt.cm.tab10.colors))
    for si, shape in enumerate(shapes):
        for mi, mode in enumerate(("strong", "weak")):
            rows = results[(shape, mode)]
            Ns = np.array([r[0] for r in rows], float)
            t = np.array([r[4] for r in rows])
            ax = axes[si][mi]
            if mode == "strong":
                ax.loglog(Ns, t[0] / t, "o-", ms=3, label="speed-up")
                ax.loglog(Ns, Ns, "k:", lw=0.8, label="ideal")
                ax.set_ylabel("speed-up over 1 node")
            else:
                ax.semilogx(Ns, t[0] / t, "o-", ms=3, label="weak efficiency")
                ax.axhline(1, color="k", ls=":", lw=0.8)
                ax.set_ylim(0, 1.1)
                ax.set_ylabel("efficiency (t1 / tN)")
            ax.set_title(f"{shape}: {mode} scaling ({args.network})", fontsize=10)
            ax.set_xlabel("nodes")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7)
        ax = axes[si][2]
        rows = results[(shape, "strong")]
        Ns = np.array([r[0] for r in rows], float)
        tot = np.array([r[4] for r in rows])
        bottom = np.zeros(len(rows))
        for part in PART_ORDER:
            frac = np.array([r[3].get(part, 0.0) for r in rows]) / tot
            ax.fill_between(Ns, bottom, bottom + frac, color=colors[part], label=part, step=None, alpha=0.85)
            bottom += frac
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_xlim(Ns[0], Ns[-1])
        ax.set_title(f"{shape}: strong scaling, share of the iteration per term", fontsize=10)
        ax.set_xlabel("nodes")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = os.path.join(out_dir, "scaling-model-predict.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\n{ME}: plot -> {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scaling_h5", nargs="?", help="scaling.h5 of slurm/scaling/collect.sh")
    ap.add_argument("--no-fit", action="store_true", help="predict from the defaults only")
    ap.add_argument("--out", help="folder of the PNGs (default: the scaling.h5's folder, or .)")
    ap.add_argument("--local-alpha", type=float, default=sl.NETWORKS["local"]["alpha"],
                    help="latency of the measured machine's MPI, s (default %(default)g)")
    ap.add_argument("--local-beta", type=float, default=sl.NETWORKS["local"]["beta"],
                    help="bandwidth of the measured machine's MPI, bytes/s (default %(default)g)")
    ap.add_argument("--network", choices=sorted(k for k in sl.NETWORKS if k != "local"), default="hdr",
                    help="InfiniBand preset for alpha and beta (default %(default)s)")
    ap.add_argument("--alpha", type=float, help="network latency per message, s (overrides --network)")
    ap.add_argument("--beta", type=float, help="network bandwidth per node, bytes/s (overrides --network)")
    ap.add_argument("--node-flops", type=float, default=sl.NODE["flops"], help="peak FLOP/s of a node (default %(default)g)")
    ap.add_argument("--mem-bw", type=float, default=sl.NODE["mem_bw"], help="memory bytes/s of a node (default %(default)g)")
    ap.add_argument("--io-bw", type=float, default=sl.NODE["io_bw"], help="filesystem bytes/s for the checkpoint (default %(default)g)")
    ap.add_argument("--mfu-prefill", type=float, default=sl.MFU["prefill"])
    ap.add_argument("--mfu-decode", type=float, default=sl.MFU["decode"], help="compute-bound decode; memory bound by the roofline")
    ap.add_argument("--mfu-train", type=float, default=sl.MFU["train"])
    ap.add_argument("--reward-s-per-answer", type=float, default=DEFAULT_REWARD_S_PER_ANSWER,
                    help="seconds the one reward rank spends per answer (default %(default).3g: numeric checkers; "
                         "sandboxed code: ~0.02)")
    ap.add_argument("--io-s-per-answer", type=float,
                    help=f"shard publish and reward round trip per answer and rollout rank, s (default: the fit's, "
                         f"else {DEFAULT_IO_S_PER_ANSWER:g})")
    ap.add_argument("--fixed-s", type=float, help=f"fixed seconds per iteration (default: the fit's, else {DEFAULT_FIXED_S:g})")
    ap.add_argument("--shapes", default="smollm2-135m,1b,7b", help="comma list of " + ",".join(sl.SHAPES))
    ap.add_argument("--prompts", type=int, default=1024, help="prompts per iteration, strong scaling (default %(default)s)")
    ap.add_argument("--samples", type=int, default=8, help="answers per prompt (default %(default)s)")
    ap.add_argument("--prompt-len", type=int, default=256)
    ap.add_argument("--answer-len", type=int, default=1024, help="tokens generated per answer per iteration")
    ap.add_argument("--steps", type=int, default=4, help="optimizer steps per iteration (allreduces)")
    ap.add_argument("--weak-base-nodes", type=int, default=64, help="weak: the strong workload at this many nodes")
    ap.add_argument("--max-nodes", type=int, default=1000)
    ap.add_argument("--ckpt-every", type=int, default=1,
                    help="iterations per checkpoint (k1rl today: 1; the weights reach rollout by broadcast)")
    args = ap.parse_args()
    args.shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    for s in args.shapes:
        if s not in sl.SHAPES:
            die(f"--shapes: unknown shape '{s}'; use some of {','.join(sl.SHAPES)}")
    if not args.scaling_h5 and not args.no_fit:
        die("no scaling.h5 given; pass DIR/scaling.h5 from slurm/scaling/collect.sh, or --no-fit")
    out = args.out or (os.path.dirname(os.path.abspath(args.scaling_h5)) if args.scaling_h5 else ".")
    coef = None
    if args.scaling_h5 and not args.no_fit:
        coef = fit_section(load_points(args.scaling_h5), args, out)
    predict_section(args, coef, out)


if __name__ == "__main__":
    main()
