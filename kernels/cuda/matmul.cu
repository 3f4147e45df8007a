// Linear layer forward with cuBLAS. Row-major out[N,M] = in[N,K]·W[M,K]^T is column-major
// out^T[M,N] = W·in^T: sgemm(op(W) = T, op(in) = N) with W seen as a K×M column-major matrix.
#include <mutex>

#include "kernels/cuda/cuda-check.h"
#include "kernels/cuda/ops-cuda.h"

namespace k1rl::ops::cuda {

namespace {
cublasHandle_t handle() {
  static cublasHandle_t h = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { K1RL_CUBLAS_CHECK(cublasCreate(&h)); });
  return h;
}

__global__ void add_bias(float* out, const float* bias, int64_t N, int64_t M) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < N * M) out[i] += bias[i % M];
}
}  // namespace

void matmul_forward(float* out, const float* in, const float* w, const float* bias, int64_t N,
                    int64_t K, int64_t M, cudaStream_t stream) {
  if (N <= 0 || K <= 0 || M <= 0) return;
  const float one = 1.0f, zero = 0.0f;
  K1RL_CUBLAS_CHECK(cublasSetStream(handle(), stream));
  K1RL_CUBLAS_CHECK(cublasSgemm(handle(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(M),
                                static_cast<int>(N), static_cast<int>(K), &one, w,
                                static_cast<int>(K), in, static_cast<int>(K), &zero, out,
                                static_cast<int>(M)));
  if (bias) {
    add_bias<<<blocks_for(N * M, 256), 256, 0, stream>>>(out, bias, N, M);
    K1RL_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace k1rl::ops::cuda
