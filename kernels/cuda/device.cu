// Device discovery that never throws: a machine without a GPU or driver reports 0 devices.
#include "kernels/cuda/ops-cuda.h"

namespace k1rl::ops::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) return "?";
  return p.name;
}

}  // namespace k1rl::ops::cuda
