// Each CUDA op against its CPU twin (kernels/cpu) on random data over a few shapes. Skips itself
// when the machine has no usable GPU (CI), so the CPU-only path always passes.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/cuda/ops-cuda.h"
#include "kernels/ops.h"
#include "lib/core/core.h"

using namespace k1rl;

namespace {
struct Dev {
  float* p = nullptr;
  explicit Dev(const std::vector<float>& h) {
    cudaMalloc(&p, h.size() * sizeof(float));
    cudaMemcpy(p, h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice);
  }
  explicit Dev(size_t n) { cudaMalloc(&p, n * sizeof(float)); }
  ~Dev() { cudaFree(p); }
  std::vector<float> get(size_t n) const {
    std::vector<float> h(n);
    cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost);
    return h;
  }
};

std::vector<float> randn(size_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(r.normal());
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * (1.0f + std::fabs(want[i]))) << what << " element " << i;
}

class CudaOps : public ::testing::TestWithParam<std::pair<int64_t, int64_t>> {
 protected:
  void SetUp() override {
    if (ops::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};
}  // namespace

TEST_P(CudaOps, MatchCpuTwins) {
  const auto [N, C] = GetParam();
  const int64_t M = C + 7, F = C / 2 + 3;
  auto x = randn(static_cast<size_t>(N * C), 1), w = randn(static_cast<size_t>(M * C), 2),
       b = randn(static_cast<size_t>(M), 3), nw = randn(static_cast<size_t>(C), 4),
       gu = randn(static_cast<size_t>(N * 2 * F), 5);
  // matmul
  std::vector<float> want(static_cast<size_t>(N * M));
  ops::matmul_forward(want.data(), x.data(), w.data(), b.data(), N, C, M);
  Dev dx(x), dw(w), db(b), dout(static_cast<size_t>(N * M));
  ops::cuda::matmul_forward(dout.p, dx.p, dw.p, db.p, N, C, M, nullptr);
  expect_close(dout.get(static_cast<size_t>(N * M)), want, 1e-4f, "matmul");
  // rmsnorm
  std::vector<float> rn(static_cast<size_t>(N * C)), rs(static_cast<size_t>(N));
  ops::rmsnorm_forward(rn.data(), rs.data(), x.data(), nw.data(), N, C, 1e-5f);
  Dev dn(nw), dy(static_cast<size_t>(N * C)), dr(static_cast<size_t>(N));
  ops::cuda::rmsnorm_forward(dy.p, dr.p, dx.p, dn.p, N, C, 1e-5f, nullptr);
  expect_close(dy.get(static_cast<size_t>(N * C)), rn, 1e-5f, "rmsnorm");
  expect_close(dr.get(static_cast<size_t>(N)), rs, 1e-5f, "rstd");
  // swiglu and add
  std::vector<float> sw(static_cast<size_t>(N * F));
  ops::swiglu_forward(sw.data(), gu.data(), N, F);
  Dev dgu(gu), dsw(static_cast<size_t>(N * F));
  ops::cuda::swiglu_forward(dsw.p, dgu.p, N, F, nullptr);
  expect_close(dsw.get(static_cast<size_t>(N * F)), sw, 1e-5f, "swiglu");
  std::vector<float> sum = rn;
  ops::add_inplace(sum.data(), x.data(), N * C);
  ops::cuda::add_inplace(dy.p, dx.p, N * C, nullptr);
  expect_close(dy.get(static_cast<size_t>(N * C)), sum, 1e-6f, "add");
  // adamw, three steps
  auto p = randn(static_cast<size_t>(N * C), 6), g = randn(static_cast<size_t>(N * C), 7);
  std::vector<float> m(p.size(), 0.0f), v(p.size(), 0.0f);
  Dev dp(p), dg(g), dm(m), dv(v);
  for (int step = 1; step <= 3; ++step) {
    ops::AdamWArgs a{1e-2f,
                     0.9f,
                     0.95f,
                     1e-8f,
                     0.1f,
                     static_cast<float>(1.0 - std::pow(0.9, step)),
                     static_cast<float>(1.0 - std::pow(0.95, step)),
                     0.5f};
    ops::adamw_update(p.data(), g.data(), m.data(), v.data(), N * C, a);
    ops::cuda::adamw_update(
        dp.p, dg.p, dm.p, dv.p, N * C,
        {a.lr, a.beta1, a.beta2, a.eps, a.weight_decay, a.bias_corr1, a.bias_corr2, a.grad_scale},
        nullptr);
  }
  expect_close(dp.get(p.size()), p, 1e-5f, "adamw");
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaOps,
                         ::testing::Values(std::make_pair<int64_t, int64_t>(1, 64),
                                           std::make_pair<int64_t, int64_t>(17, 256),
                                           std::make_pair<int64_t, int64_t>(64, 768)));
