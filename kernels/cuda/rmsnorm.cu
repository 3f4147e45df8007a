// RMSNorm forward: one block per row, a shared-memory sum of squares, then the scaled copy.
#include "kernels/cuda/cuda-check.h"
#include "kernels/cuda/ops-cuda.h"

namespace k1rl::ops::cuda {

namespace {
constexpr int kThreads = 256;

__global__ void rmsnorm_rows(float* out, float* rstd, const float* in, const float* weight,
                             int64_t C, float eps) {
  __shared__ float partial[kThreads];
  const float* x = in + blockIdx.x * C;
  float s = 0.0f;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += x[c] * x[c];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const float r = rsqrtf(partial[0] / static_cast<float>(C) + eps);
  if (threadIdx.x == 0 && rstd) rstd[blockIdx.x] = r;
  float* y = out + blockIdx.x * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[c] = x[c] * r * weight[c];
}
}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int64_t N,
                     int64_t C, float eps, cudaStream_t stream) {
  if (N <= 0) return;
  rmsnorm_rows<<<static_cast<unsigned>(N), kThreads, 0, stream>>>(out, rstd, in, weight, C, eps);
  K1RL_CUDA_LAUNCH_CHECK();
}

}  // namespace k1rl::ops::cuda
