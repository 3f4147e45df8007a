#!/usr/bin/env python3
# PyTorch eager reference for tools/bench/byom: SmolLM2-135M-Instruct in transformers (float32,
# the GGUF's weights as transformers reads them), greedy generate() with its KV cache, 2 threads,
# inference_mode. Prints one JSON line per batch size with tokens_per_s and the first row's tokens.
# Usage: torch_byom.py MODEL.gguf PROMPT_IDS(comma-separated) NEW_TOKENS BATCH [BATCH ...]
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tests/reference/byom"))
from hf_reference import reference_model  # noqa: E402

torch.set_num_threads(2)
gguf_path, prompt, new = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3])
model = reference_model(gguf_path)
model.generation_config.eos_token_id = None
for b in map(int, sys.argv[4:]):
    x = torch.tensor([prompt] * b)
    best, toks = 0.0, None
    for rep in range(2 if b == 1 else 1):
        with torch.inference_mode():
            t0 = time.perf_counter()
            g = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new, do_sample=False, pad_token_id=0)
            dt = time.perf_counter() - t0
        n = (g.shape[1] - len(prompt)) * b
        best = max(best, n / dt)
        toks = g[0, len(prompt):].tolist()
    print(json.dumps({"batch": b, "tokens_per_s": best, "tokens": toks}), flush=True)
