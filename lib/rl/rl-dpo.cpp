// DPO for long2short (the Kimi k1.5 report, §2.4; Rafailov et al. 2023). For a prompt x with a
// chosen answer y_w and a rejected answer y_l, S = Σ_t log π_θ(y_t | x, y_<t) over the answer
// tokens and R the same sum under the reference policy π_ref (the starting checkpoint, computed
// once before training and stored with the pairs):
//
//   m = (S_w − R_w) − (S_l − R_l),      L = −log σ(β·m) = softplus(−β·m),
//   dL/dlogp_w,t = −β·σ(−β·m),          dL/dlogp_l,t = +β·σ(−β·m)     (every answer token).
//
// At π_θ = π_ref, m = 0 and L = ln 2. β = train.dpo_beta (0.1). Pairs (dpo_pairs), as the report
// builds them for long2short: chosen = the shortest correct answer of a prompt; rejected = its
// wrong answers and its correct answers at least train.dpo_long_ratio (1.5) × as long. No length
// normalisation (log-probs are sums, as in the report). Run: train.mode = dpo (docs/long2short.md).
#include <cmath>

#include "lib/rl/rl.h"

namespace k1rl::rl {

namespace {
double sum_checked(const float* lp, int64_t T, const char* which) {
  double s = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    if (!std::isfinite(lp[t]))
      throw NumericError("non-finite log-probability in a DPO pair",
                         strfmt("%s answer, token %lld: %g", which, static_cast<long long>(t),
                                static_cast<double>(lp[t])),
                         "lower the learning rate; the last checkpoint is intact");
    s += lp[t];
  }
  return s;
}

double softplus(double x) {  // log(1 + e^x), stable for large |x|
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

double sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}
}  // namespace

const OptionTable<DpoConfig>& dpo_options() {
  using D = DpoConfig;
  static const auto t =
      OptionTable<D>()
          .add("train.dpo_beta", &D::beta, "dpo: β of −log σ(β·[(S_w − R_w) − (S_l − R_l)])",
               Check().gt(0))
          .add("train.dpo_long_ratio", &D::long_ratio,
               "dpo: a correct answer at least this many times the chosen (shortest correct) "
               "length is a rejected one",
               Check().ge(1))
          .add("train.dpo_steps", &D::steps, "dpo: optimizer steps (with the [optim] schedule)",
               Check().ge(1))
          .add("train.dpo_batch", &D::batch, "dpo: pairs per step (all ranks together)",
               Check().ge(1));
  return t;
}

void declare_dpo_options(ConfigSpec& s) {
  dpo_options().declare(s);
}

DpoConfig DpoConfig::from(const Config& cfg) {
  return dpo_options().read(cfg);  // every key was checked when cfg was read
}

DpoStats dpo_loss(const DpoConfig& cfg, const DpoPairView& p, float* dlogp_w, float* dlogp_l,
                  double scale) {
  if (!std::isfinite(p.ref_w) || !std::isfinite(p.ref_l))
    throw NumericError("non-finite reference log-probability in a DPO pair",
                       strfmt("ref_w %g, ref_l %g", p.ref_w, p.ref_l),
                       "recompute the pairs from the reference checkpoint");
  const double S_w = sum_checked(p.logp_w, p.T_w, "chosen");
  const double S_l = sum_checked(p.logp_l, p.T_l, "rejected");
  DpoStats st;
  st.reward_w = cfg.beta * (S_w - p.ref_w);
  st.reward_l = cfg.beta * (S_l - p.ref_l);
  st.margin = st.reward_w - st.reward_l;
  st.loss = softplus(-st.margin);
  const double g = cfg.beta * sigmoid(-st.margin) * scale;
  for (int64_t t = 0; t < p.T_w; ++t) dlogp_w[t] = static_cast<float>(-g);
  for (int64_t t = 0; t < p.T_l; ++t) dlogp_l[t] = static_cast<float>(g);
  return st;
}

std::vector<std::pair<size_t, size_t>> dpo_pairs(const std::vector<DpoCandidate>& a,
                                                 double long_ratio) {
  std::vector<std::pair<size_t, size_t>> pairs;
  size_t chosen = a.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].correct && (chosen == a.size() || a[i].length < a[chosen].length)) chosen = i;
  if (chosen == a.size()) return pairs;
  const double limit = long_ratio * static_cast<double>(a[chosen].length);
  for (size_t i = 0; i < a.size(); ++i)
    if (i != chosen && (!a[i].correct || static_cast<double>(a[i].length) >= limit))
      pairs.emplace_back(chosen, i);
  return pairs;
}

}  // namespace k1rl::rl
