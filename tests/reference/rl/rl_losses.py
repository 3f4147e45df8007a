#!/usr/bin/env python3
"""PyTorch reference for k1rl's policy losses (DESIGN.md formulas), written independently of the
C++ code: random groups of answers go in, per-group losses and autograd gradients with respect to
every answer token's log-prob come out, in an HDF5 fixture read by test-rl-reference.cpp.
Usage: rl_losses.py OUT.h5"""
import sys

import h5py
import numpy as np
import torch

torch.manual_seed(0)
rng = np.random.default_rng(0)
ITER = 5
CASES = [  # name, algorithm, tau, token_norm, clip_eps, kl_coef, latest_only
    ("k15", "k15", 0.1, False, 0.2, 0.0, False),
    ("k15_norm_latest", "k15", 0.3, True, 0.2, 0.0, True),
    ("grpo", "grpo", 0.0, False, 0.2, 0.0, False),
    ("grpo_kl_latest", "grpo", 0.0, False, 0.1, 0.05, True),
    ("ppo_clip", "ppo_clip", 0.0, False, 0.2, 0.0, False),
    ("reinforce", "reinforce", 0.0, True, 0.2, 0.0, False),
]

groups = []
for g in range(12):
    k = int(rng.integers(2, 6))
    answers = []
    for _ in range(k):
        T = int(rng.integers(1, 15))
        logp = -rng.exponential(1.5, T)
        behav = logp + rng.normal(0, 0.4, T)  # ratios well inside and outside the clip range
        seg = rng.choice([ITER - 2, ITER - 1, ITER], T).astype(np.int32)
        seg[-1] = ITER
        reward = float(rng.choice([0.0, 1.0, 0.5, -0.25]))
        answers.append((logp.astype(np.float32), behav.astype(np.float32), seg, reward))
    if g == 0:  # a group whose rewards are all equal (zero advantage)
        answers = [(a[0], a[1], a[2], 1.0) for a in answers]
    groups.append(answers)


def group_loss(case, answers):
    _, algo, tau, token_norm, eps, beta, latest = case
    k = len(answers)
    r = torch.tensor([a[3] for a in answers], dtype=torch.float64)
    rbar = r.mean()
    lps = [torch.tensor(a[0], dtype=torch.float64, requires_grad=True) for a in answers]
    total = torch.zeros((), dtype=torch.float64)
    report = torch.zeros((), dtype=torch.float64)
    if algo in ("grpo", "ppo_clip"):
        adv = (r - rbar) / (r.std(unbiased=False) + 1e-4) if algo == "grpo" else r - rbar
    for j, (lp, a) in enumerate(zip(lps, answers)):
        b = torch.tensor(a[1], dtype=torch.float64)
        mask = torch.tensor(a[2] == ITER) if latest else torch.ones(len(a[0]), dtype=torch.bool)
        n = int(mask.sum())
        if algo in ("grpo", "ppo_clip"):
            ratio = torch.exp(lp - b)
            obj = torch.minimum(ratio * adv[j], torch.clamp(ratio, 1 - eps, 1 + eps) * adv[j])
            k3 = torch.exp(b - lp) - (b - lp) - 1
            per_tok = (-obj + beta * k3)[mask]
            term = per_tok.sum() / (k * n) if n else lp.sum() * 0
            total = total + term
            report = report + term.detach()
        else:
            norm = 1.0 / n if (token_norm and n) else 1.0
            S = lp[mask].sum() * norm
            Sb = b[mask].sum() * norm
            adv_j = r[j] - rbar
            if algo == "k15":
                # the gradient prescribed by DESIGN.md, as the gradient of this surrogate
                total = total + (-adv_j * S + tau / 2 * (S - Sb) ** 2) / k
                report = report + ((adv_j - tau * (S - Sb)) ** 2 / k).detach()
            else:
                total = total + (-adv_j * S) / k
                report = report + (-adv_j * S / k).detach()
    total.backward()
    return float(report), [lp.grad.numpy().astype(np.float32) for lp in lps]


with h5py.File(sys.argv[1], "w") as f:
    flat = lambda i: np.concatenate([a[i] for g in groups for a in g])
    f["logp"], f["behav"], f["seg_iter"] = flat(0), flat(1), flat(2)
    f["reward"] = np.array([a[3] for g in groups for a in g])
    f["answer_len"] = np.array([len(a[0]) for g in groups for a in g], dtype=np.int32)
    f["group_size"] = np.array([len(g) for g in groups], dtype=np.int32)
    f.attrs["iteration"] = ITER
    f.attrs["k1rl_format"] = "fixture/1"
    for case in CASES:
        name, algo, tau, token_norm, eps, beta, latest = case
        out = f.create_group(name)
        out.attrs["algorithm"] = algo
        out.attrs["tau"], out.attrs["clip_eps"], out.attrs["kl_coef"] = tau, eps, beta
        out.attrs["token_norm"], out.attrs["latest_only"] = int(token_norm), int(latest)
        losses, grads = [], []
        for g in groups:
            loss, gr = group_loss(case, g)
            losses.append(loss)
            grads.extend(gr)
        out["loss"] = np.array(losses)
        out["grad"] = np.concatenate(grads)
