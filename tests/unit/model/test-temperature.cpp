// The sampling convention that keeps the RL loss honest (docs/rl.md "Sampling and the loss"):
// the policy log-prob a generation stores for each token is log softmax(z/T) over the whole
// vocabulary, whatever top-k/top-p truncated, and the training forward at the same temperature
// recomputes it: exactly (f32 KV cache) or within the cache's rounding (bf24, f16).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

model::ModelConfig temp_config() {
  model::ModelConfig c = tiny_config(true, true);
  c.vocab = 37;
  c.dim = 16;
  c.heads = 4;
  c.kv_heads = 2;
  c.max_seq = 64;
  return c;
}

TEST(Temperature, ForwardGivesLogSoftmaxOfScaledLogits) {
  model::Model m(temp_config());
  randomize(m, 4);
  model::Batch b = make_batch({random_tokens(10, 37, 8)});
  model::ForwardOptions raw;
  raw.all_logits = true;
  m.forward(b, raw);
  std::vector<float> z(m.logits(), m.logits() + 10 * 37);
  model::ForwardOptions hot;
  hot.temperature = 0.7;
  const model::TokenOutputs& out = m.forward(b, hot);
  for (int64_t i = 1; i < 10; ++i) {
    const float* row = z.data() + (i - 1) * 37;
    double mx = row[0], sum = 0, ent = 0;
    for (int k = 0; k < 37; ++k) mx = std::max(mx, row[k] / 0.7);
    for (int k = 0; k < 37; ++k) sum += std::exp(row[k] / 0.7 - mx);
    const double lse = mx + std::log(sum);
    for (int k = 0; k < 37; ++k) {
      const double lp = row[k] / 0.7 - lse;
      ent -= std::exp(lp) * lp;
    }
    EXPECT_NEAR(out.logprob[i], row[b.tokens[i]] / 0.7 - lse, 1e-5) << i;
    EXPECT_NEAR(out.entropy[i], ent, 1e-4) << i;
  }
}

struct Case {
  model::KvType kv;
  double max_err, mean_err;
};

class StoredEqualsRecomputed : public ::testing::TestWithParam<Case> {};

// Temperature 0.7 with top-p 0.9 (and top-k 12): the stored policy log-probs against the training
// forward at T = 0.7 over the same tokens. The behaviour log-probs of the truncated draw differ
// (they are not what the trainer computes), which is why the buffer keeps the policy ones.
TEST_P(StoredEqualsRecomputed, AtTemperature07TopP09) {
  const Case c = GetParam();
  model::Model m(temp_config());
  randomize(m, 6);
  for (int64_t top_k : {int64_t{0}, int64_t{12}}) {
    std::vector<model::GenRequest> reqs;
    for (int i = 0; i < 6; ++i) {
      model::GenRequest r;
      r.id = i;
      r.prompt = random_tokens(3 + i, 37, 20 + i);
      r.seed = 100 + i;
      reqs.push_back(r);
    }
    model::SamplingParams sp;
    sp.temperature = 0.7;
    sp.top_p = 0.9;
    sp.top_k = top_k;
    sp.max_answer_tokens = 24;
    model::Generator gen(m, 4, 64, c.kv);
    std::vector<model::GenResult> res = gen.generate(reqs, sp);
    model::Batch b;
    b.cu.push_back(0);
    for (size_t i = 0; i < res.size(); ++i) {
      b.tokens.insert(b.tokens.end(), reqs[i].prompt.begin(), reqs[i].prompt.end());
      b.tokens.insert(b.tokens.end(), res[i].tokens.begin(), res[i].tokens.end());
      for (size_t j = 0; j < reqs[i].prompt.size(); ++j) b.mask.push_back(0);
      for (size_t j = 0; j < res[i].tokens.size(); ++j) b.mask.push_back(1);
      b.cu.push_back(static_cast<int32_t>(b.tokens.size()));
    }
    model::ForwardOptions fo;
    fo.temperature = 0.7;
    const model::TokenOutputs& out = m.forward(b, fo);
    double worst = 0, sum = 0, behaviour_gap = 0;
    int64_t n = 0;
    for (size_t i = 0; i < res.size(); ++i) {
      const size_t start = static_cast<size_t>(b.cu[i]) + reqs[i].prompt.size();
      for (size_t j = 0; j < res[i].tokens.size(); ++j, ++n) {
        const double d = std::fabs(out.logprob[start + j] - res[i].model_logprobs[j]);
        worst = std::max(worst, d);
        sum += d;
        behaviour_gap = std::max(behaviour_gap,
                                 std::fabs(double(res[i].logprobs[j]) - res[i].model_logprobs[j]));
      }
    }
    ASSERT_GT(n, 60);
    EXPECT_LT(worst, c.max_err) << model::kv_type_name(c.kv) << " top_k " << top_k;
    EXPECT_LT(sum / static_cast<double>(n), c.mean_err) << model::kv_type_name(c.kv);
    EXPECT_GT(behaviour_gap, 1e-2) << "truncation left the sampled distribution unchanged?";
    std::printf("kv %s top_k %lld: stored vs recomputed max %.2e mean %.2e over %lld tokens\n",
                model::kv_type_name(c.kv), static_cast<long long>(top_k), worst,
                sum / static_cast<double>(n), static_cast<long long>(n));
  }
}

INSTANTIATE_TEST_SUITE_P(KvCache, StoredEqualsRecomputed,
                         ::testing::Values(Case{model::KvType::f32, 2e-5, 5e-6},
                                           Case{model::KvType::bf24, 5e-4, 1e-4},
                                           Case{model::KvType::f16, 2e-2, 5e-3}),
                         [](const auto& info) {
                           return std::string(model::kv_type_name(info.param.kv));
                         });

}  // namespace
}  // namespace k1rl::test
