// sample_token: greedy, top-k, top-p, temperature, and that the empirical frequencies of many
// seeded draws follow the intended distribution; log-probabilities are the right ones.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/model/model.h"

namespace k1rl::test {
namespace {

const std::vector<float> kLogits{1.0f, 3.0f, 0.5f, 2.9f, -1.0f, 3.0f};

std::vector<double> probs(double t, const std::vector<int>& keep) {
  std::vector<double> p(kLogits.size(), 0.0);
  double s = 0;
  for (int k : keep) s += (p[k] = std::exp(kLogits[k] / t));
  for (auto& x : p) x /= s;
  return p;
}

std::vector<double> frequencies(const model::SamplingParams& sp, int draws) {
  Rng rng(9);
  std::vector<double> f(kLogits.size(), 0.0);
  for (int i = 0; i < draws; ++i) {
    float blp, mlp;
    f[model::sample_token(kLogits.data(), kLogits.size(), sp, rng, &blp, &mlp)] += 1.0 / draws;
  }
  return f;
}

TEST(Sample, GreedyTakesTheFirstMaximum) {
  model::SamplingParams sp;
  sp.temperature = 0;
  Rng rng(1);
  float blp, mlp;
  EXPECT_EQ(model::sample_token(kLogits.data(), 6, sp, rng, &blp, &mlp), 1);
  EXPECT_EQ(blp, 0.f);
  double lse = 0;
  for (float z : kLogits) lse += std::exp(z);
  EXPECT_NEAR(mlp, 3.0 - std::log(lse), 1e-6);
  sp.temperature = 1;
  sp.top_k = 1;
  EXPECT_EQ(model::sample_token(kLogits.data(), 6, sp, rng, &blp, &mlp), 1);
  EXPECT_NEAR(blp, 0.f, 1e-7);
}

TEST(Sample, FrequenciesFollowTemperatureTopKTopP) {
  const int draws = 40000;
  struct Case {
    double t, p;
    int64_t k;
    std::vector<int> keep;
  };
  // top_k = 3 keeps {1, 5, 3}; top_p = 0.6 at T = 1 keeps {1, 5} (0.332 + 0.332 >= 0.6).
  for (const Case& c : {Case{1.0, 1.0, 0, {0, 1, 2, 3, 4, 5}},
                        Case{0.5, 1.0, 0, {0, 1, 2, 3, 4, 5}}, Case{1.0, 1.0, 3, {1, 3, 5}},
                        Case{1.0, 0.6, 0, {1, 5}}, Case{2.0, 0.999, 4, {0, 1, 3, 5}}}) {
    model::SamplingParams sp;
    sp.temperature = c.t;
    sp.top_p = c.p;
    sp.top_k = c.k;
    auto f = frequencies(sp, draws);
    auto p = probs(c.t, c.keep);
    for (size_t k = 0; k < p.size(); ++k)
      EXPECT_NEAR(f[k], p[k], 4 * std::sqrt(p[k] * (1 - p[k]) / draws) + 1e-9)
          << "T " << c.t << " top_p " << c.p << " top_k " << c.k << " token " << k;
    Rng rng(3);
    float blp, mlp;
    int tok = model::sample_token(kLogits.data(), 6, sp, rng, &blp, &mlp);
    EXPECT_NEAR(blp, std::log(p[tok]), 1e-5);
  }
}

TEST(Sample, BadParametersAreRefused) {
  model::SamplingParams sp;
  sp.top_p = 0;
  Rng rng(1);
  float a, b;
  EXPECT_THROW(model::sample_token(kLogits.data(), 6, sp, rng, &a, &b), InputError);
}

}  // namespace
}  // namespace k1rl::test
