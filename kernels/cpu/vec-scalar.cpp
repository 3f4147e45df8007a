// Portable build of the vector primitives (vec-body.inc) with one float per "vector": the
// fallback on CPUs without AVX2 and the plain twin the wider paths are tested against.
#include <cmath>
#include <cstdint>

#include "kernels/cpu/cpu-impl.h"

namespace k1rl::ops::cpu::scalar_impl {
namespace {

using VF = float;
constexpr int64_t W = 1;
constexpr const char* kIsaName = "scalar";

inline VF vset(float x) {
  return x;
}
inline VF vload(const float* p) {
  return *p;
}
inline void vstore(float* p, VF v) {
  *p = v;
}
inline VF vload_n(const float* p, int64_t n, float fill) {
  return n > 0 ? *p : fill;
}
inline void vstore_n(float* p, VF v, int64_t n) {
  if (n > 0) *p = v;
}
inline VF vadd(VF a, VF b) {
  return a + b;
}
inline VF vsub(VF a, VF b) {
  return a - b;
}
inline VF vmul(VF a, VF b) {
  return a * b;
}
inline VF vdiv(VF a, VF b) {
  return a / b;
}
inline VF vmax(VF a, VF b) {
  return a > b ? a : b;
}
inline VF vsqrt(VF a) {
  return std::sqrt(a);
}
inline VF vfma(VF a, VF b, VF c) {
  return a * b + c;
}
inline float hsum(VF v) {
  return v;
}
inline float hmax(VF v) {
  return v;
}
inline VF vexp(VF x) {
  return std::exp(x);
}
inline float sexp(float x) {
  return std::exp(x);
}
inline void vstore(uint16_t* p, VF x) {
  *p = half_from_float(x);
}
inline VF vload(const uint16_t* p) {
  return float_from_half(*p);
}
inline VF vload_n(const uint16_t* p, int64_t n, float fill) {
  return n > 0 ? float_from_half(*p) : fill;
}
inline void vstore(Bf24* p, VF x) {
  *p = bf24_from_float(x);
}
inline VF vload(const Bf24* p) {
  return float_from_bf24(*p);
}
inline VF vload_n(const Bf24* p, int64_t n, float fill) {
  return n > 0 ? float_from_bf24(*p) : fill;
}

#include "kernels/cpu/vec-body.inc"

}  // namespace
}  // namespace k1rl::ops::cpu::scalar_impl

namespace k1rl::ops::cpu {
const VecOps* vec_scalar() {
  return &scalar_impl::kOps;
}
}  // namespace k1rl::ops::cpu
