// sample_token: greedy, top-k, top-p, temperature, and that the empirical frequencies of many
// seeded draws follow the intended distribution; log-probabilities are the right ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

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

// The nucleus over a 49k vocabulary (only a prefix is sorted) against the rule written out with
// a full sort: same token and behaviour log-prob on every draw, with and without top_k.
int32_t full_sort_sample(const std::vector<float>& z, const model::SamplingParams& p, Rng& rng,
                         float* blp) {
  const int64_t V = static_cast<int64_t>(z.size());
  std::vector<int32_t> ids(V);
  for (int64_t i = 0; i < V; ++i) ids[i] = static_cast<int32_t>(i);
  auto higher = [&](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  std::sort(ids.begin(), ids.end(), higher);
  if (p.top_k > 0) ids.resize(p.top_k);
  const double zmax = z[ids[0]];
  std::vector<double> w;
  double total = 0;
  for (int32_t i : ids) total += w.emplace_back(std::exp((z[i] - zmax) / p.temperature));
  size_t kept = 0;
  double cum = 0, mass = 0;
  while (kept < ids.size() && cum < p.top_p) mass += w[kept], cum += w[kept] / total, ++kept;
  const double u = rng.uniform() * mass;
  double c = 0;
  for (size_t i = 0; i < kept; ++i)
    if (u < (c += w[i])) {
      *blp = static_cast<float>(std::log(w[i] / mass));
      return ids[i];
    }
  *blp = static_cast<float>(std::log(w[kept - 1] / mass));
  return ids[kept - 1];
}

TEST(Sample, TopPOverALargeVocabularyEqualsAFullSort) {
  const int64_t V = 49152;
  std::mt19937 gen(3);
  std::normal_distribution<float> d(0.f, 3.f);
  for (const auto& [t, top_p, top_k] : std::vector<std::tuple<double, double, int64_t>>{
           {1.0, 0.9, 0}, {0.7, 0.95, 0}, {1.3, 0.5, 0}, {1.0, 0.9, 200}, {2.0, 0.99, 0}}) {
    model::SamplingParams sp;
    sp.temperature = t, sp.top_p = top_p, sp.top_k = top_k;
    for (int row = 0; row < 20; ++row) {
      std::vector<float> z(V);
      for (auto& x : z) x = d(gen);
      z[row * 7] = z[row * 7 + 1] = 9.f;  // a tie at the top
      Rng a(100 + row), b(100 + row);
      float blp, mlp, ref_blp;
      const int32_t got = model::sample_token(z.data(), V, sp, a, &blp, &mlp);
      const int32_t want = full_sort_sample(z, sp, b, &ref_blp);
      EXPECT_EQ(got, want) << "T " << t << " top_p " << top_p << " top_k " << top_k;
      EXPECT_NEAR(blp, ref_blp, 1e-5);
    }
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
