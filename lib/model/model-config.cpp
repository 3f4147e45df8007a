// The [model] section: declaration, reading, validation, and the key/value form stored in
// checkpoints (so a checkpoint can be compared with the requested config key by key).
#include <cstdlib>

#include "lib/model/model.h"

namespace k1rl::model {

void declare_model_options(ConfigSpec& s) {
  ModelConfig d;
  s.add_int("model.vocab", d.vocab, "vocabulary size (byte tokenizer: 259)")
      .add_int("model.dim", d.dim, "model width (channels)")
      .add_int("model.layers", d.layers, "transformer blocks")
      .add_int("model.heads", d.heads, "query heads; dim must be a multiple")
      .add_int("model.kv_heads", d.kv_heads, "key/value heads (grouped-query); divides heads")
      .add_int("model.ffn_dim", d.ffn_dim, "SwiGLU hidden size")
      .add_double("model.rope_theta", d.rope_theta, "RoPE base frequency")
      .add_double("model.norm_eps", d.norm_eps, "RMSNorm epsilon")
      .add_int("model.max_seq", d.max_seq, "longest sequence (prompt + answer) in tokens")
      .add_bool("model.tie_embeddings", d.tie_embeddings, "LM head shares the token embedding")
      .add_bool("model.qkv_bias", d.qkv_bias, "biases on the q/k/v projections (Qwen2)");
}

ModelConfig ModelConfig::from_config(const Config& cfg) {
  ModelConfig c;
  c.vocab = cfg.get_int("model.vocab");
  c.dim = cfg.get_int("model.dim");
  c.layers = cfg.get_int("model.layers");
  c.heads = cfg.get_int("model.heads");
  c.kv_heads = cfg.get_int("model.kv_heads");
  c.ffn_dim = cfg.get_int("model.ffn_dim");
  c.rope_theta = cfg.get_double("model.rope_theta");
  c.norm_eps = cfg.get_double("model.norm_eps");
  c.max_seq = cfg.get_int("model.max_seq");
  c.tie_embeddings = cfg.get_bool("model.tie_embeddings");
  c.qkv_bias = cfg.get_bool("model.qkv_bias");
  c.validate();
  return c;
}

void ModelConfig::validate() const {
  auto bad = [](const char* key, const std::string& why) {
    throw ConfigError(std::string("bad value for model.") + key, why,
                      std::string("fix it in the [model] section or with --model.") + key + "=...");
  };
  if (vocab < 1) bad("vocab", "must be >= 1");
  if (dim < 2) bad("dim", "must be >= 2");
  if (layers < 1) bad("layers", "must be >= 1");
  if (heads < 1 || dim % heads != 0) bad("heads", strfmt("must divide dim = %lld", (long long)dim));
  if (head_dim() % 2 != 0) bad("heads", "dim / heads must be even for RoPE");
  if (kv_heads < 1 || heads % kv_heads != 0)
    bad("kv_heads", strfmt("must divide heads = %lld", (long long)heads));
  if (ffn_dim < 1) bad("ffn_dim", "must be >= 1");
  if (!(rope_theta > 0)) bad("rope_theta", "must be > 0");
  if (!(norm_eps > 0)) bad("norm_eps", "must be > 0");
  if (max_seq < 2) bad("max_seq", "must be >= 2");
}

std::map<std::string, std::string> ModelConfig::to_map() const {
  auto i = [](int64_t v) { return std::to_string(v); };
  auto d = [](double v) { return strfmt("%.17g", v); };
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  return {{"vocab", i(vocab)},           {"dim", i(dim)},
          {"layers", i(layers)},         {"heads", i(heads)},
          {"kv_heads", i(kv_heads)},     {"ffn_dim", i(ffn_dim)},
          {"rope_theta", d(rope_theta)}, {"norm_eps", d(norm_eps)},
          {"max_seq", i(max_seq)},       {"tie_embeddings", b(tie_embeddings)},
          {"qkv_bias", b(qkv_bias)}};
}

ModelConfig ModelConfig::from_map(const std::map<std::string, std::string>& kv,
                                  const std::string& where) {
  auto get = [&](const char* key) -> const std::string& {
    auto it = kv.find(key);
    if (it == kv.end())
      throw IoError(where + " has no model." + key, "the model config is incomplete",
                    "the file was written by another tool or version");
    return it->second;
  };
  auto as_int = [&](const char* key) {
    const std::string& s = get(key);
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end)
      throw IoError(where + ": model." + key + " is not an integer", "'" + s + "'",
                    "the file is corrupt or from another tool");
    return static_cast<int64_t>(v);
  };
  auto as_double = [&](const char* key) {
    const std::string& s = get(key);
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end)
      throw IoError(where + ": model." + key + " is not a number", "'" + s + "'",
                    "the file is corrupt or from another tool");
    return v;
  };
  auto as_bool = [&](const char* key) {
    const std::string& s = get(key);
    if (s == "true" || s == "1") return true;
    if (s == "false" || s == "0") return false;
    throw IoError(where + ": model." + key + " is not a boolean", "'" + s + "'",
                  "the file is corrupt or from another tool");
  };
  ModelConfig c;
  c.vocab = as_int("vocab");
  c.dim = as_int("dim");
  c.layers = as_int("layers");
  c.heads = as_int("heads");
  c.kv_heads = as_int("kv_heads");
  c.ffn_dim = as_int("ffn_dim");
  c.rope_theta = as_double("rope_theta");
  c.norm_eps = as_double("norm_eps");
  c.max_seq = as_int("max_seq");
  c.tie_embeddings = as_bool("tie_embeddings");
  c.qkv_bias = as_bool("qkv_bias");
  return c;
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
