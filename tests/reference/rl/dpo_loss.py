#!/usr/bin/env python3
"""PyTorch reference for k1rl's DPO loss (issue 15, DESIGN.md long2short), written independently
of the C++ code: random chosen/rejected pairs with per-token log-probs under the policy and the
reference go in; per-pair losses -log sigmoid(beta*((S_w - R_w) - (S_l - R_l))) and autograd
gradients with respect to every answer token's log-prob come out, in an HDF5 fixture read by
test-dpo-reference.cpp. Usage: dpo_loss.py OUT.h5"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(1)
PAIRS = 24
BETAS = [0.1, 0.5, 3.0]  # the default, and larger ones whose margins saturate the sigmoid

pairs = []
for _ in range(PAIRS):
    tw, tl = int(rng.integers(1, 20)), int(rng.integers(1, 40))
    lw = -rng.exponential(1.0, tw)
    ll = -rng.exponential(1.0, tl)
    # reference log-probs: near the policy's, so margins of both signs occur
    rw = float((lw + rng.normal(0, 0.5, tw)).sum())
    rl = float((ll + rng.normal(0, 0.5, tl)).sum())
    pairs.append((lw.astype(np.float32), ll.astype(np.float32), rw, rl))

with h5py.File(sys.argv[1], "w") as f:
    f.attrs["k1rl_format"] = "fixture/1"
    f["logp_w"] = np.concatenate([p[0] for p in pairs])
    f["logp_l"] = np.concatenate([p[1] for p in pairs])
    f["len_w"] = np.array([len(p[0]) for p in pairs], dtype=np.int32)
    f["len_l"] = np.array([len(p[1]) for p in pairs], dtype=np.int32)
    f["ref_w"] = np.array([p[2] for p in pairs])
    f["ref_l"] = np.array([p[3] for p in pairs])
    for i, beta in enumerate(BETAS):
        g = f.create_group(f"beta{i}")
        g.attrs["beta"] = beta
        losses, gw, gl = [], [], []
        for lw, ll, rw, rl in pairs:
            w = torch.tensor(lw, dtype=torch.float64, requires_grad=True)
            l = torch.tensor(ll, dtype=torch.float64, requires_grad=True)
            margin = (w.sum() - rw) - (l.sum() - rl)
            loss = -F.logsigmoid(beta * margin)
            loss.backward()
            losses.append(float(loss))
            gw.append(w.grad.numpy())
            gl.append(l.grad.numpy())
        g["loss"] = np.array(losses)
        g["grad_w"] = np.concatenate(gw)
        g["grad_l"] = np.concatenate(gl)
