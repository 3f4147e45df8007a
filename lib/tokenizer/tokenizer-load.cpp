// load_tokenizer: picks the reader from the path (GGUF, tokenizer.json, HF folder, checkpoint).
#include "lib/tokenizer/tokenizer.h"

namespace k1rl {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  throw ConfigError("tokenizer " + path, "BPE loading is not built yet", "use tokenizer.kind = byte");
}

}  // namespace k1rl
