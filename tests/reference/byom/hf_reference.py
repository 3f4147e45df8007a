# Shared by the byom reference scripts: SmolLM2 from its GGUF as transformers reads it. Tensor
# names, the reverse q/k permutation and the config come from transformers' own GGUF loader
# (load_gguf_checkpoint); dequantisation from gguf-py, since transformers 4.44 lacks Q4_1.
import os

import gguf
import numpy as np
import torch
import transformers.modeling_gguf_pytorch_utils as gguf_utils
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


def _dequant(shape, ggml_type, data, n_bytes):
    return gguf.quants.dequantize(data, gguf.GGMLQuantizationType(int(ggml_type))).reshape(shape[::-1])


def reference_model(gguf_path):
    gguf_utils.load_dequant_gguf_tensor = _dequant
    parsed = gguf_utils.load_gguf_checkpoint(gguf_path, return_tensors=True)
    tensors = {k: v.float() for k, v in parsed["tensors"].items()}
    cfg = dict(parsed["config"])
    cfg.pop("model_type", None)
    cfg.pop("_model_name_or_path", None)
    cfg["vocab_size"] = tensors["model.embed_tokens.weight"].shape[0]
    cfg["tie_word_embeddings"] = "lm_head.weight" not in tensors
    cfg.pop("rope_scaling", None)
    config = LlamaConfig(**{k: v for k, v in cfg.items() if not isinstance(v, (list, np.ndarray))})
    config.torch_dtype = torch.float32
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if not (m == "lm_head.weight" and config.tie_word_embeddings)]
    assert not missing and not unexpected, (missing, unexpected)
    model.tie_weights()
    return model.eval()


def reference_tokenizer(fixtures):
    return PreTrainedTokenizerFast.from_pretrained(os.path.join(fixtures, "tokenizer"))


PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):",
    "1, 2, 3, 5, 8, 13,",
    "Question: What is 17 times 23?\nAnswer:",
    "Once upon a time, in a small village,",
    "The mitochondria is the powerhouse of",
    "Translate to French: Good morning, my friend.",
    "import numpy as np\nx = np.arange(10)\nprint(",
    "In 1969, Neil Armstrong",
    "Ünïcödé and emoji 😀 are",
]


def chat_prompt(tok, text):
    return tok.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                   add_generation_prompt=True)
