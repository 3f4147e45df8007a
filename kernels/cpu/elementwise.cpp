// Elementwise ops, reductions and the AdamW update on the CPU (OpenMP over chunks).
#include "kernels/cpu/cpu-impl.h"
#include "kernels/cpu/parallel.h"

namespace k1rl::ops {
namespace {
constexpr int64_t kChunk = 1 << 14;  // elements per OpenMP work item
constexpr int64_t kParallelMin = 1 << 16;
}  // namespace

void add_inplace(float* y, const float* x, int64_t n) {
  cpu::parallel_static(n, n > kParallelMin, [&](int64_t i) { y[i] += x[i]; });
}

void scale_inplace(float* x, float a, int64_t n) {
  cpu::parallel_static(n, n > kParallelMin, [&](int64_t i) { x[i] *= a; });
}

void copy(float* y, const float* x, int64_t n) {
  cpu::parallel_static(n, n > kParallelMin, [&](int64_t i) { y[i] = x[i]; });
}

void fill(float* x, float value, int64_t n) {
  cpu::parallel_static(n, n > kParallelMin, [&](int64_t i) { x[i] = value; });
}

// Float partial sums over chunks of 16k elements, accumulated in double.
double sum_squares(const float* x, int64_t n) {
  const auto& V = cpu::vec();
  cpu::no_team("sum_squares");
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (n > kParallelMin)
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t len = i0 + kChunk < n ? kChunk : n - i0;
    total += static_cast<double>(V.sumsq(x + i0, len));
  }
  return total;
}

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWArgs& a) {
  const auto& V = cpu::vec();
  cpu::parallel_static((n + kChunk - 1) / kChunk, n > kParallelMin, [&](int64_t c) {
    const int64_t i0 = c * kChunk, len = i0 + kChunk < n ? kChunk : n - i0;
    V.adamw(p + i0, g + i0, m + i0, v + i0, len, a);
  });
}

}  // namespace k1rl::ops
