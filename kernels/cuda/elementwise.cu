// Elementwise ops: SwiGLU forward and y += x.
#include "kernels/cuda/cuda-check.h"
#include "kernels/cuda/ops-cuda.h"

namespace k1rl::ops::cuda {

namespace {
__global__ void swiglu(float* out, const float* gu, int64_t N, int64_t F) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= N * F) return;
  const int64_t n = i / F, f = i % F;
  const float g = gu[n * 2 * F + f], u = gu[n * 2 * F + F + f];
  out[i] = g / (1.0f + expf(-g)) * u;
}

__global__ void add(float* y, const float* x, int64_t n) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}
}  // namespace

void swiglu_forward(float* out, const float* gu, int64_t N, int64_t F, cudaStream_t stream) {
  if (N * F <= 0) return;
  swiglu<<<blocks_for(N * F, 256), 256, 0, stream>>>(out, gu, N, F);
  K1RL_CUDA_LAUNCH_CHECK();
}

void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  add<<<blocks_for(n, 256), 256, 0, stream>>>(y, x, n);
  K1RL_CUDA_LAUNCH_CHECK();
}

}  // namespace k1rl::ops::cuda
