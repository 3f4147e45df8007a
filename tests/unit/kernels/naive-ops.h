// Plain double-precision versions of the kernel forwards, written from the formulas and
// independent of kernels/cpu: the oracles of the kernel tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace k1rl::test {

inline std::vector<double> naive_matmul(const std::vector<float>& in, const std::vector<float>& w,
                                        const float* bias, int64_t N, int64_t K, int64_t M) {
  std::vector<double> out(N * M);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      double s = bias ? bias[m] : 0.0;
      for (int64_t k = 0; k < K; ++k) s += double(in[n * K + k]) * w[m * K + k];
      out[n * M + m] = s;
    }
  return out;
}

inline std::vector<double> naive_rmsnorm(const std::vector<float>& x, const std::vector<float>& w,
                                         int64_t N, int64_t C, double eps) {
  std::vector<double> out(N * C);
  for (int64_t n = 0; n < N; ++n) {
    double ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += double(x[n * C + c]) * x[n * C + c];
    double r = 1.0 / std::sqrt(ss / C + eps);
    for (int64_t c = 0; c < C; ++c) out[n * C + c] = x[n * C + c] * r * w[c];
  }
  return out;
}

// q·cos + rotate_half(q)·sin with rotate_half(x) = (-x2, x1), angles pos·theta^(-2i/D).
inline std::vector<double> naive_rope(const std::vector<float>& x, const std::vector<int32_t>& pos,
                                      int64_t N, int64_t Hn, int64_t D, double theta) {
  std::vector<double> out(x.size());
  int64_t half = D / 2;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < Hn; ++h)
      for (int64_t d = 0; d < D; ++d) {
        int64_t i = d % half;
        double a = pos[n] * std::pow(theta, -2.0 * i / D);
        const float* r = x.data() + (n * Hn + h) * D;
        double rot = d < half ? -r[d + half] : r[d - half];
        out[(n * Hn + h) * D + d] = r[d] * std::cos(a) + rot * std::sin(a);
      }
  return out;
}

// Causal GQA attention over packed sequences (training layout), rows of H·D / Hkv·D floats.
inline std::vector<double> naive_attention(const std::vector<float>& q, const std::vector<float>& k,
                                           const std::vector<float>& v,
                                           const std::vector<int32_t>& cu, int64_t H, int64_t Hkv,
                                           int64_t D) {
  int64_t N = cu.back(), G = H / Hkv;
  std::vector<double> out(N * H * D, 0.0);
  for (size_t b = 0; b + 1 < cu.size(); ++b)
    for (int64_t i = cu[b]; i < cu[b + 1]; ++i)
      for (int64_t h = 0; h < H; ++h) {
        int64_t hk = h / G;
        std::vector<double> s;
        double mx = -1e300;
        for (int64_t j = cu[b]; j <= i; ++j) {
          double d = 0;
          for (int64_t e = 0; e < D; ++e)
            d += double(q[(i * H + h) * D + e]) * k[(j * Hkv + hk) * D + e];
          d /= std::sqrt(double(D));
          s.push_back(d);
          mx = std::max(mx, d);
        }
        double z = 0;
        for (auto& x : s) z += (x = std::exp(x - mx));
        for (int64_t j = cu[b]; j <= i; ++j)
          for (int64_t e = 0; e < D; ++e)
            out[(i * H + h) * D + e] += s[j - cu[b]] / z * v[(j * Hkv + hk) * D + e];
      }
  return out;
}

}  // namespace k1rl::test
