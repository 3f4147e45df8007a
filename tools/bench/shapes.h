// The reference shapes of DESIGN.md for benchmarks: S (4 layers, dim 256) and M (GPT-2 124M
// class), with the sequence length and batch their training benchmarks use.
#pragma once

#include <cstdint>
#include <cstring>

#include "lib/model/model.h"

namespace k1rl::bench {

struct Shape {
  const char* name;
  model::ModelConfig cfg;
  int64_t seq, batch;
};

// "S" or "M" (anything else is M).
inline Shape shape(const char* name) {
  model::ModelConfig c;
  c.tie_embeddings = true;
  c.qkv_bias = false;
  c.max_seq = 256;
  if (!std::strcmp(name, "S")) {
    c.layers = 4, c.dim = 256, c.heads = 8, c.kv_heads = 8, c.ffn_dim = 688, c.vocab = 512;
    return {"S", c, 256, 16};
  }
  c.layers = 12, c.dim = 768, c.heads = 12, c.kv_heads = 12, c.ffn_dim = 2048, c.vocab = 50257;
  return {"M", c, 256, 4};
}

// Model FLOPs of one training token (3x the forward: matmuls + causal attention at length T, and
// the LM head).
inline double train_flops_per_token(const model::ModelConfig& c, int64_t T) {
  const double C = c.dim, D = c.head_dim(), H = c.heads, Hkv = c.kv_heads, F = c.ffn_dim;
  const double mm = 2 * (C * (H + 2 * Hkv) * D + H * D * C + C * 2 * F + F * C);
  const double attn = 2 * 2 * H * D * (T + 1) / 2.0;  // scores + values, average causal length
  return 3 * (c.layers * (mm + attn) + 2 * C * c.vocab);
}

}  // namespace k1rl::bench
