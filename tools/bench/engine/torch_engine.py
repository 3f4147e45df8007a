#!/usr/bin/env python3
# PyTorch reference for tools/bench/engine: the same LLaMA-style decoder as lib/model, trained
# (forward + backward + AdamW) and sampled from (prefill + KV-cache decode, multinomial sampling)
# at the shapes of DESIGN.md. Prints one JSON line per measurement. Given its best chance as a
# careful user would: the driver's thread count (OMP_NUM_THREADS), inference_mode, a preallocated
# KV cache, fused q/k/v and gate/up projections, AdamW(foreach=True). Each line carries the timed
# region's getrusage ("rusage": user/system seconds, minor/major page faults).
# Usage: torch_engine.py train S|M STEPS | gen B PROMPT NEW REPS
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as Fn

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))


def rusage_since(r0, t0):
    r = resource.getrusage(resource.RUSAGE_SELF)
    return dict(wall_s=time.perf_counter() - t0, user_s=r.ru_utime - r0.ru_utime,
                sys_s=r.ru_stime - r0.ru_stime, minflt=r.ru_minflt - r0.ru_minflt,
                majflt=r.ru_majflt - r0.ru_majflt)

SHAPES = {
    "S": dict(layers=4, dim=256, heads=8, kv_heads=8, ffn_dim=688, vocab=512, seq=256, batch=16),
    "M": dict(layers=12, dim=768, heads=12, kv_heads=12, ffn_dim=2048, vocab=50257, seq=256, batch=4),
}


def rms_norm(x, w, eps=1e-5):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Model(torch.nn.Module):
    def __init__(self, c, max_seq=512):
        super().__init__()
        self.c = c
        C, H, F, V = c["dim"], c["heads"], c["ffn_dim"], c["vocab"]
        D = C // H
        self.embed = torch.nn.Parameter(torch.randn(V, C) * 0.02)
        self.blocks = torch.nn.ModuleList()
        for _ in range(c["layers"]):
            b = torch.nn.Module()
            b.ln1 = torch.nn.Parameter(torch.ones(C))
            b.wqkv = torch.nn.Parameter(torch.randn(3 * H * D, C) * 0.02)
            b.wo = torch.nn.Parameter(torch.randn(C, H * D) * 0.02)
            b.ln2 = torch.nn.Parameter(torch.ones(C))
            b.wgu = torch.nn.Parameter(torch.randn(2 * F, C) * 0.02)
            b.wd = torch.nn.Parameter(torch.randn(C, F) * 0.02)
            self.blocks.append(b)
        self.norm = torch.nn.Parameter(torch.ones(C))
        inv = 1.0 / (10000.0 ** (torch.arange(0, D, 2).float() / D))
        ang = torch.arange(max_seq).float()[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], -1))
        self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], -1))

    def rope(self, x, pos):  # x [B, H, T, D]
        half = x.shape[-1] // 2
        cos, sin = self.cos[pos], self.sin[pos]
        return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin

    def forward(self, tok, cache=None, start=0):
        B, T = tok.shape
        C, H, F = self.c["dim"], self.c["heads"], self.c["ffn_dim"]
        D = C // H
        pos = torch.arange(start, start + T)
        x = self.embed[tok]
        for l, b in enumerate(self.blocks):
            h = rms_norm(x, b.ln1)
            q, k, v = (h @ b.wqkv.T).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
            q, k = self.rope(q, pos), self.rope(k, pos)
            if cache is not None:
                kc, vc = cache[l]
                kc[:, :, start:start + T] = k
                vc[:, :, start:start + T] = v
                k, v = kc[:, :, :start + T], vc[:, :, :start + T]
            s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
            if T > 1:
                mask = torch.ones(T, start + T, dtype=torch.bool).tril(diagonal=start)
                s = s.masked_fill(~mask, float("-inf"))
            o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, C)
            x = x + o @ b.wo.T
            h = rms_norm(x, b.ln2)
            g, u = (h @ b.wgu.T).split(F, -1)
            x = x + (Fn.silu(g) * u) @ b.wd.T
        return rms_norm(x, self.norm) @ self.embed.T


def bench_train(shape, steps):
    c = SHAPES[shape]
    torch.manual_seed(0)
    m = Model(c)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.1, foreach=True)
    tok = torch.randint(0, c["vocab"], (c["batch"], c["seq"] + 1))
    x, y = tok[:, :-1], tok[:, 1:]

    def step():
        logits = m(x)
        loss = Fn.cross_entropy(logits.reshape(-1, c["vocab"]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    t0, c0, r0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(steps):
        step()
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    tokens = steps * c["batch"] * c["seq"]
    return dict(kind="train", shape=shape, tokens_per_s=tokens / dt, seconds_per_step=dt / steps,
                cpu_us_per_token=1e6 * dc / tokens, rusage=rusage_since(r0, t0))


@torch.inference_mode()
def bench_gen(batch, prompt, new, reps, shape="S"):
    c = SHAPES[shape]
    torch.manual_seed(0)
    m = Model(c, max_seq=prompt + new)
    H, D = c["heads"], c["dim"] // c["heads"]
    best, cpu_us = 0.0, 0.0
    r0, w0 = None, 0.0
    for r in range(reps + 1):  # first run is a warm-up
        if r == 1:
            r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        tok = torch.randint(0, c["vocab"], (batch, prompt))
        cache = [(torch.empty(batch, H, prompt + new, D), torch.empty(batch, H, prompt + new, D))
                 for _ in range(c["layers"])]
        t0, c0 = time.perf_counter(), time.process_time()
        logits = m(tok, cache, 0)[:, -1]
        pos = prompt
        for _ in range(new):
            nxt = torch.multinomial(torch.softmax(logits, -1), 1)
            if pos == prompt + new - 1:
                break
            logits = m(nxt, cache, pos)[:, -1]
            pos += 1
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if r > 0 and batch * new / dt > best:
            best, cpu_us = batch * new / dt, 1e6 * dc / (batch * new)
    return dict(kind="gen", batch=batch, tokens_per_s=best, cpu_us_per_token=cpu_us,
                rusage=rusage_since(r0, w0))


def main():
    a = sys.argv[1:]
    if a[:1] == ["train"] and len(a) == 3:
        print(json.dumps(bench_train(a[1], int(a[2]))), flush=True)
    elif a[:1] == ["gen"] and len(a) == 5:
        print(json.dumps(bench_gen(int(a[1]), int(a[2]), int(a[3]), int(a[4]))), flush=True)
    else:
        sys.exit("usage: torch_engine.py train S|M STEPS | gen BATCH PROMPT NEW REPS")


if __name__ == "__main__":
    main()
