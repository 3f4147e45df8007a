#!/usr/bin/env python3
# PyTorch reference for lib/model (issue 3): builds the LLaMA/Qwen2 decoder from its formulas in
# plain torch (float32), runs a packed batch of variable-length sequences, and writes to HDF5 the
# weights, inputs, logits, per-token log-probs and entropies, the loss, every parameter gradient
# and the parameters after one clipped AdamW step. Usage: model_reference.py OUT.h5
# (ctest runs it as the fixture of test_model_reference; needs Debian's python3-torch and h5py).
import math
import sys

import h5py
import numpy as np
import torch

torch.set_num_threads(1)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, pos, theta):
    """Hugging Face rotate_half convention; angles in float64 (then rounded) on both sides."""
    d = x.shape[-1]
    half = d // 2
    inv = 1.0 / (theta ** (torch.arange(0, half, dtype=torch.float64) * 2.0 / d))
    ang = pos.double()[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1).float()[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1).float()[:, None, :]
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


def param_names(cfg):
    names = ["model.embed_tokens.weight"]
    for l in range(cfg["layers"]):
        p = f"model.layers.{l}."
        names += [p + "input_layernorm.weight", p + "self_attn.q_proj.weight",
                  p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"]
        if cfg["qkv_bias"]:
            names += [p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias",
                      p + "self_attn.v_proj.bias"]
        names += [p + "self_attn.o_proj.weight", p + "post_attention_layernorm.weight",
                  p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"]
    names.append("model.norm.weight")
    if not cfg["tie_embeddings"]:
        names.append("lm_head.weight")
    return names


def make_params(cfg, gen):
    C, H, Hkv, F, V = cfg["dim"], cfg["heads"], cfg["kv_heads"], cfg["ffn_dim"], cfg["vocab"]
    D = C // H
    shapes = {"embed_tokens.weight": (V, C), "q_proj.weight": (H * D, C),
              "k_proj.weight": (Hkv * D, C), "v_proj.weight": (Hkv * D, C),
              "q_proj.bias": (H * D,), "k_proj.bias": (Hkv * D,), "v_proj.bias": (Hkv * D,),
              "o_proj.weight": (C, H * D), "gate_proj.weight": (F, C), "up_proj.weight": (F, C),
              "down_proj.weight": (C, F), "lm_head.weight": (V, C)}
    P = {}
    for n in param_names(cfg):
        if n.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(C, generator=gen)
        else:
            key = ".".join(n.split(".")[-2:])
            scale = 0.1 if key.endswith("bias") else 0.2
            t = scale * torch.randn(*shapes[key], generator=gen)
        P[n] = t.float().requires_grad_(True)
    return P


def forward(P, cfg, tokens, cu):
    N, C, H, Hkv = len(tokens), cfg["dim"], cfg["heads"], cfg["kv_heads"]
    D, G, eps = C // H, H // Hkv, cfg["norm_eps"]
    seq = torch.zeros(N, dtype=torch.long)
    pos = torch.zeros(N, dtype=torch.long)
    for b in range(len(cu) - 1):
        seq[cu[b]:cu[b + 1]] = b
        pos[cu[b]:cu[b + 1]] = torch.arange(cu[b + 1] - cu[b])
    idx = torch.arange(N)
    allowed = (seq[:, None] == seq[None, :]) & (idx[None, :] <= idx[:, None])
    x = P["model.embed_tokens.weight"][torch.tensor(tokens, dtype=torch.long)]
    for l in range(cfg["layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, P[p + "input_layernorm.weight"], eps)
        qkv = []
        for w in ("q", "k", "v"):
            y = h @ P[p + f"self_attn.{w}_proj.weight"].T
            if cfg["qkv_bias"]:
                y = y + P[p + f"self_attn.{w}_proj.bias"]
            qkv.append(y)
        q = rope(qkv[0].view(N, H, D), pos, cfg["rope_theta"])
        k = rope(qkv[1].view(N, Hkv, D), pos, cfg["rope_theta"]).repeat_interleave(G, dim=1)
        v = qkv[2].view(N, Hkv, D).repeat_interleave(G, dim=1)
        s = torch.einsum("nhd,mhd->hnm", q, k) / math.sqrt(D)
        s = s.masked_fill(~allowed[None], float("-inf"))
        o = torch.einsum("hnm,mhd->nhd", torch.softmax(s, -1), v).reshape(N, H * D)
        x = x + o @ P[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ P[p + "mlp.gate_proj.weight"].T)
        x = x + (g * (h @ P[p + "mlp.up_proj.weight"].T)) @ P[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight" if cfg["tie_embeddings"] else "lm_head.weight"]
    return x @ head.T


def run_case(grp, cfg, seed):
    gen = torch.Generator().manual_seed(seed)
    P = make_params(cfg, gen)
    lens = [7, 13, 1, 4]
    cu = [0]
    for n in lens:
        cu.append(cu[-1] + n)
    N = cu[-1]
    tokens = torch.randint(0, cfg["vocab"], (N,), generator=gen).tolist()
    mask = (torch.rand(N, generator=gen) < 0.7).to(torch.uint8)
    first = torch.zeros(N, dtype=torch.bool)
    first[cu[:-1]] = True
    valid = (mask.bool() & ~first)
    wlp = torch.randn(N, generator=gen)
    went = torch.randn(N, generator=gen)

    logits = forward(P, cfg, tokens, cu)
    logp_all = torch.log_softmax(logits, -1)
    ent_all = -(logp_all.exp() * logp_all).sum(-1)
    tok = torch.tensor(tokens, dtype=torch.long)
    logprob = torch.zeros(N)
    entropy = torch.zeros(N)
    vi = valid.nonzero().flatten()
    logprob = logprob.index_put((vi,), logp_all[vi - 1, tok[vi]])
    entropy = entropy.index_put((vi,), ent_all[vi - 1])
    loss = (wlp * logprob + went * entropy)[valid].sum()
    loss.backward()
    nll = -logprob[valid].mean()

    # One AdamW step with global-norm clipping; decay on matrices only.
    params = [P[n] for n in param_names(cfg)]
    total = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)).item()
    max_norm = 0.5 * total
    grads = {n: P[n].grad.detach().clone() for n in param_names(cfg)}
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    before = {n: P[n].detach().clone() for n in param_names(cfg)}
    opt.step()

    for k, v in cfg.items():
        grp.attrs["model." + k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    grp.attrs["adamw_lr"] = 1e-2
    grp.attrs["adamw_beta1"] = 0.9
    grp.attrs["adamw_beta2"] = 0.95
    grp.attrs["adamw_eps"] = 1e-8
    grp.attrs["adamw_weight_decay"] = 0.1
    grp.attrs["grad_clip"] = max_norm
    grp["tokens"] = np.array(tokens, dtype=np.int32)
    grp["cu"] = np.array(cu, dtype=np.int32)
    grp["mask"] = mask.numpy()
    grp["wlp"] = wlp.numpy()
    grp["went"] = went.numpy()
    grp["logits"] = logits.detach().numpy()
    grp["logprob"] = logprob.detach().numpy()
    grp["entropy"] = entropy.detach().numpy()
    grp["valid"] = valid.to(torch.uint8).numpy()
    grp["loss"] = np.array([loss.item()])
    grp["nll_mean"] = np.array([nll.item()])
    for n in param_names(cfg):
        grp["params/" + n] = before[n].numpy()
        grp["grads/" + n] = grads[n].numpy()
        grp["after/" + n] = P[n].detach().numpy()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: model_reference.py OUT.h5")
    base = dict(vocab=259, dim=32, layers=2, heads=4, kv_heads=2, ffn_dim=48, rope_theta=10000.0,
                norm_eps=1e-5, max_seq=64, tie_embeddings=False, qkv_bias=True)
    cases = {"gqa_bias_untied": (base, 1),
             "mha_tied": (dict(base, kv_heads=4, tie_embeddings=True, qkv_bias=False,
                               rope_theta=500000.0, norm_eps=1e-6, layers=3), 2)}
    with h5py.File(sys.argv[1], "w") as f:
        f.attrs["k1rl_format"] = "reference/1"
        f.attrs["torch_version"] = str(torch.__version__)
        for name, (cfg, seed) in cases.items():
            run_case(f.create_group(name), cfg, seed)


if __name__ == "__main__":
    main()
