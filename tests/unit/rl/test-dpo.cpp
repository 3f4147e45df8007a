// DPO: policy = reference gives ln 2 and gradients ∓β/2; finite differences of the loss; the pair
// rule (shortest correct chosen; wrong and ≥ 1.5x-long correct answers rejected); refusals.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/rl/rl.h"

using namespace k1rl;
using namespace k1rl::rl;

TEST(Dpo, PolicyEqualToReferenceGivesLn2) {
  std::vector<float> w = {-0.5f, -1.25f, -2.0f}, l = {-0.1f, -3.0f};
  DpoPairView p{w.data(), 3, -3.75, l.data(), 2, -3.1};
  std::vector<float> gw(3), gl(2);
  DpoConfig cfg;
  DpoStats st = dpo_loss(cfg, p, gw.data(), gl.data());
  EXPECT_NEAR(st.loss, std::log(2.0), 1e-7);
  EXPECT_NEAR(st.margin, 0.0, 1e-7);
  for (float g : gw) EXPECT_NEAR(g, -0.05, 1e-7);  // −β·σ(0)
  for (float g : gl) EXPECT_NEAR(g, 0.05, 1e-7);
}

TEST(Dpo, GradientMatchesFiniteDifferences) {
  std::vector<float> w = {-0.7f, -0.2f, -1.9f, -0.4f}, l = {-0.3f, -2.2f, -0.8f};
  DpoConfig cfg;
  cfg.beta = 0.7;
  auto loss = [&](const std::vector<float>& a, const std::vector<float>& b) {
    std::vector<float> ga(a.size()), gb(b.size());
    DpoPairView p{a.data(), (int64_t)a.size(), -2.0, b.data(), (int64_t)b.size(), -4.5};
    return dpo_loss(cfg, p, ga.data(), gb.data()).loss;
  };
  std::vector<float> gw(4), gl(3);
  DpoPairView p{w.data(), 4, -2.0, l.data(), 3, -4.5};
  dpo_loss(cfg, p, gw.data(), gl.data(), 0.5);  // scale 0.5: the mean over two pairs
  const double h = 1e-3;
  for (size_t t = 0; t < w.size(); ++t) {
    auto up = w, dn = w;
    up[t] += static_cast<float>(h);
    dn[t] -= static_cast<float>(h);
    EXPECT_NEAR(gw[t], 0.5 * (loss(up, l) - loss(dn, l)) / (2 * h), 1e-4) << t;
  }
  for (size_t t = 0; t < l.size(); ++t) {
    auto up = l, dn = l;
    up[t] += static_cast<float>(h);
    dn[t] -= static_cast<float>(h);
    EXPECT_NEAR(gl[t], 0.5 * (loss(w, up) - loss(w, dn)) / (2 * h), 1e-4) << t;
  }
}

TEST(Dpo, LargeMarginsStayFinite) {
  std::vector<float> w = {-1.0f}, l = {-1.0f};
  std::vector<float> gw(1), gl(1);
  DpoConfig cfg;
  cfg.beta = 1.0;
  DpoStats st = dpo_loss(cfg, {w.data(), 1, -1001.0, l.data(), 1, 999.0}, gw.data(), gl.data());
  EXPECT_NEAR(st.loss, 0.0, 1e-12);  // margin +2000: confident and right
  st = dpo_loss(cfg, {w.data(), 1, 999.0, l.data(), 1, -1001.0}, gw.data(), gl.data());
  EXPECT_NEAR(st.loss, 2000.0, 1e-9);  // margin −2000: softplus(2000) = 2000
  EXPECT_NEAR(gw[0], -1.0, 1e-12);
  w[0] = NAN;
  EXPECT_THROW(dpo_loss(cfg, {w.data(), 1, 0, l.data(), 1, 0}, gw.data(), gl.data()), NumericError);
}

TEST(Dpo, PairsShortestCorrectAgainstWrongAndLongCorrect) {
  // lengths:          0 wrong 5, 1 correct 10, 2 correct 14, 3 correct 15, 4 wrong 30, 5 correct 8
  std::vector<DpoCandidate> a = {{5, false}, {10, true},  {14, true},
                                 {15, true}, {30, false}, {8, true}};
  auto pairs = dpo_pairs(a, 1.5);
  // chosen: answer 5 (8 tokens); rejected: 0 and 4 (wrong), 2 (14 ≥ 12) and 3; not 1 (10 < 12).
  std::vector<std::pair<size_t, size_t>> want = {{5, 0}, {5, 2}, {5, 3}, {5, 4}};
  EXPECT_EQ(pairs, want);
  EXPECT_TRUE(dpo_pairs({{5, false}, {7, false}}).empty());  // no correct answer: no pair
  EXPECT_TRUE(dpo_pairs({{5, true}, {6, true}}).empty());    // nothing long or wrong enough
  // Ties: the first of equal length is chosen, the other is not rejected (1x < 1.5x).
  auto tie = dpo_pairs({{4, true}, {4, true}, {6, true}});
  ASSERT_EQ(tie.size(), 1u);
  EXPECT_EQ(tie[0], (std::pair<size_t, size_t>{0, 2}));
}
