#!/usr/bin/env python3
# Reference for the BPE tokenizer: builds SmolLM2's tokenizer with Hugging Face `tokenizers` from
# the GGUF's vocabulary and merges (BPE, Digits(individual_digits) + ByteLevel pre-tokenizer, as
# SmolLM2's tokenizer.json has), saves it as a Hugging Face folder, and writes a corpus of varied
# strings with HF's ids and chat prompts from transformers' apply_chat_template to an HDF5 fixture.
# Usage: make-tokenizer-fixture.py MODEL.gguf OUT_DIR
import json
import os
import random
import sys
import unicodedata

import gguf
import h5py
import numpy as np
from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import BPE
from transformers import PreTrainedTokenizerFast


def gguf_tokenizer(path):
    r = gguf.GGUFReader(path)
    f = r.fields

    def strs(k):
        return [bytes(f[k].parts[i]).decode("utf-8") for i in f[k].data]

    def scalar(k):
        return f[k].parts[f[k].data[0]][0] if k in f else None

    tokens, merges = strs("tokenizer.ggml.tokens"), strs("tokenizer.ggml.merges")
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    tmpl = bytes(f["tokenizer.chat_template"].parts[f["tokenizer.chat_template"].data[0]]).decode()
    ids = {k: int(scalar("tokenizer.ggml.%s_token_id" % k)) for k in ("bos", "eos", "padding", "unknown")}
    return tokens, merges, types, tmpl, ids


def build_hf(path, out_dir):
    tokens, merges, types, tmpl, ids = gguf_tokenizer(path)
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(BPE(vocab, [tuple(m.split(" ")) for m in merges], fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    from tokenizers import AddedToken
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False)
                            for i, t in enumerate(types) if t == 3])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=tokens[ids["bos"]], eos_token=tokens[ids["eos"]],
        pad_token=tokens[ids["padding"]], unk_token=tokens[ids["unknown"]], chat_template=tmpl,
        clean_up_tokenization_spaces=False)
    fast.save_pretrained(out_dir)
    return fast


def corpus(seed=1234, n_random=1200):
    base = [
        "", " ", "  ", "   a", "a  ", "\n", "\n\n", "\n\n\nHello", "\t\tx", " \n \n ", "x \t\n y",
        "Hello world", "Hello, world!", "hello   world", "HELLO WORLD", "The quick brown fox.",
        "don't", "I'm", "you're", "we've", "they'll", "he'd", "it's", "'s", "''s", "I'LL", "O'Neil",
        "rock 'n' roll", "12345", "3.14159", "1,000,000", "-42", "x^2+3x-7=0", "2024-01-15",
        "0x1F", "1e-10", "٣٤٥", "½ ¼ ¾", "x² + y³", "Ⅻ", "①②③", "𝟙𝟚𝟛", "१२३",
        "Привет мир", "Γειά σου κόσμε", "你好，世界", "こんにちは世界", "안녕하세요", "مرحبا بالعالم",
        "שלום עולם", "नमस्ते दुनिया", "café", "cafe\u0301", "naïve coöperate", "Straße", "ǅemal",
        "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "I ❤️ NY", "🤖 + 🧠 = 💡", "\u200b", "\u00a0x\u00a0",
        "\u3000全角\u3000", "a\u2028b\u2029c", "\u0085x", "\r\n", "tab\there", "\x00\x01\x1f",
        "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
        "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
        '{"key": [1, 2, 3], "nested": {"a": null}}', "SELECT * FROM t WHERE id = 7;",
        "<html><body>Hi</body></html>", "$ ls -la | grep foo && echo ok", "a+b=c; c-d=e",
        "What is 17 * 23? Answer: 391", "Answer: \\boxed{42}", "Let's think step by step.",
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n",
        "<|endoftext|>", "<|im_start|><|im_end|>", "text<|im_end|>more", "<|im_start", "<|im_end|",
        "<repo_name>k1rl<file_sep>main.cpp", "<jupyter_code>print(1)",
        ".abc", "\tword", "'S 'LL 'Re", "1234567", "a\r\n\r\nb", "  \n  x", "x\n\n  \n", "!!\n\nnext",
        " \r\n", "$$$abc", "(x)", "  12  345  ", "é.é", "\u00a0word",
    ]
    frags = base[9:] + ["the", " of", "and", "ing", "tion", ",", ".", "!", "?", ":", "...", "--",
                        "  ", "\n", "\t", "0", "7", "99", "2.5", "'t", "'ll", "(", ")", "[", "]"]
    blocks = [(0x20, 0x7E), (0xA0, 0x17F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2150, 0x218F),
              (0x2460, 0x24FF), (0x3000, 0x30FF), (0x4E00, 0x4FFF), (0xAC00, 0xAD00), (0xFF00, 0xFFEF),
              (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF), (0x1D400, 0x1D7FF), (0x10000, 0x1007F)]
    rng = random.Random(seed)

    def rand_char():
        while True:
            lo, hi = rng.choice(blocks)
            cp = rng.randint(lo, hi)
            if unicodedata.category(chr(cp)) not in ("Cn", "Cs", "Co"):
                return chr(cp)

    out = list(base)
    for k in range(n_random):
        mode = k % 4
        if mode == 0:  # fragments joined
            s = "".join(rng.choice(frags) for _ in range(rng.randint(1, 12)))
        elif mode == 1:  # random characters from many scripts
            s = "".join(rand_char() for _ in range(rng.randint(1, 20)))
        elif mode == 2:  # words, numbers and whitespace runs
            parts = []
            for _ in range(rng.randint(1, 10)):
                r = rng.random()
                parts.append(str(rng.randint(0, 10 ** rng.randint(1, 8))) if r < 0.3 else
                             " " * rng.randint(1, 5) if r < 0.45 else "\n" * rng.randint(1, 3) if r < 0.5
                             else rng.choice(["hello", "World", "über", "naïve", "日本", "x", "I'm", "CamelCase"]))
            s = "".join(parts)
        else:  # chat turns around fragments
            s = "<|im_start|>%s\n%s<|im_end|>\n" % (rng.choice(["system", "user", "assistant"]),
                                                    "".join(rng.choice(frags) for _ in range(rng.randint(1, 6))))
        out.append(s)
    return out


def chats():
    return [
        [{"role": "user", "content": "What is the capital of France?"}],
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "2+2?"}],
        [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
         {"role": "user", "content": "Count to 3.\n\nThanks  "}],
        [{"role": "user", "content": "Write a Python function that squares x."}],
        [{"role": "user", "content": "Ünïcödé 😀 and digits 12345"}],
    ]


def main():
    gguf_path, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    fast = build_hf(gguf_path, os.path.join(out, "tokenizer"))
    # Reload from the saved folder, as a user of the HF files would.
    fast = PreTrainedTokenizerFast.from_pretrained(os.path.join(out, "tokenizer"))
    texts = corpus()
    enc = [t.encode("utf-8") for t in texts]
    ids = [fast.encode(t, add_special_tokens=False) for t in texts]
    for t, i in zip(texts, ids):  # HF's own round trip, as a sanity check of the reference
        assert fast.decode(i) == t, (t, fast.decode(i))
    conv = chats()
    prompts = [fast.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conv]
    prompt_ids = [fast.encode(p, add_special_tokens=False) for p in prompts]

    def ragged(g, name, rows, dtype):
        flat = np.concatenate([np.asarray(r, dtype=dtype) for r in rows]) if rows else np.zeros(0, dtype)
        off = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
        g.create_dataset(name, data=flat)
        g.create_dataset(name + "_offsets", data=off)

    # Pre-tokens of the four pre-tokenizers k1rl implements, from HF tokenizers' own pre-tokenizers.
    from tokenizers import Regex
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode
    unbyte = {c: b for b, c in bytes_to_unicode().items()}
    qwen2 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
    llama3 = qwen2.replace(r"\p{N}|", r"\p{N}{1,3}|")
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bl_plain = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    pres = {
        "gpt2": bl,
        "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), bl]),
        "qwen2": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(qwen2), "isolated"), bl_plain]),
        "llama3": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(llama3), "isolated"), bl_plain]),
    }
    pieces = {}
    for kind, pt in pres.items():
        rows = []
        for t in texts:
            for piece, _ in pt.pre_tokenize_str(t):
                rows.append(np.frombuffer(bytes(unbyte[ch] for ch in piece), dtype=np.uint8))
            rows.append(np.zeros(0, np.uint8))  # an empty row ends each string's pieces
        pieces[kind] = rows

    tmp = os.path.join(out, "tokenizer-cases.h5.part")
    with h5py.File(tmp, "w") as h:
        h.attrs["k1rl_format"] = np.bytes_("byom-tokenizer-fixture/1")  # fixed-length ASCII
        ragged(h, "text", [np.frombuffer(e, dtype=np.uint8) for e in enc], np.uint8)
        ragged(h, "ids", ids, np.int32)
        ragged(h, "chat_json", [np.frombuffer(json.dumps(c).encode(), dtype=np.uint8) for c in conv], np.uint8)
        ragged(h, "chat_prompt", [np.frombuffer(p.encode(), dtype=np.uint8) for p in prompts], np.uint8)
        ragged(h, "chat_ids", prompt_ids, np.int32)
        for kind, rows in pieces.items():
            ragged(h, "pre_" + kind, rows, np.uint8)
    os.replace(tmp, os.path.join(out, "tokenizer-cases.h5"))
    print("tokenizer fixture: %d strings, %d ids, %d chats -> %s" % (len(texts), sum(map(len, ids)), len(conv), out))


if __name__ == "__main__":
    main()
