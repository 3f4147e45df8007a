// k1rl's DPO loss against the PyTorch reference (tests/reference/rl/dpo_loss.py): the same pairs
// give the same loss and the same gradient for every chosen and rejected token, to 1e-5
// relative, for β = 0.1, 0.5 and 3.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/io/io.h"
#include "lib/rl/rl.h"

using namespace k1rl;

TEST(DpoReference, LossAndGradientsMatchPyTorch) {
  io::H5Reader r(K1RL_DPO_FIXTURE, "fixture", 1);
  auto lw = io::read_dataset<float>(r.root(), "logp_w");
  auto ll = io::read_dataset<float>(r.root(), "logp_l");
  auto nw = io::read_dataset<int32_t>(r.root(), "len_w");
  auto nl = io::read_dataset<int32_t>(r.root(), "len_l");
  auto rw = io::read_dataset<double>(r.root(), "ref_w");
  auto rl_ = io::read_dataset<double>(r.root(), "ref_l");
  int cases = 0;
  for (const std::string& name : io::list_links(r.root())) {
    if (!io::is_group(r.root(), name)) continue;
    ++cases;
    io::Hid g = io::open_group(r.root(), name);
    rl::DpoConfig cfg;
    cfg.beta = io::get_attr_double(g, "beta");
    auto want_loss = io::read_dataset<double>(g, "loss");
    auto want_w = io::read_dataset<double>(g, "grad_w");
    auto want_l = io::read_dataset<double>(g, "grad_l");
    std::vector<float> gw(lw.size(), -99.0f), gl(ll.size(), -99.0f);
    size_t ow = 0, ol = 0;
    double worst = 0;
    for (size_t p = 0; p < nw.size(); ++p) {
      rl::DpoPairView v{&lw[ow], nw[p], rw[p], &ll[ol], nl[p], rl_[p]};
      rl::DpoStats st = rl::dpo_loss(cfg, v, &gw[ow], &gl[ol]);
      double e = std::fabs(st.loss - want_loss[p]) / std::max(1e-6, std::fabs(want_loss[p]));
      EXPECT_LT(e, 1e-5) << name << " pair " << p << ": " << st.loss << " vs " << want_loss[p];
      ow += static_cast<size_t>(nw[p]);
      ol += static_cast<size_t>(nl[p]);
    }
    auto check = [&](const std::vector<float>& got, const std::vector<double>& want,
                     const char* which) {
      ASSERT_EQ(got.size(), want.size());
      for (size_t t = 0; t < got.size(); ++t) {
        double e = std::fabs(got[t] - want[t]) / std::max(1e-6, std::fabs(want[t]));
        worst = std::max(worst, e);
        EXPECT_LT(e, 1e-5) << name << " " << which << " token " << t << ": " << got[t] << " vs "
                           << want[t];
      }
    };
    check(gw, want_w, "chosen");
    check(gl, want_l, "rejected");
    std::printf("%s (beta %.1f): largest relative gradient error %.2e\n", name.c_str(), cfg.beta,
                worst);
  }
  EXPECT_EQ(cases, 3);
}
