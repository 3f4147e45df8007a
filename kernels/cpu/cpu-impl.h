// Internal to kernels/cpu: the row-level vector primitives that the hot loops call. Each one is
// compiled three times (scalar, AVX2+FMA, AVX-512) from vec-body.inc; vec() returns the table
// for the ISA chosen at run time (ops::isa()), so no code depends on compile-time -march flags.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/ops.h"

namespace k1rl::ops::cpu {

// The attention kernels over keys and values stored as T (float, uint16_t: IEEE halves, Bf24).
template <class T>
struct CacheKernels {
  // Attention tiles over m query rows (any m; four at a time share each load). Keys are "tiled
  // transposed" (kKeyTile below; tile jb at kt + jb·tstride): s[r·lds + j] = Σ_d q[r·ldq + d]·
  // key_j[d] for j < n rounded up to a multiple of 16 (the extra entries are junk; s must have
  // room for them);
  void (*scores_t)(float* s, int64_t lds, const float* q, int64_t ldq, int64_t m, const T* kt,
                   int64_t D, int64_t tstride, int64_t n);
  // Decode attention of one sequence: query row q[H·D] (head h reads kv head h/G) against n
  // cached positions, keys tile jb of kv head hk at kt + jb·tstride + hk·16·D, values of
  // position j at v + j·ldv + hk·D; writes out[H·D] and lse[H] (when not null). s is scratch
  // of H rows of lds >= n rounded up to 16.
  void (*attend_seq)(float* out, float* lse, const float* q, int64_t H, int64_t G, int64_t D,
                     const T* kt, int64_t tstride, const T* v, int64_t ldv, int64_t n, float scale,
                     float* s, int64_t lds);
  // out[r·ldo + d] = Σ_j p[r·ldp + j]·v[j·ldv + d] for d < D, j < n (overwrites out);
  void (*gemv_rows)(float* out, int64_t ldo, const float* p, int64_t ldp, int64_t m, const T* v,
                    int64_t ldv, int64_t n, int64_t D);
  void (*convert)(T* dst, const float* src, int64_t n);  // round to nearest even
};

struct VecOps {
  float (*dot)(const float* a, const float* b, int64_t n);
  void (*axpy)(float* y, float a, const float* x, int64_t n);  // y += a·x
  CacheKernels<float> f32;     // also the training layout's attention
  CacheKernels<uint16_t> f16;  // IEEE halves
  CacheKernels<Bf24> bf24;
  // acc[j·D + d] += Σ_r w[r·ldw + j]·x[r·ldx + d] for j < n, d < D (rank-m update).
  void (*rank_update)(float* acc, const float* w, int64_t ldw, const float* x, int64_t ldx,
                      int64_t m, int64_t n, int64_t D);
  // C[n·ldc + m] (=, or += when acc) Σ_k X[n·ldx + k]·W[m, k] (+ bias[m]) for n < N and the
  // outputs m of panels [p0, p1) of W packed by ops::pack_weights.
  void (*gemm_packed)(float* C, int64_t ldc, const float* X, int64_t ldx, int64_t N, int64_t K,
                      const float* P, int64_t M, int64_t p0, int64_t p1, const float* bias,
                      bool acc);
  // x[j] = exp(x[j]·scale - shift); returns Σ x[j].
  float (*exp_scaled)(float* x, int64_t n, float scale, float shift);
  float (*max)(const float* x, int64_t n);
  // Softmax statistics of one row: mx = max z; s = Σ exp(z - mx); t = Σ exp(z - mx)·(z - mx).
  void (*softmax_row)(const float* z, int64_t n, float* mx, float* s, float* t);
  // z[k] <- exp(y)·(a + b·y) with y = z[k] - lse (the fused softmax/entropy backward).
  void (*softmax_bwd_row)(float* z, int64_t n, float lse, float a, float b);
  void (*swiglu_fwd)(float* out, const float* g, const float* u, int64_t n);
  void (*swiglu_bwd)(float* dg, float* du, const float* dout, const float* g, const float* u,
                     int64_t n);
  float (*sumsq)(const float* x, int64_t n);
  void (*scale_mul)(float* out, const float* x, const float* w, float s, int64_t n);  // out = x·w·s
  void (*adamw)(float* p, const float* g, float* m, float* v, int64_t n, const AdamWArgs& a);
  const char* name;
};

const VecOps& vec();

template <class T>
const CacheKernels<T>& cache_kernels(const VecOps& V) {
  if constexpr (std::is_same_v<T, float>)
    return V.f32;
  else if constexpr (std::is_same_v<T, uint16_t>)
    return V.f16;
  else
    return V.bf24;
}
// One element of a cache of T from a float (the scalar twin of the vector stores).
template <class T>
T elem_from_float(float x) {
  if constexpr (std::is_same_v<T, float>)
    return x;
  else if constexpr (std::is_same_v<T, uint16_t>)
    return half_from_float(x);
  else
    return bf24_from_float(x);
}

// Rotary embedding of one row of n_heads heads of D (ops::rope_apply's rule; cos/sin of the
// row's position, sgn -1 for the inverse): rope_apply and the fused attention_cached share it.
inline void rope_row(float* x, int64_t n_heads, int64_t D, const float* c, const float* s,
                     float sgn) {
  const int64_t half = D / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* x1 = x + h * D;
    float* x2 = x1 + half;
    for (int64_t i = 0; i < half; ++i) {
      float a = x1[i], b = x2[i], si = sgn * s[i];
      x1[i] = a * c[i] - b * si;
      x2[i] = b * c[i] + a * si;
    }
  }
}

// Keys in the layout scores_t reads: key j = 16·jb + jj, dim d at kt[jb·tstride + d·16 + jj].
constexpr int64_t kKeyTile = 16;
inline int64_t key_tiles(int64_t n) {
  return (n + kKeyTile - 1) / kKeyTile;
}
const VecOps* vec_scalar();
const VecOps* vec_avx2();
const VecOps* vec_avx512();

}  // namespace k1rl::ops::cpu
