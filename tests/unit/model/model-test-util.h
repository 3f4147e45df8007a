// Helpers for the model tests: tiny configs and models with large random weights (so that
// logits are far from uniform and gradients are not tiny), and packed batches.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lib/model/model.h"

namespace k1rl::test {

inline model::ModelConfig tiny_config(bool qkv_bias = true, bool tied = false) {
  model::ModelConfig c;
  c.vocab = 11;
  c.dim = 8;
  c.layers = 2;
  c.heads = 2;
  c.kv_heads = 1;
  c.ffn_dim = 12;
  c.max_seq = 32;
  c.rope_theta = 100.0;
  c.qkv_bias = qkv_bias;
  c.tie_embeddings = tied;
  return c;
}

// Every parameter ~ N(0, scale²), norms around 1.
inline void randomize(model::Model& m, uint32_t seed, float scale = 0.4f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, scale);
  for (const auto& t : m.tensors()) {
    float* p = m.params() + t.offset;
    const bool norm = t.name.find("norm") != std::string::npos;
    for (int64_t i = 0; i < t.size; ++i) p[i] = norm ? 1.f + d(gen) * 0.5f : d(gen);
  }
}

inline model::Batch make_batch(const std::vector<std::vector<int32_t>>& seqs) {
  model::Batch b;
  b.cu.push_back(0);
  for (const auto& s : seqs) {
    b.tokens.insert(b.tokens.end(), s.begin(), s.end());
    b.cu.push_back(static_cast<int32_t>(b.tokens.size()));
  }
  return b;
}

inline std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(gen() % vocab);
  return t;
}

}  // namespace k1rl::test
