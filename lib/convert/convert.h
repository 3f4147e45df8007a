// k1rl convert: bring your own model. Imports a GGUF file (F32, F16, BF16, Q8_0, Q4_0, Q4_1
// dequantised to float32) or a Hugging Face folder (config.json, model.safetensors or a sharded
// index, tokenizer.json) of the LLaMA/Qwen2 family into a checkpoint/1 file with its tokenizer, and
// exports a checkpoint back to a Hugging Face folder that transformers loads. Used by k1rl-convert.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/core/core.h"
#include "lib/json/json.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::convert {

// The [model] section of an imported model (the keys of checkpoint/1's model attributes).
struct ModelSpec {
  int64_t vocab = 0, dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn_dim = 0;
  double rope_theta = 10000.0, norm_eps = 1e-5;
  int64_t max_seq = 0;
  bool tie_embeddings = true, qkv_bias = false;
  std::string arch = "llama";  // "llama" | "qwen2": the Hugging Face class on export

  int64_t head_dim() const { return heads > 0 ? dim / heads : 0; }
  // key -> text, the same keys and spelling as the [model] section (vocab, dim, ...).
  std::map<std::string, std::string> to_map() const;
  static ModelSpec from_map(const std::map<std::string, std::string>& kv, const std::string& where);
  void validate(const std::string& where) const;  // throws InputError naming the key
};

// A float32 tensor with its Hugging Face name, row-major.
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

// A model in memory: config, parameters under Hugging Face names, tokenizer.
struct ImportedModel {
  ModelSpec spec;
  std::vector<Tensor> tensors;
  std::shared_ptr<Tokenizer> tokenizer;
  std::string source;  // where it came from, for logs and the checkpoint's attribute
  const Tensor* find(const std::string& name) const;  // nullptr when absent
};

// The parameter names and shapes a model of this spec has, in Hugging Face LLaMA/Qwen2 naming
// (model.embed_tokens.weight, model.layers.L.self_attn.q_proj.weight, ..., lm_head.weight when
// untied): embedding, layer by layer, final norm, LM head.
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const ModelSpec& spec);
// Checks names and shapes against expected_tensors: a missing tensor, an unexpected one or a
// wrong shape is an InputError naming it. Sorts `tensors` into the expected order.
void check_tensors(const ModelSpec& spec, std::vector<Tensor>& tensors, const std::string& where);

// ---------------------------------------------------------------------------------------------
// GGUF. Tensor types by their ggml ids.
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, BF16 = 30 };
const char* ggml_type_name(uint32_t type);  // "Q4_K" etc. for any known id, "type N" otherwise
struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;  // ggml order: ne[0] varies fastest (the HF shape reversed)
  uint32_t type = 0;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t numel() const;
};
std::vector<GgufTensorInfo> read_gguf_tensor_infos(const GgufMeta& meta, uint64_t* data_offset);
// Dequantises n values of a supported type (n a multiple of the block size); throws InputError
// naming the type otherwise.
void dequantize(uint32_t type, const uint8_t* src, uint64_t n, float* dst);
uint64_t ggml_row_bytes(uint32_t type, uint64_t n);  // bytes of n values; throws when unsupported
// GGUF name -> Hugging Face name ("blk.3.attn_q.weight" ->
// "model.layers.3.self_attn.q_proj.weight");
// "" for tensors with no meaning for the model (rope_freqs of plain RoPE).
std::string gguf_to_hf_name(const std::string& gguf_name);
// Undoes llama.cpp's reordering of q/k rows for its interleaved RoPE, so the weight suits the
// Hugging Face rotate-half convention: w is [n_head * head_dim, cols].
void unpermute_rope_rows(float* w, int64_t n_head, int64_t head_dim, int64_t cols);
void permute_rope_rows(float* w, int64_t n_head, int64_t head_dim, int64_t cols);  // the inverse
// Reads a whole GGUF model (llama or qwen2 architecture); refuses others naming them.
ImportedModel import_gguf(const std::string& path);

// ---------------------------------------------------------------------------------------------
// safetensors (F32, F16, BF16 read; F32 or BF16 written).
std::vector<Tensor> read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const std::vector<const Tensor*>& tensors,
                       const std::string& dtype = "F32",
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// ---------------------------------------------------------------------------------------------
// Hugging Face folders.
ModelSpec spec_from_hf_config(const Json& config, const std::string& where);
Json hf_config_from_spec(const ModelSpec& spec, const Tokenizer* tok);
// config.json + model.safetensors (or model.safetensors.index.json and its shards) +
// tokenizer.json (optional: the byte tokenizer is used when absent, with a warning).
ImportedModel import_hf_folder(const std::string& dir);
// Writes config.json, generation_config.json, model.safetensors and the tokenizer's files into
// `dir` (created). dtype "F32" or "BF16". Files are each written atomically.
void export_hf_folder(const ImportedModel& m, const std::string& dir,
                      const std::string& dtype = "F32");

// ---------------------------------------------------------------------------------------------
// Checkpoints (checkpoint/1 with a tokenizer/ group), written and read through lib/model.
void write_checkpoint(const ImportedModel& m, const std::string& path);
ImportedModel read_checkpoint(const std::string& path);

// Imports from a path: a .gguf file, a Hugging Face folder, or a checkpoint .h5.
ImportedModel import_any(const std::string& path);

}  // namespace k1rl::convert
