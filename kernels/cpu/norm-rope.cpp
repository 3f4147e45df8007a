// RMSNorm and rotary position embedding (Hugging Face LLaMA "rotate_half" layout) on the CPU.
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu-impl.h"
#include "kernels/cpu/parallel.h"

namespace k1rl::ops {

void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int64_t N,
                     int64_t C, float eps) {
  const auto& V = cpu::vec();
  cpu::parallel_static(N, N * C > 65536, [&](int64_t n) {
    const float* x = in + n * C;
    float r = 1.f / std::sqrt(V.sumsq(x, C) / static_cast<float>(C) + eps);
    if (rstd) rstd[n] = r;
    V.scale_mul(out + n * C, x, weight, r, C);
  });
}

// y = x·r·w with r = (mean(x²) + eps)^-1/2:
//   dx = r·(w∘dy) - x·r³/C·Σ_j (w∘dy)_j x_j;   dw += Σ_n dy∘x·r.
void rmsnorm_backward(float* din, float* dweight, const float* dout, const float* in,
                      const float* weight, const float* rstd, int64_t N, int64_t C) {
  const auto& V = cpu::vec();
  cpu::no_team("rmsnorm_backward");
#pragma omp parallel if (N * C > 65536)
  {
    std::vector<float> dw_local(dweight ? C : 0, 0.f), wdy(C);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      const float* x = in + n * C;
      const float* dy = dout + n * C;
      float r = rstd[n];
      for (int64_t c = 0; c < C; ++c) wdy[c] = weight[c] * dy[c];
      float dot = V.dot(wdy.data(), x, C);
      float k = -dot * r * r * r / static_cast<float>(C);
      float* dx = din + n * C;
      for (int64_t c = 0; c < C; ++c) dx[c] += r * wdy[c] + k * x[c];
      if (dweight)
        for (int64_t c = 0; c < C; ++c) dw_local[c] += dy[c] * x[c] * r;
    }
    if (dweight) {
#pragma omp critical(k1rl_rmsnorm_dw)
      for (int64_t c = 0; c < C; ++c) dweight[c] += dw_local[c];
    }
  }
}

void rope_table(float* cos_t, float* sin_t, int64_t P, int64_t D, double theta) {
  const int64_t half = D / 2;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double inv_freq = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(D));
      double a = static_cast<double>(p) * inv_freq;
      cos_t[p * half + i] = static_cast<float>(std::cos(a));
      sin_t[p * half + i] = static_cast<float>(std::sin(a));
    }
}

// x1' = x1·cos - x2·sin, x2' = x2·cos + x1·sin (x1 = first half of a head, x2 = second half);
// the inverse uses -sin.
void rope_apply(float* x, int64_t ld, const int32_t* pos, int64_t N, int64_t n_heads, int64_t D,
                const float* cos_t, const float* sin_t, bool inverse) {
  const int64_t half = D / 2;
  const float sgn = inverse ? -1.f : 1.f;
  cpu::parallel_static(N, N * n_heads * D > 131072, [&](int64_t n) {
    cpu::rope_row(x + n * ld, n_heads, D, cos_t + static_cast<int64_t>(pos[n]) * half,
                  sin_t + static_cast<int64_t>(pos[n]) * half, sgn);
  });
}

}  // namespace k1rl::ops
