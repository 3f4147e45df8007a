#!/usr/bin/env python3
# PyTorch eager reference for tools/bench/byom, kept running so that its runs interleave with
# k1rl's: SmolLM2-135M-Instruct in transformers (float32, the GGUF's weights as transformers reads
# them), greedy generate() with its KV cache, inference_mode, the driver's thread count
# (OMP_NUM_THREADS). Prints {"ready": true} once loaded, then answers each request line
#   BATCH NEW_TOKENS PROMPT_IDS(comma-separated)
# with one JSON line: the call's wall seconds, every row's new tokens, and its getrusage.
# Usage: torch_byom.py MODEL.gguf   (requests on stdin)
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
model = reference_model(sys.argv[1])
model.generation_config.eos_token_id = None
print(json.dumps({"ready": True, "torch": torch.__version__, "transformers": transformers.__version__,
                  "threads": torch.get_num_threads()}), flush=True)
for line in sys.stdin:
    if not line.strip():
        continue
    b, new, ids = line.split()
    b, new, prompt = int(b), int(new), [int(x) for x in ids.split(",")]
    x = torch.tensor([prompt] * b)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    with torch.inference_mode():
        g = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=new, do_sample=False,
                           use_cache=True, pad_token_id=0)
    dt = time.perf_counter() - t0
    r = resource.getrusage(resource.RUSAGE_SELF)
    use = dict(wall_s=dt, user_s=r.ru_utime - r0.ru_utime, sys_s=r.ru_stime - r0.ru_stime,
               minflt=r.ru_minflt - r0.ru_minflt, majflt=r.ru_majflt - r0.ru_majflt)
    print(json.dumps({"batch": b, "seconds": dt, "tokens": g[:, len(prompt):].tolist(), "rusage": use}),
          flush=True)
