#!/usr/bin/env python3
# Reference logits and greedy generations of SmolLM2-135M-Instruct from transformers (eager
# PyTorch, float32) on the weights transformers itself reads from the GGUF (hf_reference.py).
# Writes model-cases.h5: 10 prompts with their logits at every position, and 3 chat prompts with
# the 64 tokens greedy decoding produces (not stopping at <|im_end|>, so all 64 are compared).   Usage: make-model-fixture.py MODEL.gguf OUT_DIR
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_reference import PROMPTS, chat_prompt, reference_model, reference_tokenizer  # noqa: E402

torch.set_num_threads(2)
gguf_path, out = sys.argv[1:3]
model = reference_model(gguf_path)
tok = reference_tokenizer(out)
ids = [tok.encode(p, add_special_tokens=False) for p in PROMPTS]
chats = ["What is the capital of France?", "Write a haiku about the sea.", "What is 12 + 30?"]
chat_ids = [tok.encode(chat_prompt(tok, c), add_special_tokens=False) for c in chats]
model.generation_config.eos_token_id = None
with torch.no_grad():
    logits = [model(torch.tensor([i])).logits[0].numpy() for i in ids]
    gens = []
    for c in chat_ids:
        x = torch.tensor([c])  # an explicit mask: the prompt holds <|im_end|>, which is also pad
        g = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=64, do_sample=False,
                           pad_token_id=2)
        gens.append(g[0, len(c):].numpy().astype(np.int32))


def ragged(h, name, rows, dtype):
    h.create_dataset(name, data=np.concatenate([np.asarray(r, dtype=dtype).reshape(-1) for r in rows]))
    h.create_dataset(name + "_offsets", data=np.cumsum([0] + [len(r) for r in rows]).astype(np.int64))


tmp = os.path.join(out, "model-cases.h5.part")
with h5py.File(tmp, "w") as h:
    h.attrs["k1rl_format"] = np.bytes_("byom-model-fixture/1")
    ragged(h, "prompt_ids", ids, np.int32)
    h.create_dataset("logits", data=np.concatenate(logits).astype(np.float32))
    ragged(h, "chat_ids", chat_ids, np.int32)
    ragged(h, "greedy", gens, np.int32)
os.replace(tmp, os.path.join(out, "model-cases.h5"))
for c, g in zip(chats, gens):
    print("%r -> %r" % (c, tok.decode(g)))
print("model fixture: %d prompts, %d logit rows, %d greedy runs -> %s" % (len(ids), sum(map(len, ids)), len(gens), out))
