// Helpers for the kernel tests: seeded random tensors, max-error comparison, and a central
// finite-difference check of an analytic gradient on a sample of coordinates.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace k1rl::test {

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(gen);
  return v;
}

// max |a-b| / max(max |b|, floor): a relative error that ignores tiny entries.
inline double rel_err(const float* a, const double* b, size_t n, double floor = 1e-6) {
  double md = 0, mb = floor;
  for (size_t i = 0; i < n; ++i) {
    md = std::max(md, std::fabs(double(a[i]) - b[i]));
    mb = std::max(mb, std::fabs(b[i]));
  }
  return md / mb;
}
inline double rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  return rel_err(a.data(), b.data(), a.size());
}
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<double> bd(b.begin(), b.end());
  return rel_err(a.data(), bd.data(), a.size());
}

// Compares grad (analytic d loss / d x) with central differences of loss() at up to `samples`
// coordinates of x. The loss is evaluated in double from float outputs, so eps is large-ish.
inline void fd_check(const std::string& what, std::vector<float>& x, const std::vector<float>& grad,
                     const std::function<double()>& loss, int samples = 24, float eps = 1e-2f,
                     double tol = 2e-2) {
  ASSERT_EQ(x.size(), grad.size()) << what;
  std::mt19937 gen(1234);
  double gmax = 1e-3;
  for (float g : grad) gmax = std::max(gmax, double(std::fabs(g)));
  int n = static_cast<int>(x.size());
  for (int s = 0; s < std::min(samples, n); ++s) {
    int i = samples >= n ? s : static_cast<int>(gen() % n);
    float x0 = x[i];
    x[i] = x0 + eps;
    double lp = loss();
    x[i] = x0 - eps;
    double lm = loss();
    x[i] = x0;
    double num = (lp - lm) / (2.0 * eps);
    EXPECT_NEAR(grad[i], num, tol * std::max(gmax, std::fabs(num)))
        << what << " coordinate " << i << " of " << n;
  }
}

inline double dot(const std::vector<float>& a, const std::vector<float>& r) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * r[i];
  return s;
}

}  // namespace k1rl::test
