// k1rl's policy losses against the PyTorch reference (tests/reference/rl/rl_losses.py): the same
// groups give the same per-group loss and the same gradient for every token, to 1e-4 relative.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/io/io.h"
#include "lib/rl/rl.h"

using namespace k1rl;

namespace {
struct Fixture {
  std::vector<float> logp, behav;
  std::vector<int32_t> seg, len, group_size;
  std::vector<double> reward;
  int64_t iteration;
};

double rel_err(double a, double b) {
  return std::fabs(a - b) / std::max(1e-6, std::fabs(b));
}
}  // namespace

TEST(RlReference, LossesAndGradientsMatchPyTorch) {
  io::H5Reader r(K1RL_RL_FIXTURE, "fixture", 1);
  Fixture f;
  f.logp = io::read_dataset<float>(r.root(), "logp");
  f.behav = io::read_dataset<float>(r.root(), "behav");
  f.seg = io::read_dataset<int32_t>(r.root(), "seg_iter");
  f.len = io::read_dataset<int32_t>(r.root(), "answer_len");
  f.group_size = io::read_dataset<int32_t>(r.root(), "group_size");
  f.reward = io::read_dataset<double>(r.root(), "reward");
  f.iteration = io::get_attr_int(r.root(), "iteration");
  int cases = 0;
  for (const std::string& name : io::list_links(r.root())) {
    if (!io::is_group(r.root(), name)) continue;
    ++cases;
    io::Hid g = io::open_group(r.root(), name);
    rl::LossConfig cfg;
    cfg.algorithm = rl::parse_algorithm(io::get_attr_string(g, "algorithm"));
    cfg.tau = io::get_attr_double(g, "tau");
    cfg.clip_eps = io::get_attr_double(g, "clip_eps");
    cfg.kl_coef = io::get_attr_double(g, "kl_coef");
    cfg.token_norm = io::get_attr_int(g, "token_norm") != 0;
    cfg.latest_only = io::get_attr_int(g, "latest_only") != 0;
    cfg.iteration = f.iteration;
    auto want_loss = io::read_dataset<double>(g, "loss");
    auto want_grad = io::read_dataset<float>(g, "grad");
    std::vector<float> grad(f.logp.size(), -99.0f);
    size_t answer = 0, tok = 0;
    double worst = 0.0;
    for (size_t gi = 0; gi < f.group_size.size(); ++gi) {
      std::vector<rl::AnswerView> group;
      std::vector<float*> d;
      for (int j = 0; j < f.group_size[gi]; ++j, ++answer) {
        int64_t T = f.len[answer];
        group.push_back({&f.logp[tok], &f.behav[tok], &f.seg[tok], T, f.reward[answer]});
        d.push_back(&grad[tok]);
        tok += static_cast<size_t>(T);
      }
      rl::LossStats st = rl::group_loss(cfg, group, d);
      EXPECT_LT(rel_err(st.loss, want_loss[gi]), 1e-4)
          << name << " group " << gi << ": " << st.loss << " vs " << want_loss[gi];
    }
    for (size_t t = 0; t < grad.size(); ++t) {
      double e = std::fabs(grad[t] - want_grad[t]) /
                 std::max(1e-3, std::fabs(static_cast<double>(want_grad[t])));
      worst = std::max(worst, e);
      EXPECT_LT(e, 1e-4) << name << " token " << t << ": " << grad[t] << " vs " << want_grad[t];
    }
    std::printf("%-18s largest relative gradient error %.2e\n", name.c_str(), worst);
  }
  EXPECT_EQ(cases, 6);
}
