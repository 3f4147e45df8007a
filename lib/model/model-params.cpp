// The parameter table (Hugging Face names, shapes, offsets in the flat buffer), seeded
// initialisation, and the Model object's bookkeeping.
#include <atomic>
#include <cmath>

#include "kernels/ops.h"
#include "lib/model/model-impl.h"

namespace k1rl::model {

std::vector<TensorInfo> make_tensors(const ModelConfig& c, Layout* lay) {
  std::vector<TensorInfo> t;
  int64_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool decay) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    t.push_back({name, shape, off, n, decay});
    off += n;
    return t.back().offset;
  };
  const int64_t C = c.dim, D = c.head_dim(), HD = c.heads * D, KD = c.kv_heads * D, F = c.ffn_dim;
  lay->embed = add("model.embed_tokens.weight", {c.vocab, C}, true);
  lay->layer.resize(c.layers);
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto& L = lay->layer[l];
    L.ln1 = add(p + "input_layernorm.weight", {C}, false);
    L.wqkv = add(p + "self_attn.q_proj.weight", {HD, C}, true);
    add(p + "self_attn.k_proj.weight", {KD, C}, true);
    add(p + "self_attn.v_proj.weight", {KD, C}, true);
    if (c.qkv_bias) {
      L.bqkv = add(p + "self_attn.q_proj.bias", {HD}, false);
      add(p + "self_attn.k_proj.bias", {KD}, false);
      add(p + "self_attn.v_proj.bias", {KD}, false);
    }
    L.wo = add(p + "self_attn.o_proj.weight", {C, HD}, true);
    L.ln2 = add(p + "post_attention_layernorm.weight", {C}, false);
    L.wgu = add(p + "mlp.gate_proj.weight", {F, C}, true);
    add(p + "mlp.up_proj.weight", {F, C}, true);
    L.wdown = add(p + "mlp.down_proj.weight", {C, F}, true);
  }
  lay->norm = add("model.norm.weight", {C}, false);
  lay->head = c.tie_embeddings ? lay->embed : add("lm_head.weight", {c.vocab, C}, true);
  return t;
}

Model::Model(const ModelConfig& cfg) : cfg_(cfg), impl_(std::make_unique<Impl>()) {
  cfg_.validate();
  log_engine_choice();
  tensors_ = make_tensors(cfg_, &impl_->lay);
  const auto& last = tensors_.back();
  params_.assign(last.offset + last.size, 0.f);
  const int64_t half = cfg_.head_dim() / 2;
  impl_->rope_cos.resize(cfg_.max_seq * half);
  impl_->rope_sin.resize(cfg_.max_seq * half);
  ops::rope_table(impl_->rope_cos.data(), impl_->rope_sin.data(), cfg_.max_seq, cfg_.head_dim(),
                  cfg_.rope_theta);
  ops::weights_register(params_.data(), num_params());  // the backend's bf16 mirror
  version_ = new_version();
}

Model::~Model() {
  ops::weights_unregister(params_.data());
}

namespace {
std::atomic<uint64_t> g_weights_version{0};
}

uint64_t Model::new_version() {
  return ++g_weights_version;
}

float* Model::params() {
  ops::weights_changed(params_.data());
  version_ = new_version();
  return params_.data();
}

const TensorInfo& Model::tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  throw InputError("no parameter named '" + name + "'", "the model has no such tensor",
                   "names follow Hugging Face LLaMA/Qwen2, e.g. model.layers.0.mlp.up_proj.weight");
}

std::vector<optim::ParamRange> Model::param_ranges() const {
  std::vector<optim::ParamRange> r;
  for (const auto& t : tensors_) r.push_back({t.offset, t.size, t.decay});
  return r;
}

void Model::init_params(uint64_t seed) {
  ops::weights_changed(params_.data());
  version_ = new_version();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i];
    float* p = params_.data() + t.offset;
    const bool is_norm = t.name.find("norm.weight") != std::string::npos;
    const bool is_bias = t.name.size() > 5 && t.name.compare(t.name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      ops::fill(p, 1.f, t.size);
    } else if (is_bias) {
      ops::fill(p, 0.f, t.size);
    } else {
      Rng rng(seed, i);
      for (int64_t j = 0; j < t.size; ++j) p[j] = static_cast<float>(0.02 * rng.normal());
    }
  }
}

float* Model::grads_data() const {
  if (grads_.empty()) grads_.assign(params_.size(), 0.f);
  return grads_.data();
}

void Model::zero_grads() {
  ops::fill(grads_data(), 0.f, num_params());
}

const float* Model::logits() const {
  if (impl_->head_chunk < static_cast<int64_t>(impl_->rows.size()))
    throw InputError("Model::logits after a recomputing forward",
                     "set_recompute(true) keeps the logits of one chunk of rows only",
                     "run the forward with ForwardOptions.all_logits = true");
  return impl_->logits.data();
}
const std::vector<int32_t>& Model::logit_positions() const {
  return impl_->rows;
}

}  // namespace k1rl::model
