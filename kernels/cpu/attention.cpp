// Causal grouped-query attention over packed variable-length sequences on the CPU. One task per
// (sequence, key/value head); the forward keeps only the log-sum-exp of each query row and the
// backward recomputes the probabilities from it (as flash attention does), so memory stays O(N).
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu-impl.h"

namespace k1rl::ops {
namespace {

// Per-thread scratch: the key (and value) block of one task transposed to [D, L] so that a
// query's scores against all keys are one vectorised pass over contiguous memory.
struct Scratch {
  std::vector<float> kt, vt, s, dp, dk, dv;
};

void transpose_rows(float* dst, const float* src, int64_t ld, int64_t L, int64_t D) {
  for (int64_t j = 0; j < L; ++j)
    for (int64_t d = 0; d < D; ++d) dst[d * L + j] = src[j * ld + d];
}

// Scores of one query against keys 0..n-1 of the task (unscaled).
inline void task_scores(const cpu::VecOps& V, float* s, const float* qrow, const float* k0,
                        int64_t ldk, const float* kt, int64_t L, int64_t D, int64_t n) {
  if (kt) {
    V.scores_t(s, qrow, kt, L, D, n);
  } else {
    for (int64_t j = 0; j < n; ++j) s[j] = V.dot(qrow, k0 + j * ldk, D);
  }
}

// Multiply-adds of one pass (scores or values), to skip threads for tiny problems.
int64_t attention_work(const AttnShape& sh) {
  int64_t w = 0;
  for (int64_t b = 0; b < sh.B; ++b) w += int64_t(sh.q_cu[b + 1] - sh.q_cu[b]) * sh.kv_len[b];
  return w * sh.H * sh.D;
}
constexpr int64_t kParallelWork = 1 << 15;

// Transposing pays off when many queries share the key block.
inline bool use_transposed(int64_t queries, int64_t L) {
  return queries >= 8 && L >= 16;
}

}  // namespace

void attention_forward(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq,
                       const float* k, int64_t ldk, const float* v, int64_t ldv,
                       const AttnShape& sh) {
  const auto& V = cpu::vec();
  const int64_t B = sh.B, H = sh.H, Hkv = sh.Hkv, D = sh.D, G = H / Hkv;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
#pragma omp parallel if (attention_work(sh) > kParallelWork)
  {
    Scratch sc;
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hk = 0; hk < Hkv; ++hk) {
        const int64_t q0 = sh.q_cu[b], nq = sh.q_cu[b + 1] - q0, L = sh.kv_len[b];
        if (nq <= 0) continue;
        const float* k0 = k + static_cast<int64_t>(sh.kv_start[b]) * ldk + hk * D;
        const float* v0 = v + static_cast<int64_t>(sh.kv_start[b]) * ldv + hk * D;
        const float* kt = nullptr;
        if (use_transposed(nq * G, L)) {
          sc.kt.resize(L * D);
          transpose_rows(sc.kt.data(), k0, ldk, L, D);
          kt = sc.kt.data();
        }
        sc.s.resize(L);
        float* s = sc.s.data();
        for (int64_t g = 0; g < G; ++g) {
          const int64_t h = hk * G + g;
          for (int64_t i = 0; i < nq; ++i) {
            const int64_t n = L - nq + i + 1;  // keys visible to this query
            const float* qrow = q + (q0 + i) * ldq + h * D;
            float* orow = out + (q0 + i) * ldo + h * D;
            task_scores(V, s, qrow, k0, ldk, kt, L, D, n);
            const float m = V.max(s, n) * scale;
            const float sum = V.exp_scaled(s, n, scale, m);
            V.gemv_rows(orow, s, v0, ldv, n, D);
            const float inv = 1.f / sum;
            for (int64_t d = 0; d < D; ++d) orow[d] *= inv;
            if (lse) lse[(q0 + i) * H + h] = m + std::log(sum);
          }
        }
      }
  }
}

// With P = softmax(scale·QKᵀ) and O = PV:  dV = Pᵀ dO;  dP = dO Vᵀ;
// dS = P ∘ (dP - rowsum(dO ∘ O));  dQ = scale·dS K;  dK = scale·dSᵀ Q.
void attention_backward(float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
                        const float* dout, int64_t lddo, const float* out, int64_t ldo,
                        const float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                        const float* v, int64_t ldv, const AttnShape& sh) {
  const auto& V = cpu::vec();
  const int64_t B = sh.B, H = sh.H, Hkv = sh.Hkv, D = sh.D, G = H / Hkv;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
#pragma omp parallel if (attention_work(sh) > kParallelWork)
  {
    Scratch sc;
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hk = 0; hk < Hkv; ++hk) {
        const int64_t q0 = sh.q_cu[b], nq = sh.q_cu[b + 1] - q0, L = sh.kv_len[b];
        const int64_t r0 = sh.kv_start[b];
        if (L <= 0) continue;
        const float* k0 = k + r0 * ldk + hk * D;
        const float* v0 = v + r0 * ldv + hk * D;
        sc.dk.assign(L * D, 0.f);
        sc.dv.assign(L * D, 0.f);
        sc.s.resize(L);
        sc.dp.resize(L);
        const float *kt = nullptr, *vt = nullptr;
        if (use_transposed(nq * G, L)) {
          sc.kt.resize(L * D);
          sc.vt.resize(L * D);
          transpose_rows(sc.kt.data(), k0, ldk, L, D);
          transpose_rows(sc.vt.data(), v0, ldv, L, D);
          kt = sc.kt.data();
          vt = sc.vt.data();
        }
        float *s = sc.s.data(), *dp = sc.dp.data();
        for (int64_t g = 0; g < G; ++g) {
          const int64_t h = hk * G + g;
          for (int64_t i = 0; i < nq; ++i) {
            const int64_t n = L - nq + i + 1;
            const int64_t row = q0 + i;
            const float* qrow = q + row * ldq + h * D;
            const float* dorow = dout + row * lddo + h * D;
            task_scores(V, s, qrow, k0, ldk, kt, L, D, n);
            V.exp_scaled(s, n, scale, lse[row * H + h]);      // s = P row
            task_scores(V, dp, dorow, v0, ldv, vt, L, D, n);  // dp = dO·Vᵀ
            const float di = V.dot(dorow, out + row * ldo + h * D, D);
            for (int64_t j = 0; j < n; ++j) {
              V.axpy(sc.dv.data() + j * D, s[j], dorow, D);
              dp[j] = s[j] * (dp[j] - di) * scale;  // scaled dS
              V.axpy(sc.dk.data() + j * D, dp[j], qrow, D);
            }
            V.gemv_rows(dq + row * lddq + h * D, dp, k0, ldk, n, D);
          }
        }
        for (int64_t j = 0; j < L; ++j)
          for (int64_t d = 0; d < D; ++d) {
            dk[(r0 + j) * lddk + hk * D + d] = sc.dk[j * D + d];
            dv[(r0 + j) * lddv + hk * D + d] = sc.dv[j * D + d];
          }
      }
  }
}

}  // namespace k1rl::ops
