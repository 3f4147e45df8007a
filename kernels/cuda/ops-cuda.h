// k1rl CUDA kernels: device twins of kernels/ops.h calls, same arguments plus a stream, all
// pointers on the device. Each op lives in kernels/cuda/<op>.cu; its CPU twin in kernels/cpu/ is
// the oracle in tests (tests/unit/cuda, skipped without a GPU). Built when nvcc is found
// (K1RL_CUDA=AUTO|ON). Started with the ops of the normalisation, MLP and optimizer paths and the
// cuBLAS matmul; attention and the rest follow the same pattern.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace k1rl::ops::cuda {

// Number of usable CUDA devices (0 without a driver or GPU; never throws).
int device_count();
std::string device_name(int device);

// out[N,M] = in[N,K] · W[M,K]^T (+ bias[M]); cuBLAS sgemm, row-major like the CPU twin.
void matmul_forward(float* out, const float* in, const float* w, const float* bias, int64_t N,
                    int64_t K, int64_t M, cudaStream_t stream);
// RMSNorm over rows of C: out = in / sqrt(mean(in²) + eps) · weight; rstd[N] may be nullptr.
void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int64_t N,
                     int64_t C, float eps, cudaStream_t stream);
// SwiGLU: gu[N, 2F] = (gate | up) per row; out[N, F] = silu(gate) · up.
void swiglu_forward(float* out, const float* gu, int64_t N, int64_t F, cudaStream_t stream);
// y += x over n floats.
void add_inplace(float* y, const float* x, int64_t n, cudaStream_t stream);
// AdamW with PyTorch's formula (kernels/ops.h AdamWArgs).
struct AdamWArgs {
  float lr, beta1, beta2, eps, weight_decay, bias_corr1, bias_corr2, grad_scale;
};
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWArgs& a,
                  cudaStream_t stream);

}  // namespace k1rl::ops::cuda
