#!/usr/bin/env python3
# PyTorch autocast reference for lib/model under engine.precision = bf16 (issue 14): the model of
# model_reference.py run once in float32 and once under torch.autocast("cpu", dtype=bfloat16)
# with k1rl's precision policy (the linear layers in bf16; attention, norms, softmax, loss and
# the residual stream in float32), writing weights, inputs, logits, per-token log-probs and
# entropies and every gradient of both runs to HDF5. Usage: model_reference_bf16.py OUT.h5
# (ctest fixture of test_model_bf16; Debian's python3-torch 1.13 and h5py).
import math
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_reference import make_params, param_names, rms_norm, rope  # noqa: E402

torch.set_num_threads(1)


def forward(P, cfg, tokens, cu, bf16):
    """model_reference.forward, with the linear layers under autocast when bf16."""
    N, C, H, Hkv = len(tokens), cfg["dim"], cfg["heads"], cfg["kv_heads"]
    D, G, eps = C // H, H // Hkv, cfg["norm_eps"]
    seq = torch.zeros(N, dtype=torch.long)
    pos = torch.zeros(N, dtype=torch.long)
    for b in range(len(cu) - 1):
        seq[cu[b]:cu[b + 1]] = b
        pos[cu[b]:cu[b + 1]] = torch.arange(cu[b + 1] - cu[b])
    idx = torch.arange(N)
    allowed = (seq[:, None] == seq[None, :]) & (idx[None, :] <= idx[:, None])

    def lin(x, w):  # a linear layer: bf16 under autocast, its output back in float32
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return (x @ w.T).float()

    x = P["model.embed_tokens.weight"][torch.tensor(tokens, dtype=torch.long)]
    for l in range(cfg["layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        qkv = []
        for w in ("q", "k", "v"):
            y = lin(h, P[p + f"self_attn.{w}_proj.weight"])
            if cfg["qkv_bias"]:
                y = y + P[p + f"self_attn.{w}_proj.bias"]
            qkv.append(y)
        q = rope(qkv[0].view(N, H, D), pos, cfg["rope_theta"])
        k = rope(qkv[1].view(N, Hkv, D), pos, cfg["rope_theta"]).repeat_interleave(G, dim=1)
        v = qkv[2].view(N, Hkv, D).repeat_interleave(G, dim=1)
        s = torch.einsum("nhd,mhd->hnm", q, k) / math.sqrt(D)
        s = s.masked_fill(~allowed[None], float("-inf"))
        o = torch.einsum("hnm,mhd->nhd", torch.softmax(s, -1), v).reshape(N, H * D)
        x = x + lin(o, P[p + "self_attn.o_proj.weight"])
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(lin(h, P[p + "mlp.gate_proj.weight"]))
        x = x + lin(g * lin(h, P[p + "mlp.up_proj.weight"]), P[p + "mlp.down_proj.weight"])
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight" if cfg["tie_embeddings"] else "lm_head.weight"]
    return lin(x, head)


def run(P, cfg, tokens, cu, valid, wlp, went, bf16):
    for t in P.values():
        t.grad = None
    N = len(tokens)
    logits = forward(P, cfg, tokens, cu, bf16)
    logp_all = torch.log_softmax(logits, -1)
    ent_all = -(logp_all.exp() * logp_all).sum(-1)
    tok = torch.tensor(tokens, dtype=torch.long)
    vi = valid.nonzero().flatten()
    logprob = torch.zeros(N).index_put((vi,), logp_all[vi - 1, tok[vi]])
    entropy = torch.zeros(N).index_put((vi,), ent_all[vi - 1])
    loss = (wlp * logprob + went * entropy)[valid].sum()
    loss.backward()
    return dict(logits=logits.detach().numpy(), logprob=logprob.detach().numpy(),
                entropy=entropy.detach().numpy(), loss=np.array([loss.item()]),
                grads={n: P[n].grad.detach().numpy().copy() for n in param_names(cfg)})


def run_case(grp, cfg, seed, lens):
    gen = torch.Generator().manual_seed(seed)
    P = make_params(cfg, gen)
    for n, t in P.items():  # the scale of a trained model's weights: N(0, 0.02)-like matrices
        if t.dim() == 2:
            t.data.mul_(cfg["weight_scale"] / 0.2)
    cu = [0]
    for n in lens:
        cu.append(cu[-1] + n)
    N = cu[-1]
    tokens = torch.randint(0, cfg["vocab"], (N,), generator=gen).tolist()
    mask = (torch.rand(N, generator=gen) < 0.7).to(torch.uint8)
    first = torch.zeros(N, dtype=torch.bool)
    first[cu[:-1]] = True
    valid = mask.bool() & ~first
    wlp = torch.randn(N, generator=gen)
    went = torch.randn(N, generator=gen)
    f32 = run(P, cfg, tokens, cu, valid, wlp, went, False)
    b16 = run(P, cfg, tokens, cu, valid, wlp, went, True)
    for k, v in cfg.items():
        if k == "weight_scale":
            continue
        grp.attrs["model." + k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    grp["tokens"] = np.array(tokens, dtype=np.int32)
    grp["cu"] = np.array(cu, dtype=np.int32)
    grp["mask"] = mask.numpy()
    grp["wlp"] = wlp.numpy()
    grp["went"] = went.numpy()
    for n in param_names(cfg):
        grp["params/" + n] = P[n].detach().numpy()
    for tag, r in (("fp32", f32), ("autocast", b16)):
        for k in ("logits", "logprob", "entropy", "loss"):
            grp[f"{tag}/{k}"] = r[k]
        for n, g in r["grads"].items():
            grp[f"{tag}/grads/{n}"] = g


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: model_reference_bf16.py OUT.h5")
    small = dict(vocab=259, dim=64, layers=2, heads=4, kv_heads=2, ffn_dim=176, rope_theta=10000.0,
                 norm_eps=1e-5, max_seq=128, tie_embeddings=False, qkv_bias=True, weight_scale=0.05)
    cases = {"small_gqa_bias_untied": (small, 3, [17, 40, 1, 9]),
             "wide_mha_tied": (dict(small, dim=256, heads=8, kv_heads=8, ffn_dim=688, vocab=512,
                                    tie_embeddings=True, qkv_bias=False, weight_scale=0.02),
                               4, [64, 33, 31])}
    with h5py.File(sys.argv[1], "w") as f:
        f.attrs["k1rl_format"] = "reference/1"
        f.attrs["torch_version"] = str(torch.__version__)
        for name, (cfg, seed, lens) in cases.items():
            run_case(f.create_group(name), cfg, seed, lens)


if __name__ == "__main__":
    main()
