// Config keys of the policy losses ([train]) and the prompt samplers ([rollout]).
#include "lib/rl/rl.h"

namespace k1rl::rl {

const OptionTable<LossConfig>& loss_options() {
  using L = LossConfig;
  static const auto t =
      OptionTable<L>()
          .choice("train.algorithm", &L::algorithm,
                  {{"k15", Algorithm::k15},
                   {"grpo", Algorithm::grpo},
                   {"ppo_clip", Algorithm::ppo_clip},
                   {"reinforce", Algorithm::reinforce}},
                  "policy loss of mode = rl (docs/rl.md)")
          .add("train.tau", &L::tau, "k15: weight τ of the squared log-ratio term", Check().ge(0))
          .add("train.token_norm", &L::token_norm,
               "k15/reinforce: divide each answer's log-prob by its length")
          .add("train.clip_eps", &L::clip_eps, "grpo/ppo_clip: ratio clip ε", Check().gt(0))
          .add("train.kl_coef", &L::kl_coef, "grpo/ppo_clip: weight of the KL estimate to π_θi",
               Check().ge(0))
          .choice("train.partial_loss", &L::latest_only, {{"all", false}, {"latest", true}},
                  "partial rollouts: tokens of every segment enter the loss, or only the latest");
  return t;
}

const OptionTable<SamplerConfig>& sampler_options() {
  using S = SamplerConfig;
  static const auto t =
      OptionTable<S>()
          .choice("rollout.sampler", &S::mode,
                  {{"uniform", SamplerMode::uniform},
                   {"curriculum", SamplerMode::curriculum},
                   {"prioritized", SamplerMode::prioritized}},
                  "prompt sampling of the rollout master")
          .add("rollout.success_ema", &S::success_ema,
               "prioritized: weight of the newest success rate", Check().gt(0).le(1))
          .add("rollout.priority_floor", &S::priority_floor,
               "prioritized: p ∝ (1 − success) + floor (> 0, so that no prompt starves)",
               Check().gt(0))
          .add("rollout.curriculum_iterations", &S::curriculum_iterations,
               "curriculum: iterations from the easiest to the hardest difficulty", Check().ge(0));
  return t;
}

void declare_rl_options(ConfigSpec& s) {
  loss_options().declare(s);
  sampler_options().declare(s);
  declare_dpo_options(s);
}

LossConfig LossConfig::from(const Config& cfg, int64_t iteration) {
  LossConfig c = loss_options().read(cfg);
  c.iteration = iteration;
  return c;
}

SamplerConfig SamplerConfig::from(const Config& cfg) {
  return sampler_options().read(cfg);
}

}  // namespace k1rl::rl
