// Config keys of the policy losses ([train]) and the prompt samplers ([rollout]).
#include "lib/rl/rl.h"

namespace k1rl::rl {

void declare_rl_options(ConfigSpec& s) {
  s.add_choice("train.algorithm", "k15", {"k15", "grpo", "ppo_clip", "reinforce"},
               "policy loss of mode = rl (docs/rl.md)")
      .add_double("train.tau", 0.05, "k15: weight τ of the squared log-ratio term")
      .add_bool("train.token_norm", false,
                "k15/reinforce: divide each answer's log-prob by its length")
      .add_double("train.clip_eps", 0.2, "grpo/ppo_clip: ratio clip ε")
      .add_double("train.kl_coef", 0.0, "grpo/ppo_clip: weight of the KL estimate to π_θi")
      .add_choice("train.partial_loss", "all", {"all", "latest"},
                  "partial rollouts: tokens of every segment enter the loss, or only the latest")
      .add_choice("rollout.sampler", "uniform", {"uniform", "curriculum", "prioritized"},
                  "prompt sampling of the rollout master")
      .add_double("rollout.success_ema", 0.3, "prioritized: weight of the newest success rate")
      .add_double("rollout.priority_floor", 0.05, "prioritized: p ∝ (1 − success) + floor")
      .add_int("rollout.curriculum_iterations", 20,
               "curriculum: iterations from the easiest to the hardest difficulty");
  declare_dpo_options(s);
}

LossConfig LossConfig::from(const Config& cfg, int64_t iteration) {
  LossConfig c;
  c.algorithm = parse_algorithm(cfg.get_string("train.algorithm"));
  c.tau = cfg.get_double("train.tau");
  c.token_norm = cfg.get_bool("train.token_norm");
  c.clip_eps = cfg.get_double("train.clip_eps");
  c.kl_coef = cfg.get_double("train.kl_coef");
  c.latest_only = cfg.get_string("train.partial_loss") == "latest";
  c.iteration = iteration;
  return c;
}

}  // namespace k1rl::rl
