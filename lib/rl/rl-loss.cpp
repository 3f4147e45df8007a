// Policy losses on per-token log-probs. For a group of k answers y_j to one prompt with rewards
// r_j, r̄ = mean r_j, S_j = Σ_t log π_θ(y_j,t) (over counted tokens; / |y_j| with token_norm)
// and Sb_j the same sum of behaviour log-probs:
//
//  k15 (Kimi k1.5, DESIGN.md): the reported loss is the squared surrogate
//      L = (1/k) Σ_j (r_j − r̄ − τ·(S_j − Sb_j))²,
//    and the gradient is the one the report prescribes (mean reward as τ·log Z, no value net):
//      ∇ = (1/k) Σ_j [ −(r_j − r̄)·∇S_j + (τ/2)·∇(S_j − Sb_j)² ]
//    i.e. d/dlogp_t = (1/k)·(−(r_j − r̄) + τ·(S_j − Sb_j)) · (1/|y_j| with token_norm).
//  grpo: A_j = (r_j − r̄)/(std(r) + 1e-4); per token ρ = exp(logp − logp_b),
//      L = (1/k) Σ_j (1/|y_j|) Σ_t [ −min(ρA_j, clip(ρ, 1−ε, 1+ε)A_j) + β·k3 ],
//      k3 = exp(logp_b − logp) − (logp_b − logp) − 1 (KL estimate against π_θi).
//  ppo_clip: GRPO's clipped objective with A_j = r_j − r̄ (no critic, no std normalisation).
//  reinforce: L = (1/k) Σ_j −(r_j − r̄)·S_j.
// With latest_only (partial_loss = latest) only tokens generated in the current iteration count.
#include <cmath>

#include "lib/rl/rl.h"

namespace k1rl::rl {

namespace {

bool counted(const LossConfig& cfg, const AnswerView& a, int64_t t) {
  return !cfg.latest_only || !a.seg_iter || a.seg_iter[t] == cfg.iteration;
}

void check_finite(const AnswerView& a, size_t j) {
  if (!std::isfinite(a.reward))
    throw NumericError("non-finite reward",
                       strfmt("answer %zu of a group has reward %g", j, a.reward),
                       "check the reward service's scores");
  for (int64_t t = 0; t < a.T; ++t)
    if (!std::isfinite(a.logp[t]) || !std::isfinite(a.logp_behav[t]))
      throw NumericError("non-finite log-probability",
                         strfmt("answer %zu, token %lld: logp %g, behaviour %g", j,
                                static_cast<long long>(t), a.logp[t], a.logp_behav[t]),
                         "lower the learning rate or enable gradient clipping; the last "
                         "checkpoint is intact");
}

LossStats clipped_loss(const LossConfig& cfg, const std::vector<AnswerView>& g,
                       const std::vector<float*>& dlogp, const std::vector<double>& adv) {
  LossStats st;
  const double k = static_cast<double>(g.size());
  int64_t clipped = 0;
  double kl_sum = 0.0;
  for (size_t j = 0; j < g.size(); ++j) {
    const AnswerView& a = g[j];
    int64_t n = 0;
    for (int64_t t = 0; t < a.T; ++t) n += counted(cfg, a, t);
    const double inv = n > 0 ? 1.0 / (k * static_cast<double>(n)) : 0.0;
    const double A = adv[j];
    for (int64_t t = 0; t < a.T; ++t) {
      if (!counted(cfg, a, t)) {
        dlogp[j][t] = 0.0f;
        continue;
      }
      double d = static_cast<double>(a.logp_behav[t]) - a.logp[t];  // log(π_b/π_θ)
      double rho = std::exp(-d);
      double lo = 1.0 - cfg.clip_eps, hi = 1.0 + cfg.clip_eps;
      double rho_c = std::min(std::max(rho, lo), hi);
      double obj = std::min(rho * A, rho_c * A);
      bool active = A >= 0 ? rho <= hi : rho >= lo;  // the unclipped term is the minimum
      clipped += !active;
      double k3 = std::exp(d) - d - 1.0;
      kl_sum += k3;
      st.loss += inv * (-obj + cfg.kl_coef * k3);
      double grad = (active ? -rho * A : 0.0) + cfg.kl_coef * (1.0 - std::exp(d));
      dlogp[j][t] = static_cast<float>(inv * grad);
    }
    st.tokens += n;
  }
  st.kl = st.tokens ? kl_sum / static_cast<double>(st.tokens) : 0.0;
  st.clip_frac = st.tokens ? static_cast<double>(clipped) / static_cast<double>(st.tokens) : 0.0;
  return st;
}

}  // namespace

Algorithm parse_algorithm(const std::string& name) {
  if (name == "k15") return Algorithm::k15;
  if (name == "grpo") return Algorithm::grpo;
  if (name == "ppo_clip") return Algorithm::ppo_clip;
  if (name == "reinforce") return Algorithm::reinforce;
  throw ConfigError("unknown algorithm '" + name + "'", "expected k15, grpo, ppo_clip or reinforce",
                    "set train.algorithm");
}

LossStats group_loss(const LossConfig& cfg, const std::vector<AnswerView>& g,
                     const std::vector<float*>& dlogp) {
  if (g.empty()) return {};
  if (dlogp.size() != g.size())
    throw InputError("group_loss", "one gradient buffer per answer is needed",
                     "a bug in the caller");
  double rbar = 0.0;
  for (size_t j = 0; j < g.size(); ++j) {
    check_finite(g[j], j);
    rbar += g[j].reward;
  }
  const double k = static_cast<double>(g.size());
  rbar /= k;

  if (cfg.algorithm == Algorithm::grpo || cfg.algorithm == Algorithm::ppo_clip) {
    std::vector<double> adv(g.size());
    double var = 0.0;
    for (const auto& a : g) var += (a.reward - rbar) * (a.reward - rbar);
    double sd = std::sqrt(var / k);
    for (size_t j = 0; j < g.size(); ++j)
      adv[j] = cfg.algorithm == Algorithm::grpo ? (g[j].reward - rbar) / (sd + 1e-4)
                                                : g[j].reward - rbar;
    LossStats st = clipped_loss(cfg, g, dlogp, adv);
    st.mean_reward = rbar;
    return st;
  }

  // k15 and reinforce act on sequence log-probs S_j.
  LossStats st;
  st.mean_reward = rbar;
  double kl_sum = 0.0;
  for (size_t j = 0; j < g.size(); ++j) {
    const AnswerView& a = g[j];
    double S = 0.0, Sb = 0.0;
    int64_t n = 0;
    for (int64_t t = 0; t < a.T; ++t) {
      if (!counted(cfg, a, t)) continue;
      S += a.logp[t];
      Sb += a.logp_behav[t];
      double d = static_cast<double>(a.logp_behav[t]) - a.logp[t];
      kl_sum += std::exp(d) - d - 1.0;
      ++n;
    }
    double norm = cfg.token_norm && n > 0 ? 1.0 / static_cast<double>(n) : 1.0;
    S *= norm;
    Sb *= norm;
    double adv = a.reward - rbar, grad;
    if (cfg.algorithm == Algorithm::k15) {
      double resid = adv - cfg.tau * (S - Sb);
      st.loss += resid * resid / k;
      grad = (-adv + cfg.tau * (S - Sb)) / k;
    } else {
      st.loss += -adv * S / k;
      grad = -adv / k;
    }
    for (int64_t t = 0; t < a.T; ++t)
      dlogp[j][t] = counted(cfg, a, t) ? static_cast<float>(grad * norm) : 0.0f;
    st.tokens += n;
  }
  st.kl = st.tokens ? kl_sum / static_cast<double>(st.tokens) : 0.0;
  return st;
}

}  // namespace k1rl::rl
