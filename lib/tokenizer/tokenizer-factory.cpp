// The [tokenizer] config section and the factory the apps call: byte (default) or a BPE loaded
// from a GGUF file, a Hugging Face tokenizer.json / folder, or a checkpoint.
#include "lib/tokenizer/tokenizer.h"

namespace k1rl {

void declare_tokenizer_options(ConfigSpec& spec) {
  spec.add_choice("tokenizer.kind", "byte", {"byte", "bpe"},
                  "byte: ids 0..255 are bytes plus <bos> <eos> <pad> (vocab 259); bpe: byte-level "
                  "BPE read from tokenizer.path");
  spec.add_string("tokenizer.path", "",
                  "for kind = bpe: a .gguf file, a Hugging Face tokenizer.json or folder, or a "
                  "checkpoint .h5 written by k1rl-convert");
}

std::unique_ptr<Tokenizer> make_tokenizer(const Config& cfg) {
  const std::string& kind = cfg.get_string("tokenizer.kind");
  if (kind == "byte") return make_byte_tokenizer();
  const std::string& path = cfg.get_string("tokenizer.path");
  if (path.empty())
    throw ConfigError("tokenizer.path", "is empty but tokenizer.kind = bpe",
                      "set --tokenizer.path to a .gguf, tokenizer.json, HF folder or checkpoint");
  return load_tokenizer(path);
}

}  // namespace k1rl
