// Hugging Face folders: config.json <-> the [model] keys (LlamaForCausalLM, Qwen2ForCausalLM),
// import from model.safetensors or a sharded index, and export of a model with its tokenizer
// files so that transformers' from_pretrained loads it.
#include <set>

#include "lib/convert/convert-impl.h"
#include "lib/io/io.h"

namespace k1rl::convert {
namespace {

int64_t int_key(const Json& j, const char* key, const std::string& where) {
  if (!j[key].is_number()) throw InputError(where, std::string("has no number '") + key + "'", "");
  return j[key].as_int();
}

bool flag(const Json& j, const char* key, bool def) {
  return j[key].type() == Json::Type::boolean ? j[key].as_bool() : def;
}

}  // namespace

ModelSpec spec_from_hf_config(const Json& j, const std::string& where) {
  std::string type = j["model_type"].is_string() ? j["model_type"].as_string() : "(none)";
  if (type != "llama" && type != "qwen2")
    throw ConfigError(where, "has model_type '" + type + "'",
                      "k1rl imports the LLaMA family: llama and qwen2");
  ModelSpec s;
  s.arch = type;
  s.vocab = int_key(j, "vocab_size", where);
  s.dim = int_key(j, "hidden_size", where);
  s.layers = int_key(j, "num_hidden_layers", where);
  s.heads = int_key(j, "num_attention_heads", where);
  s.kv_heads = j["num_key_value_heads"].is_number() ? j["num_key_value_heads"].as_int() : s.heads;
  s.ffn_dim = int_key(j, "intermediate_size", where);
  s.rope_theta = j["rope_theta"].is_number() ? j["rope_theta"].as_number() : 10000.0;
  s.norm_eps = j["rms_norm_eps"].is_number() ? j["rms_norm_eps"].as_number() : 1e-6;
  s.max_seq =
      j["max_position_embeddings"].is_number() ? j["max_position_embeddings"].as_int() : 2048;
  s.tie_embeddings = flag(j, "tie_word_embeddings", false);
  s.qkv_bias = type == "qwen2";
  auto refuse = [&](const std::string& what, const std::string& hint) {
    throw ConfigError(where, "sets " + what, hint);
  };
  if (!j["rope_scaling"].is_null())
    refuse("rope_scaling " + j["rope_scaling"].dump(), "only plain RoPE is supported");
  if (j["hidden_act"].is_string() && j["hidden_act"].as_string() != "silu")
    refuse("hidden_act = " + j["hidden_act"].as_string(), "only SwiGLU (silu) MLPs are supported");
  if (flag(j, "attention_bias", false))
    refuse("attention_bias = true", "only Qwen2-style q/k/v biases are supported");
  if (flag(j, "mlp_bias", false)) refuse("mlp_bias = true", "MLP biases are not supported");
  if (flag(j, "use_sliding_window", false))
    refuse("use_sliding_window = true", "sliding-window attention is not supported");
  if (j["head_dim"].is_number() && s.heads > 0 && j["head_dim"].as_int() != s.dim / s.heads)
    refuse("head_dim other than hidden_size / num_attention_heads", "not supported");
  s.validate(where);
  return s;
}

Json hf_config_from_spec(const ModelSpec& s, const Tokenizer* tok) {
  const bool qwen = s.qkv_bias;
  Json j = Json::make_object(), arch = Json::make_array();
  arch.push(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
  j.add("architectures", arch).add("model_type", qwen ? "qwen2" : "llama");
  j.add("vocab_size", s.vocab).add("hidden_size", s.dim).add("intermediate_size", s.ffn_dim);
  j.add("num_hidden_layers", s.layers).add("num_attention_heads", s.heads);
  j.add("num_key_value_heads", s.kv_heads).add("hidden_act", "silu");
  j.add("max_position_embeddings", s.max_seq).add("rms_norm_eps", s.norm_eps);
  j.add("rope_theta", s.rope_theta).add("rope_scaling", Json());
  j.add("tie_word_embeddings", s.tie_embeddings).add("initializer_range", 0.02);
  j.add("attention_dropout", 0.0).add("use_cache", true);
  if (qwen)
    j.add("use_sliding_window", false)
        .add("sliding_window", s.max_seq)
        .add("max_window_layers", s.layers);
  else
    j.add("attention_bias", false).add("mlp_bias", false).add("pretraining_tp", 1);
  if (tok) {
    if (tok->bos_id() >= 0) j.add("bos_token_id", tok->bos_id());
    if (tok->eos_id() >= 0) j.add("eos_token_id", tok->eos_id());
    if (tok->pad_id() >= 0) j.add("pad_token_id", tok->pad_id());
  }
  j.add("torch_dtype", "float32");
  return j;
}

ImportedModel import_hf_folder(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  if (!io::file_exists(cfg_path))
    throw IoError(dir, "has no config.json", "pass a Hugging Face model folder");
  ImportedModel m;
  m.source = dir;
  m.spec = spec_from_hf_config(Json::parse(slurp(cfg_path), cfg_path), cfg_path);
  std::vector<std::string> files;
  if (io::file_exists(dir + "/model.safetensors")) {
    files.push_back(dir + "/model.safetensors");
  } else if (io::file_exists(dir + "/model.safetensors.index.json")) {
    const std::string idx = dir + "/model.safetensors.index.json";
    std::set<std::string> shards;
    for (const auto& [name, file] : Json::parse(slurp(idx), idx)["weight_map"].members())
      shards.insert(file.as_string());
    for (const auto& s : shards) files.push_back(dir + "/" + s);
  } else {
    throw IoError(dir, "has neither model.safetensors nor model.safetensors.index.json",
                  "save the model with safe_serialization=True (PyTorch .bin files are not read)");
  }
  for (const auto& f : files) {
    if (!io::file_exists(f))
      throw IoError(f, "is missing (named by the shard index)", "download it");
    for (auto& t : read_safetensors(f)) {
      bool rotary = t.name.find("rotary_emb.inv_freq") != std::string::npos;
      bool tied_head = t.name == "lm_head.weight" && m.spec.tie_embeddings;
      if (!rotary && !tied_head) m.tensors.push_back(std::move(t));
    }
  }
  check_tensors(m.spec, m.tensors, dir);
  if (io::file_exists(dir + "/tokenizer.json")) {
    m.tokenizer = load_tokenizer(dir);
  } else {
    K1RL_LOG_WARN("%s has no tokenizer.json: using the byte tokenizer", dir.c_str());
    m.tokenizer = make_byte_tokenizer();
  }
  if (m.tokenizer->vocab_size() > m.spec.vocab)
    throw InputError(dir,
                     strfmt("has a tokenizer of %d tokens for a vocab_size of %lld",
                            m.tokenizer->vocab_size(), (long long)m.spec.vocab),
                     "check the folder");
  return m;
}

void export_hf_folder(const ImportedModel& m, const std::string& dir, const std::string& dtype) {
  io::make_dirs(dir);
  std::vector<const Tensor*> order;
  for (const auto& [name, shape] : expected_tensors(m.spec)) {
    const Tensor* t = m.find(name);
    if (!t) throw InputError("export " + dir, "the model has no tensor " + name, "");
    order.push_back(t);
  }
  Json cfg = hf_config_from_spec(m.spec, m.tokenizer.get());
  cfg.set("torch_dtype", dtype == "BF16" ? "bfloat16" : "float32");
  io::publish_text(dir + "/config.json", cfg.dump(2) + "\n");
  Json gen = Json::make_object();
  if (m.tokenizer) {
    if (m.tokenizer->bos_id() >= 0) gen.add("bos_token_id", m.tokenizer->bos_id());
    if (m.tokenizer->eos_id() >= 0) gen.add("eos_token_id", m.tokenizer->eos_id());
    if (m.tokenizer->pad_id() >= 0) gen.add("pad_token_id", m.tokenizer->pad_id());
  }
  io::publish_text(dir + "/generation_config.json", gen.dump(2) + "\n");
  write_safetensors(dir + "/model.safetensors", order, dtype);
  if (m.tokenizer && m.tokenizer->kind() != "byte") {
    for (const auto& [file, text] : m.tokenizer->to_hf_files())
      io::publish_text(dir + "/" + file, text);
  } else {
    K1RL_LOG_WARN(
        "export %s: the byte tokenizer has no Hugging Face form; token ids are bytes "
        "0..255 and 256 <bos>, 257 <eos>, 258 <pad>",
        dir.c_str());
  }
}

}  // namespace k1rl::convert
