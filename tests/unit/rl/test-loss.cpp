// Policy losses: finite differences of each loss (k15: of the surrogate whose gradient DESIGN.md
// prescribes), the k1.5 special cases, latest-only masking, and NaN refusal.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/rl/rl.h"

using namespace k1rl;
using namespace k1rl::rl;

namespace {
struct Group {
  std::vector<std::vector<float>> lp, lb;
  std::vector<std::vector<int32_t>> seg;
  std::vector<double> r;
  std::vector<AnswerView> views() {
    std::vector<AnswerView> v;
    for (size_t j = 0; j < lp.size(); ++j)
      v.push_back(
          {lp[j].data(), lb[j].data(), seg[j].data(), static_cast<int64_t>(lp[j].size()), r[j]});
    return v;
  }
};

Group make_group(uint64_t seed) {
  Rng rng(seed);
  Group g;
  for (int j = 0; j < 4; ++j) {
    int T = 2 + static_cast<int>(rng.below(6));
    std::vector<float> lp, lb;
    std::vector<int32_t> seg;
    for (int t = 0; t < T; ++t) {
      lp.push_back(static_cast<float>(-0.1 - 2 * rng.uniform()));
      lb.push_back(lp.back() + static_cast<float>(0.05 * rng.normal()));  // inside the clip range
      seg.push_back(t < T / 2 ? 2 : 3);
    }
    g.lp.push_back(lp);
    g.lb.push_back(lb);
    g.seg.push_back(seg);
    g.r.push_back(j % 2 ? 1.0 : 0.0);
  }
  return g;
}

// The function whose gradient group_loss returns (k15: the report's surrogate; others: the loss).
double objective(const LossConfig& cfg, Group& g) {
  if (cfg.algorithm != Algorithm::k15) {
    std::vector<std::vector<float>> d;
    std::vector<float*> dp;
    for (auto& x : g.lp) d.emplace_back(x.size());
    for (auto& x : d) dp.push_back(x.data());
    return group_loss(cfg, g.views(), dp).loss;
  }
  double rbar = 0;
  for (double r : g.r) rbar += r / static_cast<double>(g.r.size());
  double L = 0;
  for (size_t j = 0; j < g.lp.size(); ++j) {
    double S = 0, Sb = 0;
    int n = 0;
    for (size_t t = 0; t < g.lp[j].size(); ++t)
      if (!cfg.latest_only || g.seg[j][t] == cfg.iteration) S += g.lp[j][t], Sb += g.lb[j][t], ++n;
    if (cfg.token_norm) S /= n, Sb /= n;
    L += (-(g.r[j] - rbar) * S + cfg.tau / 2 * (S - Sb) * (S - Sb)) /
         static_cast<double>(g.r.size());
  }
  return L;
}

void check_fd(LossConfig cfg) {
  Group g = make_group(11);
  std::vector<std::vector<float>> d;
  std::vector<float*> dp;
  for (auto& x : g.lp) d.emplace_back(x.size());
  for (auto& x : d) dp.push_back(x.data());
  group_loss(cfg, g.views(), dp);
  for (size_t j = 0; j < g.lp.size(); ++j)
    for (size_t t = 0; t < g.lp[j].size(); ++t) {
      const float h = 1e-2f;
      float keep = g.lp[j][t];
      g.lp[j][t] = keep + h;
      double up = objective(cfg, g);
      g.lp[j][t] = keep - h;
      double dn = objective(cfg, g);
      g.lp[j][t] = keep;
      double fd = (up - dn) / (2 * h);
      EXPECT_NEAR(d[j][t], fd, 2e-3 + 1e-3 * std::fabs(fd)) << "answer " << j << " token " << t;
    }
}
}  // namespace

TEST(Loss, FiniteDifferencesEveryAlgorithm) {
  for (Algorithm a : {Algorithm::k15, Algorithm::grpo, Algorithm::ppo_clip, Algorithm::reinforce})
    for (bool latest : {false, true})
      for (bool norm : {false, true}) {
        LossConfig c;
        c.algorithm = a;
        c.tau = 0.2;
        c.kl_coef = a == Algorithm::grpo ? 0.1 : 0.0;
        c.latest_only = latest;
        c.token_norm = norm;
        c.iteration = 3;
        SCOPED_TRACE(strfmt("algorithm %d latest %d norm %d", static_cast<int>(a), latest, norm));
        check_fd(c);
      }
}

TEST(Loss, K15OnPolicyGradientIsMinusAdvantage) {
  // At θ = θ_i the KL term vanishes: d/dlogp_t = −(r_j − r̄)/k, and the loss is Σ (r_j − r̄)²/k.
  Group g = make_group(3);
  g.lb = g.lp;
  LossConfig c;
  std::vector<std::vector<float>> d;
  std::vector<float*> dp;
  for (auto& x : g.lp) d.emplace_back(x.size());
  for (auto& x : d) dp.push_back(x.data());
  LossStats st = group_loss(c, g.views(), dp);
  EXPECT_NEAR(st.loss, 0.25, 1e-9);  // rewards 0,1,0,1: r̄ = 0.5
  EXPECT_NEAR(st.kl, 0.0, 1e-12);
  for (size_t j = 0; j < d.size(); ++j)
    for (float v : d[j]) EXPECT_NEAR(v, -(g.r[j] - 0.5) / 4, 1e-7);
}

TEST(Loss, EqualRewardsGiveNoPolicyGradient) {
  Group g = make_group(5);
  g.r = {1, 1, 1, 1};
  for (Algorithm a : {Algorithm::grpo, Algorithm::reinforce, Algorithm::ppo_clip}) {
    LossConfig c;
    c.algorithm = a;
    std::vector<std::vector<float>> d;
    std::vector<float*> dp;
    for (auto& x : g.lp) d.emplace_back(x.size(), 5.0f);
    for (auto& x : d) dp.push_back(x.data());
    group_loss(c, g.views(), dp);
    for (auto& x : d)
      for (float v : x) EXPECT_EQ(v, 0.0f);
  }
}

TEST(Loss, LatestOnlyZeroesOlderSegments) {
  Group g = make_group(9);
  LossConfig c;
  c.latest_only = true;
  c.iteration = 3;
  std::vector<std::vector<float>> d;
  std::vector<float*> dp;
  for (auto& x : g.lp) d.emplace_back(x.size(), 7.0f);
  for (auto& x : d) dp.push_back(x.data());
  group_loss(c, g.views(), dp);
  for (size_t j = 0; j < d.size(); ++j)
    for (size_t t = 0; t < d[j].size(); ++t)
      if (g.seg[j][t] != 3)
        EXPECT_EQ(d[j][t], 0.0f);
      else
        EXPECT_NE(d[j][t], 7.0f);
}

TEST(Loss, NonFiniteInputsAreRefused) {
  Group g = make_group(1);
  g.lp[2][0] = std::nanf("");
  std::vector<std::vector<float>> d;
  std::vector<float*> dp;
  for (auto& x : g.lp) d.emplace_back(x.size());
  for (auto& x : d) dp.push_back(x.data());
  EXPECT_THROW(group_loss(LossConfig{}, g.views(), dp), NumericError);
}
