// The [model] section: declaration, reading, validation, and the key/value form stored in
// checkpoints (so a checkpoint can be compared with the requested config key by key).
#include "lib/model/model.h"

namespace k1rl::model {

const OptionTable<ModelConfig>& model_options() {
  using M = ModelConfig;
  // The upper bounds keep parameter counts and offsets far inside int64_t (and a typo from
  // allocating the machine away); they are well above any model this suite runs.
  static const auto t =
      OptionTable<M>()
          .add("model.vocab", &M::vocab, "vocabulary size (byte tokenizer: 259)",
               Check().ge(1).le(1 << 24))
          .add("model.dim", &M::dim, "model width (channels)", Check().ge(2).le(1 << 16))
          .add("model.layers", &M::layers, "transformer blocks", Check().ge(1).le(1024))
          .add("model.heads", &M::heads, "query heads; dim must be a multiple",
               Check().ge(1).le(1024))
          .add("model.kv_heads", &M::kv_heads, "key/value heads (grouped-query); divides heads",
               Check().ge(1).le(1024))
          .add("model.ffn_dim", &M::ffn_dim, "SwiGLU hidden size", Check().ge(1).le(1 << 20))
          .add("model.rope_theta", &M::rope_theta, "RoPE base frequency", Check().gt(0))
          .add("model.norm_eps", &M::norm_eps, "RMSNorm epsilon", Check().gt(0).lt(1))
          .add("model.max_seq", &M::max_seq, "longest sequence (prompt + answer) in tokens",
               Check().ge(2).le(1 << 24))
          .add("model.tie_embeddings", &M::tie_embeddings, "LM head shares the token embedding")
          .add("model.qkv_bias", &M::qkv_bias, "biases on the q/k/v projections (Qwen2)");
  return t;
}

void declare_model_options(ConfigSpec& s) {
  model_options().declare(s);
}

ModelConfig ModelConfig::from_config(const Config& cfg) {
  ModelConfig c = model_options().read(cfg);
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  model_options().check(*this);  // each key's own range
  auto bad = [](const char* key, const std::string& why) {
    throw ConfigError(std::string("bad value for model.") + key, why,
                      std::string("fix it in the [model] section or with --model.") + key + "=...");
  };
  if (dim % heads != 0) bad("heads", strfmt("must divide dim = %lld", (long long)dim));
  if (head_dim() % 2 != 0) bad("heads", "dim / heads must be even for RoPE");
  if (heads % kv_heads != 0) bad("kv_heads", strfmt("must divide heads = %lld", (long long)heads));
}

std::map<std::string, std::string> ModelConfig::to_map() const {
  return model_options().to_map(*this);
}

ModelConfig ModelConfig::from_map(const std::map<std::string, std::string>& kv,
                                  const std::string& where) {
  return model_options().from_map(kv, where);
}

ConfigDiff config_diff(const ModelConfig& a, const ModelConfig& b) {
  auto ma = a.to_map(), mb = b.to_map();
  for (const auto& [k, v] : ma)
    if (mb[k] != v) return {k, v, mb[k]};
  return {};
}

void Batch::validate(const ModelConfig& cfg) const {
  const int64_t N = size();
  auto bad = [](const std::string& why) {
    throw InputError("bad training batch", why, "this is a bug in the caller that packed it");
  };
  if (cu.size() < 2 || cu.front() != 0 || cu.back() != N)
    bad(strfmt("offsets must run from 0 to %lld", (long long)N));
  for (size_t b = 0; b + 1 < cu.size(); ++b) {
    if (cu[b + 1] <= cu[b]) bad(strfmt("sequence %zu is empty", b));
    if (cu[b + 1] - cu[b] > cfg.max_seq)
      bad(strfmt("sequence %zu has %d tokens, more than model.max_seq = %lld", b, cu[b + 1] - cu[b],
                 (long long)cfg.max_seq));
  }
  for (int32_t t : tokens)
    if (t < 0 || t >= cfg.vocab)
      bad(strfmt("token id %d is outside [0, %lld)", t, (long long)cfg.vocab));
  if (!mask.empty() && static_cast<int64_t>(mask.size()) != N)
    bad(strfmt("mask has %zu entries for %lld tokens", mask.size(), (long long)N));
}

}  // namespace k1rl::model
