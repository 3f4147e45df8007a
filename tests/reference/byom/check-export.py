#!/usr/bin/env python3
# Export round trip: a folder written by `k1rl-convert --to DIR` must load in transformers
# (from_pretrained) with exactly the tensors transformers itself reads from the GGUF, give the same
# logits, and its tokenizer files must tokenise like the reference tokenizer.
# Usage: check-export.py MODEL.gguf EXPORT_DIR FIXTURES_DIR
import sys

import h5py
import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from hf_reference import PROMPTS, reference_model, reference_tokenizer  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(2)
gguf_path, export_dir, fixtures = sys.argv[1:4]
ref = reference_model(gguf_path)
ours = AutoModelForCausalLM.from_pretrained(export_dir, torch_dtype=torch.float32).eval()
assert type(ours).__name__ == "LlamaForCausalLM", type(ours).__name__
rs, os_ = ref.state_dict(), ours.state_dict()
assert set(rs) == set(os_), set(rs) ^ set(os_)
worst = max(float((rs[k] - os_[k]).abs().max()) for k in rs)
print("export: %d tensors, largest weight difference from transformers' GGUF load %.3g" % (len(rs), worst))
assert worst == 0.0, worst

ref_tok = reference_tokenizer(fixtures)
tok = AutoTokenizer.from_pretrained(export_dir)
with h5py.File(fixtures + "/tokenizer-cases.h5", "r") as h:
    text, off = h["text"][:], h["text_offsets"][:]
texts = [bytes(text[off[k]:off[k + 1]]).decode() for k in range(len(off) - 1)]
bad = sum(tok.encode(t, add_special_tokens=False) != ref_tok.encode(t, add_special_tokens=False) for t in texts)
print("export: exported tokenizer differs from the reference on %d of %d strings" % (bad, len(texts)))
assert bad == 0
chat = [{"role": "user", "content": "What is 2+2?"}]
assert tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == \
    ref_tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
assert tok.eos_token_id == ref_tok.eos_token_id == 2 and ours.config.eos_token_id == 2

diff = 0.0
with torch.no_grad():
    for p in PROMPTS[:4]:
        ids = torch.tensor([ref_tok.encode(p)])
        diff = max(diff, float((ref(ids).logits - ours(ids).logits).abs().max()))
print("export: largest logit difference on 4 prompts %.3g" % diff)
assert diff == 0.0
print("export round trip OK")
