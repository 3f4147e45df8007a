// AdamW update, PyTorch's formula (see kernels/ops.h): one thread per parameter.
#include "kernels/cuda/cuda-check.h"
#include "kernels/cuda/ops-cuda.h"

namespace k1rl::ops::cuda {

namespace {
__global__ void adamw(float* p, const float* g, float* m, float* v, int64_t n, AdamWArgs a) {
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float grad = g[i] * a.grad_scale;
  float w = p[i] - a.lr * a.weight_decay * p[i];
  const float mi = a.beta1 * m[i] + (1.0f - a.beta1) * grad;
  const float vi = a.beta2 * v[i] + (1.0f - a.beta2) * grad * grad;
  m[i] = mi;
  v[i] = vi;
  w -= (a.lr / a.bias_corr1) * mi / (sqrtf(vi) / sqrtf(a.bias_corr2) + a.eps);
  p[i] = w;
}
}  // namespace

void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWArgs& a,
                  cudaStream_t stream) {
  if (n <= 0) return;
  adamw<<<blocks_for(n, 256), 256, 0, stream>>>(p, g, m, v, n, a);
  K1RL_CUDA_LAUNCH_CHECK();
}

}  // namespace k1rl::ops::cuda
