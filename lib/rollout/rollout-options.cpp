// [rollout] options and repeat detection.
#include "lib/rollout/rollout.h"

namespace k1rl::rollout {

void declare_rollout_options(ConfigSpec& s) {
  s.add_int("rollout.prompts_per_iteration", 16, "new prompts per iteration (all rollout ranks)")
      .add_int("rollout.samples_per_prompt", 8, "k: answers sampled per prompt (one group)")
      .add_bool("rollout.partial", true, "partial rollouts: park unfinished answers at the budget")
      .add_int("rollout.segment_tokens", 64, "partial: new tokens per answer per iteration")
      .add_int("rollout.token_budget", -1, "partial: new tokens per rank per iteration (-1: none)")
      .add_int("rollout.max_answer_tokens", 128, "answers longer than this end as truncated")
      .add_int("rollout.max_batch", 64, "sequences generated together (continuous batching)")
      .add_choice("rollout.kv_cache", "bf24", {"bf24", "f32", "f16"},
                  "KV-cache precision: bf24 (a float's top 3 bytes) and f16 read 3/4 and 1/2 of "
                  "what f32 reads per decode step (faster at large batches); behaviour log-probs "
                  "then differ from the trainer's by ~2e-5 (bf24) or ~7e-4 (f16) per token")
      .add_double("rollout.temperature", 1.0, "sampling temperature")
      .add_double("rollout.top_p", 1.0, "nucleus sampling mass (1 = off)")
      .add_int("rollout.top_k", 0, "sample among the k likeliest tokens (0 = off)")
      .add_int("rollout.repeat_max_period", 16, "repeat detection: longest looping block, tokens")
      .add_int(
          "rollout.repeat_min_tokens", 48,
          "repeat detection: loop must cover this many tokens (checked after every token; 0: off)");
}

RolloutConfig RolloutConfig::from(const Config& cfg) {
  RolloutConfig r;
  r.prompts_per_iteration = cfg.get_int_min("rollout.prompts_per_iteration", 1);
  r.samples_per_prompt = cfg.get_int_min("rollout.samples_per_prompt", 1);
  r.partial = cfg.get_bool("rollout.partial");
  r.segment_tokens = cfg.get_int_min("rollout.segment_tokens", 1);
  r.token_budget = cfg.get_int("rollout.token_budget");
  r.max_answer_tokens = cfg.get_int_min("rollout.max_answer_tokens", 1);
  r.max_batch = cfg.get_int_min("rollout.max_batch", 1);
  r.kv_cache = model::kv_type_from_name(cfg.get_string("rollout.kv_cache"));
  r.temperature = cfg.get_double("rollout.temperature");
  r.top_p = cfg.get_double("rollout.top_p");
  r.top_k = cfg.get_int("rollout.top_k");
  r.repeat_max_period = cfg.get_int("rollout.repeat_max_period");
  r.repeat_min_tokens = cfg.get_int("rollout.repeat_min_tokens");
  if (r.token_budget == 0 || r.token_budget < -1)
    throw ConfigError("bad rollout.token_budget", "it must be positive or -1 (no budget)",
                      "e.g. 4096");
  return r;
}

bool detect_repeat(const std::vector<int32_t>& a, int64_t max_period, int64_t min_tokens) {
  return model::ends_in_loop([&](int64_t i) { return a[static_cast<size_t>(i)]; },
                             static_cast<int64_t>(a.size()), max_period, min_tokens);
}

}  // namespace k1rl::rollout
