#!/usr/bin/env python3
# PyTorch eager reference for tools/bench/byom, kept running so that its runs interleave with
# k1rl's: SmolLM2-135M-Instruct in transformers (float32, the GGUF's weights as transformers reads
# them), greedy generate() with its KV cache, inference_mode, the driver's thread count
# (OMP_NUM_THREADS). Prints {"ready": true} once loaded, then answers each request line
#   BATCH NEW_TOKENS PROMPT_IDS(comma-separated)
# with one JSON line: the call's wall seconds, every row's new tokens, and its getrusage; and
#   train BATCH SEQ TOKEN_IDS(BATCH*SEQ, comma-separated)
# with one training step on that packed batch (train mode, labels = the inputs shifted, as a TRL
# or Trainer user runs it: forward, backward, clip_grad_norm_ 1.0, AdamW(foreach=True) with the
# RL config's lr 1e-5, betas (0.9, 0.95), no weight decay; the optimizer is built by the first
# call of a row): its seconds, the loss of its forward and its getrusage; train_bf16 the same
# with the forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (float32 master
# weights); the first step of each row (train_new, train_bf16_new) starts a fresh optimizer, as
# each row of ours does. Training changes the weights, so the
# driver sends train requests after every generate request.
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
opt = None


def train_step(b, t, ids, bf16=False, fresh=False):
    global opt
    if opt is None or fresh:
        model.train()
        model.config.use_cache = False
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.0,
                                foreach=True)
    x = torch.tensor([int(v) for v in ids.split(",")]).view(b, t)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model(input_ids=x, labels=x, use_cache=False).loss.float()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    dt = time.perf_counter() - t0
    r = resource.getrusage(resource.RUSAGE_SELF)
    use = dict(wall_s=dt, user_s=r.ru_utime - r0.ru_utime, sys_s=r.ru_stime - r0.ru_stime,
               minflt=r.ru_minflt - r0.ru_minflt, majflt=r.ru_majflt - r0.ru_majflt)
    return {"seconds": dt, "loss": loss.item(), "rusage": use}


for line in sys.stdin:
    if not line.strip():
        continue
    if line.startswith("train"):
        kind, b, t, ids = line.split()
        fresh = kind.endswith("_new")
        kind = kind.removesuffix("_new")
        print(json.dumps(train_step(int(b), int(t), ids, kind == "train_bf16", fresh)), flush=True)
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
