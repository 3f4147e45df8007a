// The long-tail policy of long-tail.h. With x the embedding of the current token (the blocks'
// outputs scaled away), the final RMSNorm gives h = x / sqrt(|x|²/C + eps) (weight 1), and the
// logit of token t is h · e_t. Class A rows are a·u1, class B rows b·u2, the stop row
// s1·u1 + s2·u2 (u1, u2: unit vectors of channels 1 and 2), plus N(0, 1e-3²) noise: after an A
// token, A tokens get logit g(a)·a, B tokens 0 and stop g(a)·s1 (g(m) = m / sqrt(m²/C + eps));
// after a B token likewise with b and s2. The four targets give the four magnitudes.
#include "tools/bench/partial/long-tail.h"

#include <algorithm>
#include <cmath>

#include "lib/core/core.h"

namespace k1rl::bench {

model::ModelConfig long_tail_shape(const std::string& shape, int64_t max_seq) {
  model::ModelConfig c;
  if (shape == "s") {
    c.vocab = 259, c.dim = 256, c.layers = 4, c.heads = 8, c.kv_heads = 8, c.ffn_dim = 688;
  } else if (shape == "smollm2") {  // inputs/configs/smollm2-135m.ini's model section
    c.vocab = 49152, c.dim = 576, c.layers = 30, c.heads = 9, c.kv_heads = 3, c.ffn_dim = 1536;
    c.rope_theta = 100000, c.norm_eps = 1e-5;
  } else {
    throw InputError("unknown shape '" + shape + "'", "", "use --shape s or --shape smollm2");
  }
  c.tie_embeddings = true, c.qkv_bias = false, c.max_seq = max_seq;
  return c;
}

namespace {
// The magnitude m whose own logit g(m)·m is `logit` (g(m)·m grows with m: bisection).
double magnitude(double logit, double C, double eps) {
  double lo = 0, hi = 100;
  for (int i = 0; i < 200; ++i) {
    const double m = 0.5 * (lo + hi);
    (m * m / std::sqrt(m * m / C + eps) < logit ? lo : hi) = m;
  }
  return 0.5 * (lo + hi);
}
}  // namespace

void set_long_tail_weights(model::Model& m, const LongTailMix& mix, uint64_t seed) {
  const model::ModelConfig& c = m.config();
  m.init_params(seed);
  for (int64_t l = 0; l < c.layers; ++l)
    for (const char* w : {"self_attn.o_proj.weight", "mlp.down_proj.weight"}) {
      const std::string name = "model.layers." + std::to_string(l) + "." + w;
      float* p = m.param(name);
      for (int64_t i = 0; i < m.tensor(name).size; ++i) p[i] *= 1e-3f;
    }
  const double C = static_cast<double>(c.dim), eps = c.norm_eps;
  const int32_t bytes = 259, stop = 257;    // the byte tokenizer's ids and its <eos>
  const double nA = 128, nB = bytes - 129;  // B: bytes >= 128, <bos>, <pad>
  // After A: Z = nA·e^{LA} + nB + e^{LsA}, with nB/Z = b_from_a and e^{LsA}/Z = stop_a.
  const double zA = nB / mix.b_from_a, zB = nA / mix.a_from_b;
  const double LA = std::log(zA * (1 - mix.b_from_a - mix.stop_a) / nA);
  const double LB = std::log(zB * (1 - mix.a_from_b - mix.stop_b) / nB);
  const double a = magnitude(LA, C, eps), b = magnitude(LB, C, eps);
  const double ga = a / std::sqrt(a * a / C + eps), gb = b / std::sqrt(b * b / C + eps);
  const double s1 = std::log(zA * mix.stop_a) / ga, s2 = std::log(zB * mix.stop_b) / gb;
  float* e = m.param("model.embed_tokens.weight");
  for (int64_t t = 0; t < c.vocab; ++t) {
    float* row = e + t * c.dim;
    for (int64_t i = 0; i < c.dim; ++i) row[i] *= 0.05f;  // N(0, 0.02²) -> N(0, 1e-3²)
    if (t == stop)
      row[1] += static_cast<float>(s1), row[2] += static_cast<float>(s2);
    else if (t < 128)
      row[1] += static_cast<float>(a);
    else if (t < bytes)
      row[2] += static_cast<float>(b);
    else  // logit -40 after either state
      row[1] -= static_cast<float>(40 / ga), row[2] -= static_cast<float>(40 / gb);
  }
}

std::string length_summary(std::vector<int64_t> v) {
  if (v.empty()) return "no answers";
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  auto q = [&](double f) {
    return static_cast<long long>(v[std::min(v.size() - 1, static_cast<size_t>(f * v.size()))]);
  };
  return strfmt("mean %.1f p50 %lld p90 %lld p99 %lld max %lld", sum / v.size(), q(0.5), q(0.9),
                q(0.99), static_cast<long long>(v.back()));
}

}  // namespace k1rl::bench
