// [rollout] options and repeat detection.
#include "lib/rollout/rollout.h"

namespace k1rl::rollout {

const OptionTable<RolloutConfig>& rollout_options() {
  using R = RolloutConfig;
  using model::KvType;
  static const auto t =
      OptionTable<R>()
          .add("rollout.prompts_per_iteration", &R::prompts_per_iteration,
               "new prompts per iteration (all rollout ranks)", Check().ge(1))
          .add("rollout.samples_per_prompt", &R::samples_per_prompt,
               "k: answers sampled per prompt (one group)", Check().ge(1))
          .add("rollout.partial", &R::partial,
               "partial rollouts: park unfinished answers at the budget")
          .add("rollout.segment_tokens", &R::segment_tokens,
               "partial: new tokens per answer per iteration", Check().ge(1))
          .add("rollout.token_budget", &R::token_budget,
               "partial: new tokens per rank per iteration (-1: none)",
               Check().ge(-1).rule([](const ConfigValue& v) { return std::get<int64_t>(v) != 0; },
                                   "positive or -1 (no budget)"))
          .add("rollout.refill_prompts", &R::refill_prompts,
               "partial: extra prompts per iteration (all rollout ranks) whose groups start in "
               "slots that free up while the iteration's own answers run; unstarted ones are "
               "dropped (0: none)",
               Check().ge(0))
          .choice("rollout.parked_cache", &R::parked_cache,
                  {{"exact", ParkedCache::exact}, {"stale", ParkedCache::stale}},
                  "partial: a parked answer continues from its kept keys and values only while "
                  "the weights are unchanged, else its context is prefilled again (exact), or "
                  "also after a training step, with no re-prefill (stale: the earlier segments "
                  "are seen through the old policy's keys and values; docs/rl.md)")
          .add("rollout.max_answer_tokens", &R::max_answer_tokens,
               "answers longer than this end as truncated", Check().ge(1))
          .add("rollout.max_batch", &R::max_batch,
               "sequences generated together (continuous batching)", Check().ge(1))
          .choice("rollout.kv_cache", &R::kv_cache,
                  {{"bf24", KvType::bf24}, {"f32", KvType::f32}, {"f16", KvType::f16}},
                  "KV-cache precision: bf24 (a float's top 3 bytes) and f16 read 3/4 and 1/2 of "
                  "what f32 reads per decode step (faster at large batches); behaviour log-probs "
                  "then differ from the trainer's by ~2e-5 (bf24) or ~7e-4 (f16) per token")
          .add("rollout.temperature", &R::temperature, "sampling temperature (0: greedy)",
               Check().ge(0))
          .add("rollout.top_p", &R::top_p, "nucleus sampling mass (1 = off)", Check().gt(0).le(1))
          .add("rollout.top_k", &R::top_k, "sample among the k likeliest tokens (0 = off)",
               Check().ge(0))
          .add("rollout.repeat_max_period", &R::repeat_max_period,
               "repeat detection: longest looping block, tokens (0: no detection)", Check().ge(0))
          .add("rollout.repeat_min_tokens", &R::repeat_min_tokens,
               "repeat detection: loop must cover this many tokens (checked after every token)",
               Check().ge(1));
  return t;
}

void declare_rollout_options(ConfigSpec& s) {
  rollout_options().declare(s);
}

RolloutConfig RolloutConfig::from(const Config& cfg) {
  return rollout_options().read(cfg);  // every key was checked when cfg was read
}

bool detect_repeat(const std::vector<int32_t>& a, int64_t max_period, int64_t min_tokens) {
  return model::ends_in_loop([&](int64_t i) { return a[static_cast<size_t>(i)]; },
                             static_cast<int64_t>(a.size()), max_period, min_tokens);
}

}  // namespace k1rl::rollout
