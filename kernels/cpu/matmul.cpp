// Linear layers on the CPU: cblas_sgemm / cblas_sgemv (OpenBLAS) for the products, OpenMP for
// bias sums. The kernels split each product over their own OpenMP threads and run OpenBLAS
// single-threaded: OpenBLAS's worker threads would otherwise spin (sched_yield) against the
// OpenMP threads of every other op on the same cores. K1RL_GEMM_SPLIT=0 restores OpenBLAS's
// own threading (for comparisons).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "kernels/cpu/bf16-impl.h"
#include "kernels/cpu/cpu-impl.h"
#include "kernels/cpu/parallel.h"

// Present when the BLAS is OpenBLAS (weak: another CBLAS links too, with its own threading).
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace k1rl::ops {

namespace {

void sgemm1(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
            int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

bool split_gemm() {
  static std::once_flag once;
  static bool split = true;
  std::call_once(once, [] {
    const char* e = std::getenv("K1RL_GEMM_SPLIT");
    split = !(e && e[0] == '0');
    if (split && openblas_set_num_threads) openblas_set_num_threads(1);
  });
  return split;
}

// Slabs of `dim` for T threads, in multiples of 16.
int64_t slab(int64_t dim, int T) {
  return ((dim + T - 1) / T + 15) / 16 * 16;
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  const bool split = split_gemm();
  const int T = split && (cpu::in_team() || !omp_in_parallel()) ? cpu::loop_threads() : 1;
  const double work = static_cast<double>(M) * N * K;
  if (M == 1 && !trans_a && split) {
    // One row (a decode step at batch 1): a matrix-vector product, without sgemm's packing of
    // the whole weight matrix; split over the outputs.
    const int Tv = work >= 2e5 ? T : 1;
    const int64_t chunk = slab(N, Tv);
    cpu::parallel_static((N + chunk - 1) / chunk, Tv > 1, [&](int64_t c) {
      const int64_t lo = c * chunk, hi = lo + chunk < N ? lo + chunk : N;
      {
        if (trans_b)  // C[j] = Σ_k A[k]·B[j, k]
          cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<blasint>(hi - lo),
                      static_cast<blasint>(K), alpha, B + lo * ldb, static_cast<blasint>(ldb), A, 1,
                      beta, C + lo, 1);
        else  // C[j] = Σ_k A[k]·B[k, j]
          cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<blasint>(K),
                      static_cast<blasint>(hi - lo), alpha, B + lo, static_cast<blasint>(ldb), A, 1,
                      beta, C + lo, 1);
      }
    });
    return;
  }
  if (T == 1 || work < 2e5) {
    if (cpu::in_team()) {  // one thread of the team does it
      team_single([&] { sgemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc); });
      return;
    }
    sgemm1(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split the larger output dimension into slabs (between T and 4T of them, at least 256 wide
  // where possible) that the threads take dynamically, so that a thread the OS preempts (the
  // cores are shared) does not hold up the others.
  const bool by_rows = M >= N;
  const int64_t dim = by_rows ? M : N;
  int64_t parts = dim / 256;
  parts = parts < T ? T : (parts > 4 * T ? 4 * T : parts);
  const int64_t chunk = slab(dim, static_cast<int>(parts));
  const int64_t n_chunks = (dim + chunk - 1) / chunk;
  cpu::parallel_dynamic(n_chunks, 1, true, [&](int64_t c) {
    const int64_t lo = c * chunk, hi = lo + chunk < dim ? lo + chunk : dim;
    if (by_rows)
      sgemm1(trans_a, trans_b, hi - lo, N, K, alpha, trans_a ? A + lo : A + lo * lda, lda, B, ldb,
             beta, C + lo * ldc, ldc);
    else
      sgemm1(trans_a, trans_b, M, hi - lo, K, alpha, A, lda, trans_b ? B + lo * ldb : B + lo, ldb,
             beta, C + lo, ldc);
  });
}

// A packed copy opens with a header of kPackHeader floats whose first word names its format.
constexpr int64_t kPackHeader = 16;
constexpr uint32_t kPackF32 = 0x32335046u, kPackBf16 = 0x36314642u;  // "FP32", "BF16"

int64_t packed_size(int64_t M, int64_t K) {
  return packed_size(M, K, Precision::fp32);
}

int64_t packed_size(int64_t M, int64_t K, Precision p) {
  const int64_t per_panel = p == Precision::bf16 ? 32 * ((K + 1) / 2) : 32 * K;  // bf16: 2 a float
  return kPackHeader + (M + 31) / 32 * per_panel;
}

void pack_weights(float* packed, const float* w, int64_t M, int64_t K) {
  const bool bf16 = precision() == Precision::bf16;
  const uint32_t tag = bf16 ? kPackBf16 : kPackF32;
  std::memcpy(packed, &tag, 4);
  packed += kPackHeader;
  if (bf16) {
    cpu::pack_weights_bf16(reinterpret_cast<uint16_t*>(packed), w, M, K);
    return;
  }
  const int64_t panels = (M + 31) / 32;
  cpu::parallel_static(panels, M * K > (1 << 16), [&](int64_t p) {
    for (int64_t k = 0; k < K; ++k)
      for (int64_t c = 0; c < 32; ++c) {
        const int64_t m = p * 32 + c;
        packed[(p * K + k) * 32 + c] = m < M ? w[m * K + k] : 0.f;
      }
  });
}

// Tasks are (block of up to 128 rows) x (chunk of panels), taken dynamically by the threads; a
// row block and a panel chunk both stay in L2 while the task runs. A single small product stays
// on one thread.
void matmul_packed(float* out, const float* in, const float* packed, const float* bias, int64_t N,
                   int64_t K, int64_t M, bool accumulate) {
  if (N <= 0) return;
  uint32_t tag;
  std::memcpy(&tag, packed, 4);
  packed += kPackHeader;
  if (tag == kPackBf16) {
    cpu::matmul_packed_bf16(out, in, reinterpret_cast<const uint16_t*>(packed), bias, N, K, M,
                            accumulate);
    return;
  }
  const auto& V = cpu::vec();
  const int64_t panels = (M + 31) / 32, rows_per = 128;
  const int64_t row_blocks = (N + rows_per - 1) / rows_per;
  const int T = cpu::in_team() || !omp_in_parallel() ? cpu::loop_threads() : 1;
  const bool par = T > 1 && static_cast<double>(N) * M * K >= 2e5;
  int64_t per = panels;  // panels per task
  if (par && row_blocks < 4 * T) per = std::max<int64_t>(1, panels * row_blocks / (4 * T));
  const int64_t chunks = (panels + per - 1) / per;
  cpu::parallel_dynamic(row_blocks * chunks, 1, par, [&](int64_t t) {
    const int64_t r0 = (t / chunks) * rows_per, p0 = (t % chunks) * per;
    const int64_t rows = N - r0 < rows_per ? N - r0 : rows_per;
    const int64_t p1 = p0 + per < panels ? p0 + per : panels;
    V.gemm_packed(out + r0 * M, M, in + r0 * K, K, rows, K, packed, M, p0, p1, bias, accumulate);
  });
}

void matmul_forward(float* out, const float* in, const float* w, const float* bias, int64_t N,
                    int64_t K, int64_t M, bool accumulate) {
  if (N <= 0) return;
  if (precision() == Precision::bf16) {
    cpu::matmul_forward_bf16(out, in, w, bias, N, K, M, accumulate);
    return;
  }
  float beta = accumulate ? 1.f : 0.f;
  if (bias) {
    cpu::parallel_static(N, N * M > 32768, [&](int64_t n) {
      float* o = out + n * M;
      if (accumulate)
        for (int64_t m = 0; m < M; ++m) o[m] += bias[m];
      else
        for (int64_t m = 0; m < M; ++m) o[m] = bias[m];
    });
    beta = 1.f;
  }
  gemm(false, true, N, M, K, 1.f, in, K, w, K, beta, out, M);
}

void matmul_backward(float* din, float* dw, float* dbias, const float* dout, const float* in,
                     const float* w, int64_t N, int64_t K, int64_t M, bool accumulate_din) {
  if (N <= 0) return;
  if (precision() == Precision::bf16) {
    cpu::matmul_backward_bf16(din, dw, dout, in, w, N, K, M, accumulate_din);
  } else {
    if (din) gemm(false, false, N, K, M, 1.f, dout, M, w, K, accumulate_din ? 1.f : 0.f, din, K);
    if (dw) gemm(true, false, M, K, N, 1.f, dout, M, in, K, 1.f, dw, K);
  }
  if (dbias) {
    // Column sums, split over column blocks so that threads never share an output element.
    const int64_t block = 64;
    cpu::parallel_static((M + block - 1) / block, N * M > 32768, [&](int64_t mb) {
      const int64_t m0 = mb * block, m1 = m0 + block < M ? m0 + block : M;
      for (int64_t n = 0; n < N; ++n) {
        const float* d = dout + n * M;
        for (int64_t m = m0; m < m1; ++m) dbias[m] += d[m];
      }
    });
  }
}

}  // namespace k1rl::ops
