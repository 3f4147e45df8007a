// lib/optim against hand-computed values: warm-up + cosine and constant schedules, the clipping
// factor, AdamW with and without decay on separate ranges (PyTorch's formula in double), the
// non-finite gradient refusal, reset, and the [optim] section.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lib/optim/optim.h"

namespace k1rl::test {
namespace {

TEST(Schedule, WarmupThenCosine) {
  optim::OptimConfig c;
  c.lr = 1.0;
  c.warmup_steps = 4;
  c.total_steps = 14;
  c.lr_final_frac = 0.1;
  EXPECT_DOUBLE_EQ(optim::lr_at(c, 0), 0.25);
  EXPECT_DOUBLE_EQ(optim::lr_at(c, 3), 1.0);
  EXPECT_DOUBLE_EQ(optim::lr_at(c, 4), 1.0);
  EXPECT_NEAR(optim::lr_at(c, 9), 0.1 + 0.9 * 0.5, 1e-12);  // half way: cos(pi/2) = 0
  EXPECT_NEAR(optim::lr_at(c, 14), 0.1, 1e-12);
  EXPECT_NEAR(optim::lr_at(c, 100), 0.1, 1e-12);
  c.schedule = "constant";
  EXPECT_DOUBLE_EQ(optim::lr_at(c, 1), 0.5);
  EXPECT_DOUBLE_EQ(optim::lr_at(c, 100), 1.0);
}

TEST(Clip, FactorAndNorm) {
  std::vector<float> g{3.f, 4.f};
  EXPECT_NEAR(optim::global_norm(g.data(), 2), 5.0, 1e-12);
  EXPECT_NEAR(optim::clip_factor(5.0, 1.0), 1.0 / (5.0 + 1e-6), 1e-12);
  EXPECT_EQ(optim::clip_factor(0.5, 1.0), 1.0);
  EXPECT_EQ(optim::clip_factor(50.0, 0.0), 1.0);
}

TEST(AdamW, RangesClippingAndScheduleAgainstFormula) {
  const int64_t n = 300;
  std::mt19937 gen(1);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> p(n);
  for (auto& x : p) x = d(gen);
  std::vector<double> pd(p.begin(), p.end()), m(n, 0.0), v(n, 0.0);
  optim::OptimConfig c;
  c.lr = 0.01;
  c.weight_decay = 0.5;
  c.grad_clip = 2.0;
  c.warmup_steps = 2;
  c.total_steps = 5;
  // [0,100) decays, [100,150) does not, [150,300) decays.
  optim::AdamW opt(c, n, {{100, 50, false}, {0, 100, true}, {150, 150, true}});
  for (int step = 1; step <= 4; ++step) {
    std::vector<float> g(n);
    for (auto& x : g) x = d(gen) * 0.5f;
    auto st = opt.step(p.data(), g.data());
    double norm = 0;
    for (float x : g) norm += double(x) * x;
    norm = std::sqrt(norm);
    const double scale = std::min(1.0, 2.0 / (norm + 1e-6));
    const double lr = optim::lr_at(c, step - 1);
    EXPECT_NEAR(st.grad_norm, norm, 1e-6 * norm);  // float partial sums
    EXPECT_NEAR(st.clip_scale, scale, 1e-6 * scale);
    EXPECT_DOUBLE_EQ(st.lr, lr);
    const double bc1 = 1 - std::pow(0.9, step), bc2 = 1 - std::pow(0.95, step);
    for (int64_t i = 0; i < n; ++i) {
      const double gi = g[i] * scale, wd = (i >= 100 && i < 150) ? 0.0 : 0.5;
      pd[i] *= 1 - lr * wd;
      m[i] = 0.9 * m[i] + 0.1 * gi;
      v[i] = 0.95 * v[i] + 0.05 * gi * gi;
      pd[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + 1e-8);
    }
  }
  EXPECT_EQ(opt.step_count(), 4);
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(p[i], pd[i], 1e-5 * (1 + std::fabs(pd[i]))) << i;
  opt.reset();
  EXPECT_EQ(opt.step_count(), 0);
  EXPECT_EQ(opt.m()[7], 0.f);
}

TEST(AdamW, NonFiniteGradientIsRefusedWithoutChange) {
  std::vector<float> p{1.f, 2.f}, g{0.1f, NAN};
  optim::AdamW opt(optim::OptimConfig{}, 2);
  EXPECT_THROW(opt.step(p.data(), g.data()), NumericError);
  EXPECT_EQ(p[0], 1.f);
  EXPECT_EQ(opt.step_count(), 0);
  EXPECT_THROW(optim::AdamW(optim::OptimConfig{}, 2, {{0, 3, true}}), InputError);
}

TEST(OptimConfig, SectionAndValidation) {
  ConfigSpec spec;
  optim::declare_optim_options(spec);
  auto c = optim::OptimConfig::from_config(
      Config::parse(spec, "[optim]\nlr = 0.002\nschedule = constant\n", "t.ini", {}));
  EXPECT_DOUBLE_EQ(c.lr, 0.002);
  EXPECT_EQ(c.schedule, "constant");
  EXPECT_THROW(
      optim::OptimConfig::from_config(Config::parse(spec, "[optim]\nbeta2 = 1.5\n", "t.ini", {})),
      ConfigError);
}

}  // namespace
}  // namespace k1rl::test
