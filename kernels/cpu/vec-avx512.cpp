// AVX-512 build of the vector primitives (vec-body.inc). Compiled with a target pragma, not a
// global -m flag: it only runs when ops::isa() found AVX-512 on the CPU at run time.
// GCC 12 reports false "uninitialized" warnings inside its own AVX-512 intrinsic headers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/cpu/cpu-impl.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma")

namespace k1rl::ops::cpu::avx512_impl {
namespace {

using VF = __m512;
constexpr int64_t W = 16;
constexpr const char* kIsaName = "avx512";

inline __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
}
inline VF vset(float x) {
  return _mm512_set1_ps(x);
}
inline VF vload(const float* p) {
  return _mm512_loadu_ps(p);
}
inline void vstore(float* p, VF v) {
  _mm512_storeu_ps(p, v);
}
inline VF vload_n(const float* p, int64_t n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p);
}
inline void vstore_n(float* p, VF v, int64_t n) {
  _mm512_mask_storeu_ps(p, tail_mask(n), v);
}
inline VF vadd(VF a, VF b) {
  return _mm512_add_ps(a, b);
}
inline VF vsub(VF a, VF b) {
  return _mm512_sub_ps(a, b);
}
inline VF vmul(VF a, VF b) {
  return _mm512_mul_ps(a, b);
}
inline VF vdiv(VF a, VF b) {
  return _mm512_div_ps(a, b);
}
inline VF vmax(VF a, VF b) {
  return _mm512_max_ps(a, b);
}
inline VF vsqrt(VF a) {
  return _mm512_sqrt_ps(a);
}
inline VF vfma(VF a, VF b, VF c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline float hsum(VF v) {
  return _mm512_reduce_add_ps(v);
}
inline float hmax(VF v) {
  return _mm512_reduce_max_ps(v);
}
// exp(x): Cephes range reduction and polynomial (about 1 ulp), 2^n applied with scalef.
inline VF vexp(VF x) {
  x = _mm512_min_ps(_mm512_max_ps(x, vset(-87.5f)), vset(88.5f));
  VF n = _mm512_roundscale_ps(_mm512_mul_ps(x, vset(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  VF r = _mm512_fnmadd_ps(n, vset(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, vset(-2.12194440e-4f), r);
  VF p = vset(1.9875691500e-4f);
  p = vfma(p, r, vset(1.3981999507e-3f));
  p = vfma(p, r, vset(8.3334519073e-3f));
  p = vfma(p, r, vset(4.1665795894e-2f));
  p = vfma(p, r, vset(1.6666665459e-1f));
  p = vfma(p, r, vset(5.0000001201e-1f));
  p = vfma(vmul(p, r), r, vadd(r, vset(1.f)));
  return _mm512_scalef_ps(p, n);
}
inline float sexp(float x) {
  return std::exp(x);
}
inline void vstore(uint16_t* p, VF x) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p),
                      _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
inline VF vload(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline VF vload_n(const uint16_t* p, int64_t n, float fill) {
  const __m512 x = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail_mask(n), p));
  return _mm512_mask_blend_ps(tail_mask(n), _mm512_set1_ps(fill), x);
}
// Bf24: 16 elements are 48 bytes; 128-bit lane i takes bytes 12i..12i+11 and spreads each
// 3 bytes into the top of a dword (the low byte zero).
inline VF b24_spread(__m512i raw) {
  const __m512i lanes = _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9, 9, 10, 11, 12), raw);
  const __m512i spread = _mm512_broadcast_i32x4(
      _mm_setr_epi8(-128, 0, 1, 2, -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11));
  return _mm512_castsi512_ps(_mm512_shuffle_epi8(lanes, spread));
}
inline __mmask64 b24_mask(int64_t n) {
  return n >= 16 ? __mmask64(0xFFFFFFFFFFFFull) : __mmask64((1ull << (3 * n)) - 1);
}
inline VF vload(const Bf24* p) {
  return b24_spread(_mm512_maskz_loadu_epi8(b24_mask(16), p));
}
inline VF vload_n(const Bf24* p, int64_t n, float fill) {
  const __m512 x = b24_spread(_mm512_maskz_loadu_epi8(b24_mask(n < 0 ? 0 : n), p));
  return _mm512_mask_blend_ps(tail_mask(n), _mm512_set1_ps(fill), x);
}
inline void vstore(Bf24* p, VF x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 8), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7f)));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                                _mm512_set1_epi32(0x7f800000));
  r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
  const __m512i pick = _mm512_broadcast_i32x4(
      _mm_setr_epi8(1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, -128, -128, -128, -128));
  const __m512i packed = _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 15, 15, 15),
      _mm512_shuffle_epi8(r, pick));
  _mm512_mask_storeu_epi8(p, b24_mask(16), packed);
}

#include "kernels/cpu/vec-body.inc"

}  // namespace
}  // namespace k1rl::ops::cpu::avx512_impl

#pragma GCC pop_options

namespace k1rl::ops::cpu {
const VecOps* vec_avx512() {
  return &avx512_impl::kOps;
}
}  // namespace k1rl::ops::cpu
