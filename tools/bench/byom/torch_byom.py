#!/usr/bin/env python3
# PyTorch eager reference for tools/bench/byom: SmolLM2-135M-Instruct in transformers (float32,
# the GGUF's weights as transformers reads them), greedy generate() with its KV cache,
# inference_mode, the driver's thread count (OMP_NUM_THREADS). Prints one JSON line per batch
# size with tokens_per_s, the first row's tokens and the timed region's getrusage ("rusage").
# Usage: torch_byom.py MODEL.gguf PROMPT_IDS(comma-separated) NEW_TOKENS BATCH [BATCH ...]
import functools
import json
import os
import resource
import sys
import time

import torch
import tqdm
import transformers

# No progress bar from the GGUF loader (its tqdm): quiet output without touching the environment.
tqdm.tqdm.__init__ = functools.partialmethod(tqdm.tqdm.__init__, disable=True)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tests/reference/byom"))
from hf_reference import reference_model  # noqa: E402

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
transformers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
gguf_path, prompt, new = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3])
model = reference_model(gguf_path)
model.generation_config.eos_token_id = None
for b in map(int, sys.argv[4:]):
    x = torch.tensor([prompt] * b)
    best, toks = 0.0, None
    r0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for rep in range(2 if b == 1 else 1):
        with torch.inference_mode():
            t0 = time.perf_counter()
            g = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new, do_sample=False, pad_token_id=0)
            dt = time.perf_counter() - t0
        n = (g.shape[1] - len(prompt)) * b
        best = max(best, n / dt)
        toks = g[0, len(prompt):].tolist()
    r = resource.getrusage(resource.RUSAGE_SELF)
    use = dict(wall_s=time.perf_counter() - w0, user_s=r.ru_utime - r0.ru_utime, sys_s=r.ru_stime - r0.ru_stime,
               minflt=r.ru_minflt - r0.ru_minflt, majflt=r.ru_majflt - r0.ru_majflt)
    print(json.dumps({"batch": b, "tokens_per_s": best, "tokens": toks, "rusage": use}), flush=True)
