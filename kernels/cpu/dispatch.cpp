// Run-time ISA choice for kernels/cpu: the widest of scalar/AVX2/AVX-512 that the CPU reports
// (__builtin_cpu_supports), capped by K1RL_ISA=scalar|avx2|avx512 for tests and comparisons.
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/cpu-impl.h"

namespace k1rl::ops {
namespace {

Isa cpu_best() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return Isa::avx2;
  return Isa::scalar;
}

Isa initial_isa() {
  Isa best = cpu_best();
  const char* env = std::getenv("K1RL_ISA");
  if (!env || !*env) return best;
  Isa want = best;
  if (!std::strcmp(env, "scalar")) want = Isa::scalar;
  if (!std::strcmp(env, "avx2")) want = Isa::avx2;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

std::atomic<int>& isa_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_isa())};
  return slot;
}

}  // namespace

Isa isa() {
  return static_cast<Isa>(isa_slot().load(std::memory_order_relaxed));
}

const char* isa_name(Isa i) {
  switch (i) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "scalar";
  }
}

void set_isa(Isa want) {
  Isa best = cpu_best();
  if (static_cast<int>(want) > static_cast<int>(best)) want = best;
  isa_slot().store(static_cast<int>(want));
}

int num_threads() {
  return omp_get_max_threads();
}

namespace cpu {
const VecOps& vec() {
  switch (isa()) {
    case Isa::avx512:
      return *vec_avx512();
    case Isa::avx2:
      return *vec_avx2();
    default:
      return *vec_scalar();
  }
}
}  // namespace cpu

}  // namespace k1rl::ops
