// Checks of CUDA runtime and cuBLAS calls: a failure throws k1rl::RuntimeFault naming the call,
// the error, rank, host and file:line (kernels/cuda only; the model never sees CUDA types).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "lib/core/core.h"

#define K1RL_CUDA_CHECK(call)                                                             \
  do {                                                                                    \
    cudaError_t k1rl_err_ = (call);                                                       \
    if (k1rl_err_ != cudaSuccess)                                                         \
      ::k1rl::foreign_call_failed("CUDA", #call, cudaGetErrorString(k1rl_err_), __FILE__, \
                                  __LINE__);                                              \
  } while (0)

#define K1RL_CUBLAS_CHECK(call)                                                               \
  do {                                                                                        \
    cublasStatus_t k1rl_st_ = (call);                                                         \
    if (k1rl_st_ != CUBLAS_STATUS_SUCCESS)                                                    \
      ::k1rl::foreign_call_failed("cuBLAS", #call, cublasGetStatusString(k1rl_st_), __FILE__, \
                                  __LINE__);                                                  \
  } while (0)

// After a kernel launch: reports a bad launch configuration at once.
#define K1RL_CUDA_LAUNCH_CHECK() K1RL_CUDA_CHECK(cudaGetLastError())

namespace k1rl::ops::cuda {
inline unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}
}  // namespace k1rl::ops::cuda
