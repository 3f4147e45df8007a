#!/usr/bin/env python3
# Tiny GGUF models written with gguf-py for the importer's tests: a 2-layer llama whose tensors use
# every supported type (F32, F16, BF16, Q8_0, Q4_0, Q4_1), and a 2-layer qwen2 (q/k/v biases, no
# permutation, Qwen2 pre-tokenizer), each with the tensors transformers' own GGUF loader makes of it (names, reverse q/k permutation; gguf-py dequantisation) as the expected
# result; and three files that must be refused (a Q5_0 tensor, architecture gemma, a missing tensor).
# Usage: make-tiny-gguf.py OUT_DIR
import os
import sys

import gguf
import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_reference import _dequant  # noqa: E402
import transformers.modeling_gguf_pytorch_utils as gguf_utils  # noqa: E402

Q = gguf.GGMLQuantizationType
DIM, HEADS, KV, FFN, LAYERS = 64, 4, 2, 128, 2


def byte_tokens():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    m = dict(zip(bs, cs))
    toks = [chr(m[b]) for b in range(256)]
    merges = ["Ġ t", "h e", "Ġt he"]
    toks += ["Ġt", "he", "Ġthe", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    return toks, merges


def write(path, arch="llama", types=None, skip=(), pre="smollm"):
    rng = np.random.default_rng(5)
    w = gguf.GGUFWriter(path, arch)
    toks, merges = byte_tokens()
    vocab = len(toks)
    w.add_name("tiny")
    w.add_block_count(LAYERS)
    w.add_context_length(256)
    w.add_embedding_length(DIM)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(DIM // HEADS)
    w.add_vocab_size(vocab)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(toks)
    w.add_token_types([3 if t.startswith("<|") else 1 for t in toks])
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab - 2)
    w.add_eos_token_id(vocab - 1)
    types = types or {}

    def tensor(name, shape, default):
        if name in skip:
            return
        x = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        t = types.get(name.split(".")[-2] if name.startswith("blk") else name, default)
        if t == Q.F32:
            w.add_tensor(name, x)
        elif t == Q.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(x, t), raw_dtype=t)

    tensor("token_embd.weight", (vocab, DIM), Q.BF16)
    hd = DIM // HEADS
    plan = {"attn_q": (HEADS * hd, DIM, Q.Q4_0), "attn_k": (KV * hd, DIM, Q.Q4_1),
            "attn_v": (KV * hd, DIM, Q.Q8_0), "attn_output": (DIM, HEADS * hd, Q.F16),
            "ffn_gate": (FFN, DIM, Q.Q4_1), "ffn_up": (FFN, DIM, Q.Q4_0), "ffn_down": (DIM, FFN, Q.Q8_0)}
    for l in range(LAYERS):
        tensor("blk.%d.attn_norm.weight" % l, (DIM,), Q.F32)
        tensor("blk.%d.ffn_norm.weight" % l, (DIM,), Q.F32)
        for k, (r, c, t) in plan.items():
            tensor("blk.%d.%s.weight" % (l, k), (r, c), t)
        if arch == "qwen2":  # Qwen2 has q/k/v biases
            for k in ("attn_q", "attn_k", "attn_v"):
                tensor("blk.%d.%s.bias" % (l, k), (plan[k][0],), Q.F32)
    tensor("output_norm.weight", (DIM,), Q.F32)
    tensor("output.weight", (vocab, DIM), Q.F16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write(out + "/tiny-llama.gguf")
    write(out + "/tiny-q5_0.gguf", types={"ffn_up": Q.Q5_0})
    write(out + "/tiny-gemma.gguf", arch="gemma")
    write(out + "/tiny-missing.gguf", skip=("blk.1.ffn_down.weight",))
    write(out + "/tiny-qwen2.gguf", arch="qwen2", pre="qwen2")
    gguf_utils.load_dequant_gguf_tensor = _dequant
    for name in ("tiny-qwen2", "tiny-llama"):  # tiny-llama-expected.h5 last: the freshness stamp
        parsed = gguf_utils.load_gguf_checkpoint(out + "/%s.gguf" % name, return_tensors=True)
        with h5py.File(out + "/%s-expected.h5.part" % name, "w") as h:
            h.attrs["k1rl_format"] = np.bytes_("byom-tiny-fixture/1")
            for t_name, t in parsed["tensors"].items():
                h.create_dataset(t_name, data=t.float().numpy())
        os.replace(out + "/%s-expected.h5.part" % name, out + "/%s-expected.h5" % name)
        print("tiny GGUF fixture %s: %d tensors -> %s" % (name, len(parsed["tensors"]), out))


if __name__ == "__main__":
    main()
