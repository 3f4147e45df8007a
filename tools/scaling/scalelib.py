"""k1rl scaling maths (docs/scaling.md): FLOPs per token of a LLaMA/Qwen2 shape, alpha-beta costs
of the collectives k1rl uses, the per-iteration time model, its fit on measured points and the
prediction from 1 to 1,000 nodes. Pure numpy; imported by tools/scaling/collect.py,
tools/scaling-model.py and the unit test tools/scaling/test_scalelib.py."""
import itertools
import math

import numpy as np

# Shapes of the prediction (docs/scaling.md). 1B: Llama-3.2-1B; 7B: Llama-2-7B.
SHAPES = {
    "smollm2-135m": dict(layers=30, dim=576, heads=9, kv_heads=3, ffn_dim=1536, vocab=49152, tie=True),
    "1b": dict(layers=16, dim=2048, heads=32, kv_heads=8, ffn_dim=8192, vocab=128256, tie=True),
    "7b": dict(layers=32, dim=4096, heads=32, kv_heads=32, ffn_dim=11008, vocab=32000, tie=False),
}

# A typical InfiniBand cluster node (docs/scaling.md "Defaults"): 8 H100-class GPUs.
NETWORKS = {  # alpha: latency per message (s); beta: bandwidth per node (bytes/s)
    "hdr": dict(alpha=2.0e-6, beta=23e9),  # HDR 200 Gb/s, one port per node, ~92% of line rate
    "ndr": dict(alpha=1.5e-6, beta=46e9),  # NDR 400 Gb/s
    "local": dict(alpha=1.0e-6, beta=5.3e9),  # this VM, shared memory (docs/slurm.md bcast bench)
}
NODE = dict(flops=8 * 989e12, mem_bw=8 * 3.35e12, io_bw=5e9)  # bf16 dense peak, HBM, filesystem
MFU = dict(prefill=0.40, decode=0.40, train=0.35)  # fraction of peak in compute-bound phases


def kv_dim(s):
    return s["dim"] // s["heads"] * s["kv_heads"]


def n_params(s):
    """Parameter count (embedding once when tied; RMSNorm weights included)."""
    d, L = s["dim"], s["layers"]
    per_layer = 2 * d * d + 2 * d * kv_dim(s) + 3 * d * s["ffn_dim"] + 2 * d
    return s["vocab"] * d * (1 if s["tie"] else 2) + L * per_layer + d


def matmul_params(s):
    """Weights that take part in a matmul per token: every projection and the LM head (the
    embedding lookup is free)."""
    d, L = s["dim"], s["layers"]
    return L * (2 * d * d + 2 * d * kv_dim(s) + 3 * d * s["ffn_dim"]) + d * s["vocab"]


def attn_flops(s, positions_sum):
    """Scores and weighted values of every query over its causal context: 2 matmuls of
    2 * dim FLOPs per (query, key) pair per layer; positions_sum = sum over queries of keys seen."""
    return 4.0 * s["layers"] * s["dim"] * positions_sum


def seq_flops(s, start, n):
    """Forward FLOPs of tokens at positions start .. start+n-1 (each sees position+1 keys)."""
    keys = n * start + n * (n + 1) / 2.0
    return 2.0 * matmul_params(s) * n + attn_flops(s, keys)


def iteration_flops(s, answers, prompt_len, answer_len, epochs=1):
    """FLOPs of one iteration with `answers` answers of mean prompt and answer lengths:
    prefill (the prompts), decode (the answers, one token at a time), train (forward + backward =
    3x forward over prompt + answer, per epoch)."""
    pre = answers * seq_flops(s, 0, prompt_len)
    dec = answers * seq_flops(s, prompt_len, answer_len)
    train = 3.0 * epochs * answers * seq_flops(s, 0, prompt_len + answer_len)
    return pre, dec, train


def ring_allreduce(n_bytes, p, alpha, beta):
    """Ring allreduce of n_bytes over p ranks: 2(p-1) steps of n/p bytes."""
    if p <= 1:
        return 0.0
    return 2.0 * (p - 1) * alpha + 2.0 * (p - 1) / p * n_bytes / beta


def intercomm_bcast(n_bytes, p, alpha, beta):
    """MPICH's intercommunicator broadcast to p receivers: root -> remote leader, then the
    leader's scatter + ring allgather broadcast among the p receivers."""
    if p <= 0:
        return 0.0
    t = alpha + n_bytes / beta
    if p > 1:
        t += (math.ceil(math.log2(p)) + p - 1) * alpha + 2.0 * (p - 1) / p * n_bytes / beta
    return t


# --- the fitted model -----------------------------------------------------------------------
# Each part of an iteration is linear in its features; the fit finds the non-negative
# coefficients per part. Features of a point (dict of floats):
#   R, T            rollout and train ranks
#   f_prefill, f_decode, f_train   FLOPs of the iteration (all ranks)
#   steps, params, answers, ckpt_bytes, grad_bytes, weight_bytes
PARTS = {
    # part: list of (coefficient name, feature function)
    "gen": [
        ("s_per_flop_rollout", lambda x: (x["f_prefill"] + x["f_decode"]) / x["R"]),
        ("gen_fixed_s", lambda x: 1.0),
    ],
    "rollout_other": [  # reward round trips, shard and sampler publish (each rank its answers)
        ("s_per_answer", lambda x: x["answers"] / x["R"]),
        ("rollout_fixed_s", lambda x: 1.0),
    ],
    "train_compute": [
        ("s_per_flop_train", lambda x: x["f_train"] / x["T"]),
        ("train_fixed_s", lambda x: 1.0),
    ],
    "publish": [  # checkpoint save + latest, reading the shards
        ("s_per_ckpt_byte", lambda x: x["ckpt_bytes"]),
        ("publish_fixed_s", lambda x: 1.0),
    ],
    "other": [("other_fixed_s", lambda x: 1.0)],  # headers, done messages, latencies
}
COMM_PARTS = ("allreduce", "bcast")


def comm_time(part, x, alpha, beta):
    if part == "allreduce":
        return x["steps"] * ring_allreduce(x["grad_bytes"], x["T"], alpha, beta)
    return intercomm_bcast(x["weight_bytes"], x["R"], alpha, beta)


def nnls(A, b):
    """Non-negative least squares by trying every subset of columns (a handful here): the best
    unconstrained solution among those with all coefficients >= 0."""
    A, b = np.asarray(A, float), np.asarray(b, float)
    n = A.shape[1]
    scale = np.maximum(np.abs(A).max(axis=0), 1e-300)
    As = A / scale
    best, best_res = np.zeros(n), float(np.sum(b * b))
    for k in range(1, n + 1):
        for cols in itertools.combinations(range(n), k):
            sub = As[:, cols]
            c, *_ = np.linalg.lstsq(sub, b, rcond=None)
            if np.any(c < 0):
                continue
            res = float(np.sum((sub @ c - b) ** 2))
            if res < best_res - 1e-15 * max(1.0, best_res):
                best_res, best = res, np.zeros(n)
                best[list(cols)] = c
    return best / scale


def fit(points, alpha, beta):
    """points: list of (features, parts) with parts a dict part -> measured seconds. Returns the
    coefficients {name: value}. Communication parts are not fitted: alpha and beta are given."""
    coef = {}
    for part, terms in PARTS.items():
        rows = [(x, p[part]) for x, p in points if part in p and np.isfinite(p[part])]
        if not rows:
            for name, _ in terms:
                coef[name] = 0.0
            continue
        A = np.array([[f(x) for _, f in terms] for x, _ in rows])
        b = np.array([y for _, y in rows])
        c = nnls(A, b)
        for (name, _), v in zip(terms, c):
            coef[name] = float(v)
    return coef


def predict_parts(coef, x, alpha, beta):
    out = {part: sum(coef[name] * f(x) for name, f in terms) for part, terms in PARTS.items()}
    for part in COMM_PARTS:
        out[part] = comm_time(part, x, alpha, beta)
    return out


def predict(coef, x, alpha, beta):
    return sum(predict_parts(coef, x, alpha, beta).values())


def leave_one_out(points, alpha, beta, measured_total):
    """Relative error of each point's iteration time when the model is fitted without it."""
    errs = []
    for i in range(len(points)):
        rest = points[:i] + points[i + 1:]
        c = fit(rest, alpha, beta)
        pred = predict(c, points[i][0], alpha, beta)
        errs.append((pred - measured_total[i]) / measured_total[i])
    return errs


# --- prediction at cluster scale --------------------------------------------------------------
def cluster_parts(s, R, T, work, node, mfu, net, reward_s_per_answer=0.0, io_s_per_answer=0.0, ckpt_every=1):
    """Seconds of each part of one iteration with R rollout nodes and T train nodes (one rank per
    node using the whole node) for the workload `work` (answers, prompt_len, answer_len, steps,
    epochs). reward: one reward rank scores every answer (serial); rollout_io: each rollout rank
    publishes its answers' shard and waits for their scores. Decode is a roofline per step: each of answer_len steps costs the larger of its FLOPs
    at the decode MFU and reading the weights (bf16) and the KV cache from memory."""
    A, Lp, La = work["answers"], work["prompt_len"], work["answer_len"]
    pre, dec, train = iteration_flops(s, A, Lp, La, work.get("epochs", 1))
    P = n_params(s)
    alpha, beta = net["alpha"], net["beta"]
    b = A / R  # sequences per rollout node
    ctx = Lp + La / 2.0
    kv_bytes = b * ctx * 2 * s["layers"] * kv_dim(s) * 2  # keys + values, bf16
    step_flops = dec / A / La * b
    t_dec = La * max(step_flops / (node["flops"] * mfu["decode"]), (2 * P + kv_bytes) / node["mem_bw"])
    return {
        "prefill": pre / R / (node["flops"] * mfu["prefill"]),
        "decode": t_dec,
        "reward": A * reward_s_per_answer,
        "rollout_io": A / R * io_s_per_answer,
        "train_compute": train / T / (node["flops"] * mfu["train"]),
        "allreduce": work["steps"] * ring_allreduce(4.0 * P, T, alpha, beta),
        "bcast": intercomm_bcast(4.0 * P, R, alpha, beta),
        "publish": 12.0 * P / node["io_bw"] / ckpt_every,
    }


def best_split(s, nodes, work, node, mfu, net, reward_s_per_answer=0.0, io_s_per_answer=0.0, ckpt_every=1):
    """The rollout/train split of `nodes` nodes with the shortest iteration; 1 node runs both roles
    one after the other (staleness 0). Returns (R, T, parts)."""
    if nodes <= 1:
        return 1, 1, cluster_parts(s, 1, 1, work, node, mfu, net, reward_s_per_answer, io_s_per_answer, ckpt_every)
    best = None
    cand = sorted({max(1, min(nodes - 1, int(round(nodes * f)))) for f in np.linspace(0, 1, 201)})
    for R in cand:
        parts = cluster_parts(s, R, nodes - R, work, node, mfu, net, reward_s_per_answer, io_s_per_answer, ckpt_every)
        t = sum(parts.values())
        if best is None or t < best[0]:
            best = (t, R, nodes - R, parts)
    return best[1], best[2], best[3]
