// Linear layers on the CPU: cblas_sgemm (OpenBLAS) for the products, OpenMP for bias sums.
#include <cblas.h>

#include <vector>

#include "kernels/cpu/cpu-impl.h"

namespace k1rl::ops {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(M), static_cast<blasint>(N),
              static_cast<blasint>(K), alpha, A, static_cast<blasint>(lda), B,
              static_cast<blasint>(ldb), beta, C, static_cast<blasint>(ldc));
}

void matmul_forward(float* out, const float* in, const float* w, const float* bias, int64_t N,
                    int64_t K, int64_t M, bool accumulate) {
  if (N <= 0) return;
  float beta = accumulate ? 1.f : 0.f;
  if (bias) {
#pragma omp parallel for schedule(static) if (N * M > 32768)
    for (int64_t n = 0; n < N; ++n) {
      float* o = out + n * M;
      if (accumulate)
        for (int64_t m = 0; m < M; ++m) o[m] += bias[m];
      else
        for (int64_t m = 0; m < M; ++m) o[m] = bias[m];
    }
    beta = 1.f;
  }
  gemm(false, true, N, M, K, 1.f, in, K, w, K, beta, out, M);
}

void matmul_backward(float* din, float* dw, float* dbias, const float* dout, const float* in,
                     const float* w, int64_t N, int64_t K, int64_t M, bool accumulate_din) {
  if (N <= 0) return;
  if (din) gemm(false, false, N, K, M, 1.f, dout, M, w, K, accumulate_din ? 1.f : 0.f, din, K);
  if (dw) gemm(true, false, M, K, N, 1.f, dout, M, in, K, 1.f, dw, K);
  if (dbias) {
    // Column sums, split over column blocks so that threads never share an output element.
    const int64_t block = 64;
#pragma omp parallel for schedule(static) if (N * M > 32768)
    for (int64_t m0 = 0; m0 < M; m0 += block) {
      int64_t m1 = m0 + block < M ? m0 + block : M;
      for (int64_t n = 0; n < N; ++n) {
        const float* d = dout + n * M;
        for (int64_t m = m0; m < m1; ++m) dbias[m] += d[m];
      }
    }
  }
}

}  // namespace k1rl::ops
