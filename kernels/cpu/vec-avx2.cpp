// AVX2+FMA build of the vector primitives (vec-body.inc). Compiled with a target pragma, not a
// global -m flag: it only runs when ops::isa() found AVX2 and FMA on the CPU at run time.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/cpu/cpu-impl.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace k1rl::ops::cpu::avx2_impl {
namespace {

using VF = __m256;
constexpr int64_t W = 8;
constexpr const char* kIsaName = "avx2";

alignas(32) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
inline __m256i tail_mask(int64_t n) {
  n = n < 0 ? 0 : (n > 8 ? 8 : n);
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n));
}
inline VF vset(float x) {
  return _mm256_set1_ps(x);
}
inline VF vload(const float* p) {
  return _mm256_loadu_ps(p);
}
inline void vstore(float* p, VF v) {
  _mm256_storeu_ps(p, v);
}
inline VF vload_n(const float* p, int64_t n, float fill) {
  __m256i m = tail_mask(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
inline void vstore_n(float* p, VF v, int64_t n) {
  _mm256_maskstore_ps(p, tail_mask(n), v);
}
inline VF vadd(VF a, VF b) {
  return _mm256_add_ps(a, b);
}
inline VF vsub(VF a, VF b) {
  return _mm256_sub_ps(a, b);
}
inline VF vmul(VF a, VF b) {
  return _mm256_mul_ps(a, b);
}
inline VF vdiv(VF a, VF b) {
  return _mm256_div_ps(a, b);
}
inline VF vmax(VF a, VF b) {
  return _mm256_max_ps(a, b);
}
inline VF vsqrt(VF a) {
  return _mm256_sqrt_ps(a);
}
inline VF vfma(VF a, VF b, VF c) {
  return _mm256_fmadd_ps(a, b, c);
}
inline float hsum(VF v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(VF v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// exp(x): Cephes range reduction and polynomial (about 1 ulp), 2^n built in the exponent bits.
inline VF vexp(VF x) {
  x = _mm256_min_ps(_mm256_max_ps(x, vset(-87.3f)), vset(88.3f));
  VF n = _mm256_round_ps(_mm256_mul_ps(x, vset(1.44269504088896341f)),
                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  VF r = _mm256_fnmadd_ps(n, vset(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, vset(-2.12194440e-4f), r);
  VF p = vset(1.9875691500e-4f);
  p = vfma(p, r, vset(1.3981999507e-3f));
  p = vfma(p, r, vset(8.3334519073e-3f));
  p = vfma(p, r, vset(4.1665795894e-2f));
  p = vfma(p, r, vset(1.6666665459e-1f));
  p = vfma(p, r, vset(5.0000001201e-1f));
  p = vfma(vmul(p, r), r, vadd(r, vset(1.f)));
  __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
inline float sexp(float x) {
  return std::exp(x);
}
inline void vstore(uint16_t* p, VF x) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                   _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
inline VF vload(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline VF vload_n(const uint16_t* p, int64_t n, float fill) {
  alignas(16) uint16_t t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n && i < 8; ++i) t[i] = p[i];
  const __m256 x = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
  return _mm256_blendv_ps(_mm256_set1_ps(fill), x, _mm256_castsi256_ps(tail_mask(n)));
}

// Bf24: 8 elements are 24 bytes; 128-bit lane i takes bytes 12i..12i+11 and spreads each
// 3 bytes into the top of a dword (the low byte zero).
inline VF b24_spread(__m256i raw) {
  const __m256i lanes = _mm256_permutevar8x32_epi32(raw, _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6));
  const __m256i spread =
      _mm256_setr_epi8(-128, 0, 1, 2, -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11, -128, 0, 1, 2,
                       -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11);
  return _mm256_castsi256_ps(_mm256_shuffle_epi8(lanes, spread));
}
inline VF vload(const Bf24* p) {  // six dwords: never reads past the 24 bytes
  return b24_spread(_mm256_maskload_epi32(reinterpret_cast<const int*>(p), tail_mask(6)));
}
inline VF vload_n(const Bf24* p, int64_t n, float fill) {
  Bf24 t[8] = {};
  for (int64_t i = 0; i < n && i < 8; ++i) t[i] = p[i];
  return _mm256_blendv_ps(_mm256_set1_ps(fill), vload(t), _mm256_castsi256_ps(tail_mask(n)));
}
inline void vstore(Bf24* p, VF x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 8), _mm256_set1_epi32(1));
  const __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7f)));
  const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                         _mm256_set1_epi32(0x7f800000));
  const __m256i q = _mm256_or_si256(u, _mm256_set1_epi32(0x00400000));
  const __m256i b = _mm256_blendv_epi8(r, q, nan);
  const __m256i pick =
      _mm256_setr_epi8(1, 2, 3, 5, 6, 7, 9, 10, 11, 13, 14, 15, -128, -128, -128, -128, 1, 2, 3, 5,
                       6, 7, 9, 10, 11, 13, 14, 15, -128, -128, -128, -128);
  const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(b, pick),
                                                     _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
  _mm256_maskstore_epi32(reinterpret_cast<int*>(p), tail_mask(6), packed);
}

#include "kernels/cpu/vec-body.inc"

}  // namespace
}  // namespace k1rl::ops::cpu::avx2_impl

#pragma GCC pop_options

namespace k1rl::ops::cpu {
const VecOps* vec_avx2() {
  return &avx2_impl::kOps;
}
}  // namespace k1rl::ops::cpu
