// AVX512-BF16 loops of the bf16 path: float -> bf16 conversion (vcvtne2ps2bf16, nearest even) and
// the packed decode product (vdpbf16ps: per output, a pair of bf16 products added to a float32
// accumulator). Compiled for that ISA only here, under a target pragma, and called only when
// the CPU reports it; scalar twins with the same rounding otherwise.
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")
#include <immintrin.h>

#include "kernels/cpu/bf16-impl.h"

namespace k1rl::ops::cpu {

bool have_avx512_bf16() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && isa() == Isa::avx512;
  }();
  return yes;
}

void convert_bf16_avx512(uint16_t* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16);
    _mm512_storeu_si512(dst + i, (__m512i)_mm512_cvtne2ps_pbh(b, a));
  }
  if (i < n) {
    const int64_t r = n - i;
    const __mmask16 ma = r >= 16 ? 0xffff : static_cast<__mmask16>((1u << r) - 1);
    const __mmask16 mb = r > 16 ? static_cast<__mmask16>((1u << (r - 16)) - 1) : 0;
    const __m512 a = _mm512_maskz_loadu_ps(ma, src + i);
    const __m512 b = _mm512_maskz_loadu_ps(mb, src + i + 16);
    const __mmask32 m = static_cast<__mmask32>((1ull << r) - 1);
    _mm512_mask_storeu_epi16(dst + i, m, (__m512i)_mm512_cvtne2ps_pbh(b, a));
  }
}

namespace {

// R rows (R <= 8) of X against one panel of 32 outputs.
template <int R>
inline void panel_tile(float* C, int64_t ldc, const uint16_t* X, int64_t ldx, int64_t K2,
                       const uint16_t* P, int64_t m0, int64_t M, const float* bias, bool acc) {
  __m512 c0[R], c1[R];
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  const uint32_t* x32 = reinterpret_cast<const uint32_t*>(X);
  const int64_t ldx2 = ldx / 2;
  for (int64_t k = 0; k < K2; ++k) {
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(P + k * 64);
    const __m512bh w1 = (__m512bh)_mm512_loadu_si512(P + k * 64 + 32);
    for (int r = 0; r < R; ++r) {
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(static_cast<int>(x32[r * ldx2 + k]));
      c0[r] = _mm512_dpbf16_ps(c0[r], xb, w0);
      c1[r] = _mm512_dpbf16_ps(c1[r], xb, w1);
    }
  }
  const int64_t left = M - m0;
  const __mmask16 k0 = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1);
  const __mmask16 k1 = left >= 32  ? 0xffff
                       : left > 16 ? static_cast<__mmask16>((1u << (left - 16)) - 1)
                                   : 0;
  __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
  if (bias)
    b0 = _mm512_maskz_loadu_ps(k0, bias + m0), b1 = _mm512_maskz_loadu_ps(k1, bias + m0 + 16);
  for (int r = 0; r < R; ++r) {
    float* o = C + r * ldc + m0;
    __m512 v0 = _mm512_add_ps(c0[r], b0), v1 = _mm512_add_ps(c1[r], b1);
    if (acc) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(k0, o));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(k1, o + 16));
    }
    _mm512_mask_storeu_ps(o, k0, v0);
    _mm512_mask_storeu_ps(o + 16, k1, v1);
  }
}

}  // namespace

void gemm_packed_bf16_avx512(float* C, int64_t ldc, const uint16_t* X, int64_t ldx, int64_t N,
                             int64_t K2, const uint16_t* P, int64_t M, int64_t p0, int64_t p1,
                             const float* bias, bool acc) {
  for (int64_t p = p0; p < p1; ++p) {
    const uint16_t* Pp = P + p * K2 * 64;
    const int64_t m0 = p * 32;
    int64_t n = 0;
    for (; n + 8 <= N; n += 8)
      panel_tile<8>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
    switch (N - n) {
      case 7:
        panel_tile<7>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      case 6:
        panel_tile<6>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      case 5:
        panel_tile<5>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      case 4:
        panel_tile<4>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      case 3:
        panel_tile<3>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      case 2:
        panel_tile<2>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      case 1:
        panel_tile<1>(C + n * ldc, ldc, X + n * ldx, ldx, K2, Pp, m0, M, bias, acc);
        break;
      default:
        break;
    }
  }
}

}  // namespace k1rl::ops::cpu
