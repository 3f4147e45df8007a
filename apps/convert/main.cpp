// k1rl-convert: bring your own model. Imports a GGUF file or a Hugging Face folder into a
// checkpoint/1 file with its tokenizer, or exports a checkpoint (or any of those) to a Hugging
// Face folder that transformers loads. The target's form follows its name: *.h5 is a checkpoint.
//   k1rl-convert --from SmolLM2-135M-Instruct.Q4_1.gguf --to smollm2.h5
//   k1rl-convert --from run/ckpt/it_000012.h5 --to exported-hf/ [--dtype BF16]
#include "lib/app/app.h"
#include "lib/convert/convert.h"

namespace {

bool ends_with(const std::string& s, const std::string& end) {
  return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}

int run(k1rl::AppContext& ctx) {
  using namespace k1rl;
  const std::string from = ctx.flag("from"), to = ctx.flag("to"), dtype = ctx.flag("dtype");
  if (from.empty() || to.empty())
    throw ConfigError("k1rl-convert", "needs --from and --to",
                      "e.g. --from model.gguf --to model.h5 (see --help)");
  K1RL_LOG_INFO("reading %s", from.c_str());
  convert::ImportedModel m = convert::import_any(from);
  if (int64_t max_seq = std::stoll(ctx.flag("max-seq")); max_seq > 0) m.spec.max_seq = max_seq;
  int64_t n = 0;
  for (const auto& t : m.tensors) n += t.numel();
  K1RL_LOG_INFO(
      "%s model: %lld layers, dim %lld, %lld heads (%lld kv), vocab %lld, %.1fM params, "
      "tokenizer %s (%d tokens)",
      m.spec.arch.c_str(), (long long)m.spec.layers, (long long)m.spec.dim, (long long)m.spec.heads,
      (long long)m.spec.kv_heads, (long long)m.spec.vocab, n / 1e6, m.tokenizer->kind().c_str(),
      m.tokenizer->vocab_size());
  if (ends_with(to, ".h5")) {
    convert::write_checkpoint(m, to);
  } else {
    convert::export_hf_folder(m, to, dtype);
  }
  K1RL_LOG_INFO("wrote %s", to.c_str());
  return k1rl::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "convert";
  info.summary =
      "import a GGUF file or Hugging Face folder into a checkpoint; export to a Hugging Face "
      "folder";
  info.use_mpi = true;
  info.flags = {
      {"from",
       "a .gguf file, a Hugging Face folder (config.json, safetensors, tokenizer.json) or a "
       "checkpoint .h5",
       ""},
      {"to", "a checkpoint path ending in .h5, or a folder for a Hugging Face export", ""},
      {"dtype", "weights of a Hugging Face export: F32 or BF16", "F32"},
      {"max-seq", "set model.max_seq of the result (0: the model's own context length)", "0"},
  };
  return k1rl::app_main(argc, argv, info, run);
}
