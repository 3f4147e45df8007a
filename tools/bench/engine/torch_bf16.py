#!/usr/bin/env python3
# PyTorch autocast bf16 reference for tools/bench/engine/bench-bf16.cpp: torch_engine.py's model,
# trained with its forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (float32
# master weights, AdamW(foreach=True)) and sampled from under autocast; the bf16 GEMM peak of
# torch.matmul on bf16 tensors. One JSON line per measurement.
# Usage: torch_bf16.py train S|M STEPS | gen B PROMPT NEW REPS | peak N
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_engine  # noqa: E402

_Float32Model = torch_engine.Model


class Autocast(torch.nn.Module):
    """torch_engine.Model whose forward runs under CPU autocast (bf16)."""

    def __init__(self, c, max_seq=512):
        super().__init__()
        self.m = _Float32Model(c, max_seq)

    def forward(self, *a, **k):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.m(*a, **k).float()


def peak(n):
    a = torch.randn(n, n).bfloat16()
    b = torch.randn(n, n).bfloat16()
    best = 0.0
    for r in range(4):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        dt = time.perf_counter() - t0
        if r > 0:
            best = max(best, 2.0 * n ** 3 / dt / 1e9)
    return dict(kind="peak", n=n, gflops=best)


def main():
    torch_engine.Model = Autocast  # torch_engine's benchmarks then build the autocast model
    a = sys.argv[1:]
    if a[:1] == ["train"] and len(a) == 3:
        print(json.dumps(torch_engine.bench_train(a[1], int(a[2]))), flush=True)
    elif a[:1] == ["gen"] and len(a) == 5:
        print(json.dumps(torch_engine.bench_gen(int(a[1]), int(a[2]), int(a[3]), int(a[4]))),
              flush=True)
    elif a[:1] == ["peak"] and len(a) == 2:
        print(json.dumps(peak(int(a[1]))), flush=True)
    else:
        sys.exit("usage: torch_bf16.py train S|M STEPS | gen BATCH PROMPT NEW REPS | peak N")


if __name__ == "__main__":
    main()
