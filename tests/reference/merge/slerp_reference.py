#!/usr/bin/env python3
"""numpy reference for k1rl-merge's slerp, written independently of the C++ code: two checkpoint/1
files of a tiny byte-level model (one layer, dim 16) with random tensors, plus tensors that test
the edge cases (parallel, zero, nearly opposite), and the expected slerp of each tensor at several
t, in an HDF5 fixture read by test-merge-reference.cpp.
Usage: slerp_reference.py OUT_DIR"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
MODEL = dict(vocab=259, dim=16, layers=1, heads=4, kv_heads=2, ffn_dim=32, rope_theta=10000,
             norm_eps=1e-05, max_seq=64, tie_embeddings="true", qkv_bias="false")
P = "model.layers.0."
SHAPES = {
    "model.embed_tokens.weight": (259, 16),
    P + "input_layernorm.weight": (16,),
    P + "self_attn.q_proj.weight": (16, 16),
    P + "self_attn.k_proj.weight": (8, 16),
    P + "self_attn.v_proj.weight": (8, 16),
    P + "self_attn.o_proj.weight": (16, 16),
    P + "post_attention_layernorm.weight": (16,),
    P + "mlp.gate_proj.weight": (32, 16),
    P + "mlp.up_proj.weight": (32, 16),
    P + "mlp.down_proj.weight": (16, 32),
    "model.norm.weight": (16,),
}
a = {n: rng.normal(0, 0.02, s).astype(np.float32) for n, s in SHAPES.items()}
b = {n: rng.normal(0, 0.02, s).astype(np.float32) for n, s in SHAPES.items()}
b[P + "input_layernorm.weight"] = (a[P + "input_layernorm.weight"] * 1.5).astype(np.float32)
b["model.norm.weight"] = np.zeros(16, np.float32)
b[P + "self_attn.o_proj.weight"] = (-a[P + "self_attn.o_proj.weight"] +
                                     rng.normal(0, 0.004, (16, 16))).astype(np.float32)
# A pair only partly aligned (cos ~0.8) so the slerp differs clearly from the linear mix.
b[P + "mlp.up_proj.weight"] = (a[P + "mlp.up_proj.weight"] +
                                rng.normal(0, 0.015, (32, 16))).astype(np.float32)


def slerp(t, v0, v1, dot_threshold=0.9995):
    """Spherical interpolation of two tensors seen as flat vectors (the usual model-merging form:
    the angle comes from the normalised vectors, the coefficients apply to the originals)."""
    x0, x1 = v0.astype(np.float64).ravel(), v1.astype(np.float64).ravel()
    n0, n1 = np.linalg.norm(x0), np.linalg.norm(x1)
    if n0 == 0 or n1 == 0:
        return ((1 - t) * x0 + t * x1).reshape(v0.shape)
    dot = np.dot(x0 / n0, x1 / n1)
    if abs(dot) > dot_threshold:
        return ((1 - t) * x0 + t * x1).reshape(v0.shape)
    theta = np.arccos(dot)
    s0 = np.sin((1 - t) * theta) / np.sin(theta)
    s1 = np.sin(t * theta) / np.sin(theta)
    return (s0 * x0 + s1 * x1).reshape(v0.shape)


def write_ckpt(path, params):
    with h5py.File(path, "w") as f:
        f.attrs["k1rl_format"] = "checkpoint/1"
        for k, v in MODEL.items():
            f.attrs["model." + k] = str(v)
        f.attrs["step"] = np.int64(0)
        f.attrs["iteration"] = np.int64(0)
        for n, x in params.items():
            f.create_dataset("params/" + n, data=x, fletcher32=True, chunks=True)


write_ckpt(os.path.join(out, "a.h5"), a)
write_ckpt(os.path.join(out, "b.h5"), b)
with h5py.File(os.path.join(out, "expected.h5"), "w") as f:
    f.attrs["k1rl_format"] = "fixture/1"
    ts = [0.0, 0.3, 0.5, 1.0]
    f["t"] = np.array(ts)
    for i, t in enumerate(ts):
        g = f.create_group(f"t{i}")
        for n in SHAPES:
            g[n] = slerp(t, a[n], b[n])
