// The behaviour log-probs a rollout stores are the log-probs the trainer computes for the same
// tokens with the same weights: the k1.5 ratio log π_θ/π_θi starts at 0 in every iteration
// (with the f32 KV cache; the bf24 and f16 caches stay within their rounding of it). Also under
// engine.precision = bf16 ("bf16+<kv>"), where the decode products (bf16 panels) and the
// trainer's (oneDNN) multiply the same bf16-rounded numbers. Prints the largest difference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/ops.h"
#include "lib/app/app.h"
#include "lib/rollout/rollout.h"

using namespace k1rl;

class RolloutConsistency : public ::testing::TestWithParam<const char*> {};

TEST_P(RolloutConsistency, StoredLogprobsEqualTrainingForward) {
  std::string kv = GetParam();
  const bool bf16 = kv.rfind("bf16+", 0) == 0;
  if (bf16) {
    if (!ops::bf16_supported()) GTEST_SKIP() << "this CPU has neither AMX-BF16 nor AVX512-BF16";
    kv = kv.substr(5);
    ops::set_precision(ops::Precision::bf16);
  }
  const double tol = kv == "f16" ? 2e-2 : kv == "bf24" ? 5e-4 : 2e-4;
  ConfigSpec spec;
  declare_all_options(spec);
  Config cfg = Config::parse(
      spec, "", "test",
      {"--model.dim=32", "--model.layers=2", "--model.heads=4", "--model.kv_heads=2",
       "--model.ffn_dim=64", "--model.max_seq=64", "--rollout.samples_per_prompt=4",
       "--rollout.max_answer_tokens=10", "--rollout.partial=false", "--rollout.kv_cache=" + kv});
  Rng rng(5);
  std::vector<Task> tasks = {generate_task("addition", 2, rng), generate_task("addition", 2, rng)};
  auto tok = make_byte_tokenizer();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(11);
  rollout::RolloutWorker w(cfg, *tok, tasks);
  auto res = w.run(m, 0, 0, {}, {0, 1}, [](const std::vector<Answer>& a, int64_t) {
    return std::vector<Score>(a.size());
  });
  model::Batch b;
  b.cu.push_back(0);
  for (const auto& t : res.shard.rows) {
    b.tokens.insert(b.tokens.end(), t.tokens.begin(), t.tokens.end());
    for (size_t i = 0; i < t.tokens.size(); ++i)
      b.mask.push_back(static_cast<int32_t>(i) >= t.prompt_len);
    b.cu.push_back(static_cast<int32_t>(b.tokens.size()));
  }
  const model::TokenOutputs& out = m.forward(b);
  ops::set_precision(ops::Precision::fp32);
  size_t seq = 0, checked = 0;
  double worst = 0, sum = 0;
  for (const auto& t : res.shard.rows) {
    size_t start = static_cast<size_t>(b.cu[seq++]) + static_cast<size_t>(t.prompt_len);
    for (int64_t i = 0; i < t.answer_len(); ++i, ++checked) {
      const double d = std::fabs(out.logprob[start + static_cast<size_t>(i)] -
                                 t.logprobs[static_cast<size_t>(i)]);
      worst = std::max(worst, d), sum += d;
      EXPECT_NEAR(out.logprob[start + static_cast<size_t>(i)], t.logprobs[static_cast<size_t>(i)],
                  tol)
          << "sequence " << seq - 1 << " token " << i;
    }
  }
  std::printf("%s: |stored - recomputed log-prob| over %zu tokens: max %.2e, mean %.2e\n",
              GetParam(), checked, worst, sum / std::max<size_t>(checked, 1));
  EXPECT_GT(checked, 20u);
}

INSTANTIATE_TEST_SUITE_P(KvCache, RolloutConsistency,
                         ::testing::Values("f32", "bf24", "f16", "bf16+f32", "bf16+bf24"));
