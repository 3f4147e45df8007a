// The imported model's spec ([model] keys), its expected Hugging Face tensor names and shapes,
// the checks that refuse missing or unexpected tensors, and import_any.
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "lib/convert/convert-impl.h"

namespace k1rl::convert {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(path, "cannot be opened", "check the path");
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool is_directory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

uint16_t f32_to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0x7F800000u) == 0x7F800000u && (b & 0x7FFFFF))
    return static_cast<uint16_t>((b >> 16) | 0x40);
  b += 0x7FFF + ((b >> 16) & 1);
  return static_cast<uint16_t>(b >> 16);
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const Tensor* ImportedModel::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::map<std::string, std::string> ModelSpec::to_map() const {
  return {{"vocab", std::to_string(vocab)},
          {"dim", std::to_string(dim)},
          {"layers", std::to_string(layers)},
          {"heads", std::to_string(heads)},
          {"kv_heads", std::to_string(kv_heads)},
          {"ffn_dim", std::to_string(ffn_dim)},
          {"rope_theta", strfmt("%.17g", rope_theta)},
          {"norm_eps", strfmt("%.17g", norm_eps)},
          {"max_seq", std::to_string(max_seq)},
          {"tie_embeddings", tie_embeddings ? "true" : "false"},
          {"qkv_bias", qkv_bias ? "true" : "false"}};
}

ModelSpec ModelSpec::from_map(const std::map<std::string, std::string>& kv,
                              const std::string& where) {
  auto get = [&](const char* k) -> const std::string& {
    auto it = kv.find(k);
    if (it == kv.end()) throw IoError(where, std::string("has no model key '") + k + "'", "");
    return it->second;
  };
  auto num = [&](const char* k) {
    try {
      return std::stod(get(k));
    } catch (const std::logic_error&) {
      throw IoError(where, std::string("has an unreadable model key '") + k + "'", "");
    }
  };
  auto flag = [&](const char* k) {
    const std::string& v = get(k);
    return v == "true" || v == "1" || v == "yes" || v == "on";
  };
  ModelSpec s;
  s.vocab = static_cast<int64_t>(num("vocab"));
  s.dim = static_cast<int64_t>(num("dim"));
  s.layers = static_cast<int64_t>(num("layers"));
  s.heads = static_cast<int64_t>(num("heads"));
  s.kv_heads = static_cast<int64_t>(num("kv_heads"));
  s.ffn_dim = static_cast<int64_t>(num("ffn_dim"));
  s.rope_theta = num("rope_theta");
  s.norm_eps = num("norm_eps");
  s.max_seq = static_cast<int64_t>(num("max_seq"));
  s.tie_embeddings = flag("tie_embeddings");
  s.qkv_bias = flag("qkv_bias");
  s.arch = s.qkv_bias ? "qwen2" : "llama";
  return s;
}

void ModelSpec::validate(const std::string& where) const {
  auto bad = [&](const char* key, const std::string& why) {
    throw InputError(where + ": model." + key, why, "the model's configuration is inconsistent");
  };
  for (auto [k, v] : {std::pair<const char*, int64_t>{"vocab", vocab},
                      {"dim", dim},
                      {"layers", layers},
                      {"heads", heads},
                      {"kv_heads", kv_heads},
                      {"ffn_dim", ffn_dim},
                      {"max_seq", max_seq}})
    if (v <= 0) bad(k, strfmt("= %lld must be positive", (long long)v));
  if (dim % heads != 0) bad("heads", "must divide dim");
  if (heads % kv_heads != 0) bad("kv_heads", "must divide heads");
  if (head_dim() % 2 != 0) bad("heads", "give an odd head size; RoPE needs an even one");
  if (!(rope_theta > 0)) bad("rope_theta", "must be positive");
  if (!(norm_eps > 0)) bad("norm_eps", "must be positive");
}

std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelSpec& s) {
  const int64_t D = s.dim, hd = s.head_dim(), Q = s.heads * hd, KV = s.kv_heads * hd, F = s.ffn_dim;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  out.push_back({"model.embed_tokens.weight", {s.vocab, D}});
  for (int64_t l = 0; l < s.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    out.push_back({p + "input_layernorm.weight", {D}});
    out.push_back({p + "self_attn.q_proj.weight", {Q, D}});
    if (s.qkv_bias) out.push_back({p + "self_attn.q_proj.bias", {Q}});
    out.push_back({p + "self_attn.k_proj.weight", {KV, D}});
    if (s.qkv_bias) out.push_back({p + "self_attn.k_proj.bias", {KV}});
    out.push_back({p + "self_attn.v_proj.weight", {KV, D}});
    if (s.qkv_bias) out.push_back({p + "self_attn.v_proj.bias", {KV}});
    out.push_back({p + "self_attn.o_proj.weight", {D, Q}});
    out.push_back({p + "post_attention_layernorm.weight", {D}});
    out.push_back({p + "mlp.gate_proj.weight", {F, D}});
    out.push_back({p + "mlp.up_proj.weight", {F, D}});
    out.push_back({p + "mlp.down_proj.weight", {D, F}});
  }
  out.push_back({"model.norm.weight", {D}});
  if (!s.tie_embeddings) out.push_back({"lm_head.weight", {s.vocab, D}});
  return out;
}

void check_tensors(const ModelSpec& spec, std::vector<Tensor>& tensors, const std::string& where) {
  auto want = expected_tensors(spec);
  std::map<std::string, size_t> have;
  for (size_t k = 0; k < tensors.size(); ++k) {
    if (have.count(tensors[k].name))
      throw InputError(where, "has the tensor " + tensors[k].name + " twice",
                       "the file is corrupt");
    have[tensors[k].name] = k;
  }
  std::set<std::string> wanted;
  std::vector<Tensor> sorted;
  for (const auto& [name, shape] : want) {
    wanted.insert(name);
    auto it = have.find(name);
    if (it == have.end())
      throw InputError(where, "is missing the tensor " + name,
                       "the file is incomplete or of an unsupported architecture");
    Tensor& t = tensors[it->second];
    if (t.shape != shape) {
      auto txt = [](const std::vector<int64_t>& v) {
        std::string s = "[";
        for (size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + std::to_string(v[k]);
        return s + "]";
      };
      throw InputError(where,
                       "has " + name + " of shape " + txt(t.shape) + ", expected " + txt(shape),
                       "the tensors do not match the model's configuration");
    }
    sorted.push_back(std::move(t));
  }
  for (const auto& t : tensors)
    if (!wanted.count(t.name) && !t.name.empty() && !t.data.empty())
      throw InputError(where,
                       "has the tensor " + t.name + ", which a " + spec.arch +
                           " model of this "
                           "configuration does not have",
                       "this architecture variant is not supported");
  tensors = std::move(sorted);
}

ImportedModel import_any(const std::string& path) {
  if (is_directory(path)) return import_hf_folder(path);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(path, "cannot be opened", "check the path");
  std::string head(8, '\0');
  f.read(head.data(), 8);
  head.resize(static_cast<size_t>(f.gcount()));
  if (head.compare(0, 4, "GGUF") == 0) return import_gguf(path);
  if (head.compare(0, 8, "\x89HDF\r\n\x1a\n") == 0) return read_checkpoint(path);
  throw InputError(path, "is neither a GGUF file, a Hugging Face folder nor an HDF5 checkpoint",
                   "pass a .gguf file, a folder with config.json, or a checkpoint .h5");
}

}  // namespace k1rl::convert
