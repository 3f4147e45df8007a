// Row-wise ops over the vocabulary and the MLP on the CPU: softmax statistics (log-sum-exp,
// per-token log-probability and entropy) with their fused backward, SwiGLU, and the embedding.
#include <cmath>

#include "kernels/cpu/cpu-impl.h"
#include "kernels/cpu/parallel.h"

namespace k1rl::ops {

void softmax_stats(float* lse, float* logprob, float* entropy, const float* logits,
                   const int32_t* target, int64_t N, int64_t V) {
  const auto& Vo = cpu::vec();
  cpu::parallel_static(N, N * V > 65536, [&](int64_t n) {
    const float* z = logits + n * V;
    float mx, s, t;
    Vo.softmax_row(z, V, &mx, &s, &t);
    const float log_s = std::log(s);
    const float l = mx + log_s;
    if (lse) lse[n] = l;
    if (entropy) entropy[n] = log_s - t / s;
    if (logprob && target) logprob[n] = z[target[n]] - l;
  });
}

// d/dz_k [w·log p_t + e·H] = w·(δ_kt - p_k) - e·p_k·(log p_k + H)
//                          = w·δ_kt + p_k·(a + b·log p_k) with a = -w - e·H, b = -e.
void softmax_backward_inplace(float* logits, const float* lse, const float* entropy,
                              const int32_t* target, const float* wlp, const float* went, int64_t N,
                              int64_t V) {
  const auto& Vo = cpu::vec();
  cpu::parallel_static(N, N * V > 65536, [&](int64_t n) {
    float* z = logits + n * V;
    const float w = wlp ? wlp[n] : 0.f, e = went ? went[n] : 0.f;
    if (w == 0.f && e == 0.f) {
      for (int64_t k = 0; k < V; ++k) z[k] = 0.f;
      return;
    }
    const float h = e != 0.f ? entropy[n] : 0.f;
    Vo.softmax_bwd_row(z, V, lse[n], -w - e * h, -e);
    if (w != 0.f) z[target[n]] += w;
  });
}

float exp_weights(float* w, const float* z, int64_t n, float scale, float shift) {
  for (int64_t i = 0; i < n; ++i) w[i] = z[i];
  return cpu::vec().exp_scaled(w, n, scale, shift);
}

void swiglu_forward(float* out, const float* gu, int64_t N, int64_t F) {
  const auto& Vo = cpu::vec();
  cpu::parallel_static(N, N * F > 65536, [&](int64_t n) {
    Vo.swiglu_fwd(out + n * F, gu + n * 2 * F, gu + n * 2 * F + F, F);
  });
}

void swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F) {
  const auto& Vo = cpu::vec();
  cpu::parallel_static(N, N * F > 65536, [&](int64_t n) {
    Vo.swiglu_bwd(dgu + n * 2 * F, dgu + n * 2 * F + F, dout + n * F, gu + n * 2 * F,
                  gu + n * 2 * F + F, F);
  });
}

void embedding_forward(float* out, const float* table, const int32_t* tokens, int64_t N,
                       int64_t C) {
  cpu::parallel_static(N, N * C > 65536, [&](int64_t n) {
    const float* src = table + static_cast<int64_t>(tokens[n]) * C;
    float* dst = out + n * C;
    for (int64_t c = 0; c < C; ++c) dst[c] = src[c];
  });
}

// Tokens repeat, so threads split the channels rather than the tokens.
void embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int64_t N,
                        int64_t C) {
  const int64_t block = 64;
  cpu::parallel_static((C + block - 1) / block, N * C > 65536, [&](int64_t cb) {
    const int64_t c0 = cb * block, c1 = c0 + block < C ? c0 + block : C;
    for (int64_t n = 0; n < N; ++n) {
      float* dst = dtable + static_cast<int64_t>(tokens[n]) * C;
      const float* src = dout + n * C;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  });
}

}  // namespace k1rl::ops
