// A parked sequence continued from the keys and values its slot kept (GenRequest::key) gives the
// tokens and log-probs of a re-prefill of prompt + answer, within the KV format's error; the kept
// cache is used only while the weights and the cache layout are unchanged, unless the generator
// is told to continue from stale keys and values (Generator::set_continue_stale), which then
// give what the old weights' context and the new weights' next step give.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

model::ModelConfig config() {
  model::ModelConfig c = tiny_config(true, false);
  c.vocab = 23, c.dim = 16, c.heads = 4, c.kv_heads = 2, c.max_seq = 64;
  return c;
}

struct Segmented {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::vector<float>> logprobs;
  std::vector<model::Finish> finish;
  int64_t kept = 0, prefill = 0;
};

// Six requests in segments of 3 tokens until each ends, on a new Generator per round (from the
// model's pool, 6 slots, capacity 40), as the rollout runs iterations. keyed: requests carry
// keys (kept caches); bump: the weights change (same values, new version) before every round;
// stale: the generator continues from kept caches across such changes.
Segmented segments(model::Model& m, model::KvType kv, bool keyed, bool bump, bool stale = false) {
  model::SamplingParams sp;
  sp.temperature = 0.9;
  sp.stop_tokens = {5};
  sp.max_answer_tokens = 18;
  std::vector<model::GenRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    model::GenRequest q;
    q.id = i;
    q.prompt = random_tokens(1 + (i * 5) % 11, 23, 50 + i);
    q.seed = 1000 + i;
    q.key = keyed ? 77 + i : 0;
    q.max_new_tokens = 3;
    reqs.push_back(q);
  }
  Segmented out;
  out.tokens.resize(6), out.logprobs.resize(6);
  out.finish.assign(6, model::Finish::segment);
  for (int round = 0; round < 10; ++round) {
    std::vector<model::GenRequest> open;
    std::vector<size_t> idx;
    for (size_t i = 0; i < reqs.size(); ++i)
      if (out.finish[i] == model::Finish::segment) open.push_back(reqs[i]), idx.push_back(i);
    if (open.empty()) break;
    if (bump) m.params();
    model::Generator g(m, 6, 40, kv);
    g.set_continue_stale(stale);
    auto part = g.generate(open, sp);
    out.kept += g.stats().kept_tokens;
    out.prefill += g.stats().prefill_tokens;
    for (size_t j = 0; j < idx.size(); ++j) {
      const size_t i = idx[j];
      reqs[i].answer.insert(reqs[i].answer.end(), part[j].tokens.begin(), part[j].tokens.end());
      reqs[i].rng_state = part[j].rng_state;
      out.finish[i] = part[j].finish;
      out.logprobs[i].insert(out.logprobs[i].end(), part[j].model_logprobs.begin(),
                             part[j].model_logprobs.end());
    }
  }
  out.tokens.clear();
  for (const auto& q : reqs) out.tokens.push_back(q.answer);
  return out;
}

class KeptCache : public ::testing::TestWithParam<model::KvType> {};

TEST_P(KeptCache, ContinuesLikeARePrefill) {
  // bf24: the documented max error per token (docs/engine.md) is 2.1e-4 on SmolLM2.
  const double tol = GetParam() == model::KvType::f32 ? 1e-5 : 3e-4;
  model::Model m(config());
  randomize(m, 4, 0.6f);
  const Segmented kept = segments(m, GetParam(), true, false);
  const Segmented again = segments(m, GetParam(), false, false);  // no keys: re-prefilled
  const Segmented bumped = segments(m, GetParam(), true, true);  // keys, but new weights each round
  const Segmented stale = segments(m, GetParam(), true, true, true);  // ... continued all the same
  EXPECT_GT(kept.kept, 0);
  EXPECT_LT(kept.prefill, again.prefill);  // only the prompts were prefilled
  EXPECT_EQ(again.kept, 0);
  EXPECT_EQ(bumped.kept, 0) << "a kept cache was used after the weights changed";
  EXPECT_EQ(bumped.prefill, again.prefill);
  EXPECT_EQ(stale.kept, kept.kept) << "stale keys and values were not continued from";
  EXPECT_EQ(stale.prefill, kept.prefill);
  for (size_t i = 0; i < 6; ++i) {
    ASSERT_GT(kept.tokens[i].size(), 3u) << "request " << i << " never resumed";
    EXPECT_EQ(kept.tokens[i], again.tokens[i]) << "request " << i;
    EXPECT_EQ(kept.finish[i], again.finish[i]);
    EXPECT_EQ(bumped.tokens[i], again.tokens[i]);
    EXPECT_EQ(stale.tokens[i], again.tokens[i]);  // the values did not change, only the version
    ASSERT_EQ(kept.logprobs[i].size(), again.logprobs[i].size());
    ASSERT_EQ(stale.logprobs[i].size(), again.logprobs[i].size());
    for (size_t t = 0; t < kept.logprobs[i].size(); ++t) {
      EXPECT_NEAR(kept.logprobs[i][t], again.logprobs[i][t], tol) << "request " << i;
      EXPECT_NEAR(stale.logprobs[i][t], again.logprobs[i][t], tol) << "request " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, KeptCache,
                         ::testing::Values(model::KvType::f32, model::KvType::bf24),
                         [](const auto& info) {
                           return std::string(model::kv_type_name(info.param));
                         });

// A kept cache is not used by a cache of another layout, nor by a request whose tokens differ
// from what the slot holds, and it is overwritten by whatever runs in its slot next.
TEST(KeptCache, OnlyTheSameLayoutAndTokens) {
  model::Model m(config());
  randomize(m, 5, 0.6f);
  model::SamplingParams sp;
  sp.max_answer_tokens = 30;
  model::GenRequest q;
  q.prompt = random_tokens(7, 23, 9);
  q.seed = 3, q.key = 42, q.max_new_tokens = 4;
  auto first = [&](int64_t capacity) {
    model::Generator g(m, 2, capacity);
    auto r = g.generate({q}, sp)[0];
    EXPECT_EQ(r.finish, model::Finish::segment);
    model::GenRequest next = q;
    next.answer = r.tokens, next.rng_state = r.rng_state;
    return next;
  };
  auto kept_tokens = [&](const model::GenRequest& r, int64_t capacity) {
    model::Generator g(m, 2, capacity);
    g.generate({r}, sp);
    return g.stats().kept_tokens;
  };
  model::GenRequest next = first(32);
  EXPECT_EQ(kept_tokens(next, 48), 0);  // another capacity: another layout
  next = first(32);
  EXPECT_EQ(kept_tokens(next, 32), 10);  // prompt + 3 of the 4 new tokens (the last is fed)
  next = first(32);
  model::GenRequest other = next;
  other.answer[1] = (other.answer[1] + 1) % 23;  // differs from token 8 on
  EXPECT_EQ(kept_tokens(other, 32), 8);          // the common prefix only
  // Another sequence takes a free slot that keeps nothing (slot 1) while there is one ...
  next = first(32);
  model::GenRequest stranger = next;
  stranger.key = 43;
  EXPECT_EQ(kept_tokens(stranger, 32), 0);
  EXPECT_EQ(kept_tokens(next, 32), 10);
  // ... and overwrites the kept slot when there is not.
  next = first(32);
  model::GenRequest second = stranger;
  second.key = 44;
  {
    model::Generator g(m, 2, 32);
    g.generate({stranger, second}, sp);
  }
  EXPECT_EQ(kept_tokens(next, 32), 0);
}

// More keyed requests than slots: the slots keep the sequences that ran last, which come last
// in the next call's order. Those start at once from their kept caches and the others follow in
// the slots that free up (a request waiting for a free slot does not wait behind them while they
// hold every slot), with the tokens of a re-prefill.
TEST(KeptCache, RequestsHoldingKeptSlotsStartFirst) {
  model::Model m(config());
  randomize(m, 6, 0.6f);
  model::SamplingParams sp;
  sp.temperature = 0.8;
  sp.max_answer_tokens = 30;
  auto requests = [&](bool keyed) {
    std::vector<model::GenRequest> reqs;
    for (int i = 0; i < 4; ++i) {
      model::GenRequest q;
      q.id = i, q.prompt = random_tokens(3 + i, 23, 20 + i), q.seed = 60 + i;
      q.key = keyed ? 500 + i : 0;
      q.max_new_tokens = 3;
      reqs.push_back(q);
    }
    return reqs;
  };
  auto two_rounds = [&](bool keyed, int64_t* kept) {
    std::vector<model::GenRequest> reqs = requests(keyed);
    for (int round = 0; round < 2; ++round) {
      model::Generator g(m, 2, 40);
      const auto res = g.generate(reqs, sp);
      for (size_t i = 0; i < reqs.size(); ++i) {
        EXPECT_EQ(res[i].tokens.size(), 3u) << "round " << round << ", request " << i;
        reqs[i].answer.insert(reqs[i].answer.end(), res[i].tokens.begin(), res[i].tokens.end());
        reqs[i].rng_state = res[i].rng_state;
      }
      *kept = g.stats().kept_tokens;
    }
    return reqs;
  };
  int64_t kept = 0, none = 0;
  const auto with_keys = two_rounds(true, &kept);
  const auto without = two_rounds(false, &none);
  EXPECT_GT(kept, 0);  // requests 2 and 3 continued from their slots
  EXPECT_EQ(none, 0);
  for (size_t i = 0; i < with_keys.size(); ++i)
    EXPECT_EQ(with_keys[i].answer, without[i].answer) << "request " << i;
}

// After a real weight change, a stale continuation's first step is the new weights' step on the
// keys and values the old weights wrote (computed here with forward_cached on a cache of its own),
// which differs from a re-prefill with the new weights.
TEST(KeptCache, StaleContinuationReadsTheOldWeightsContext) {
  model::Model m(config());
  const int64_t V = m.config().vocab;
  randomize(m, 5, 0.6f);
  const std::vector<float> old_w(m.params(), m.params() + m.num_params());
  model::SamplingParams sp;
  sp.temperature = 0;  // greedy: the first token is the reference's argmax
  sp.max_answer_tokens = 30;
  model::GenRequest q;
  q.prompt = random_tokens(7, 23, 9);
  q.seed = 3, q.key = 42, q.max_new_tokens = 4;
  model::GenRequest next = q;
  {
    model::Generator g(m, 2, 32);
    const model::GenResult r = g.generate({q}, sp)[0];
    ASSERT_EQ(r.finish, model::Finish::segment);
    next.answer = r.tokens, next.rng_state = r.rng_state;
  }
  randomize(m, 11, 0.6f);  // the training step
  const std::vector<float> new_w(m.params(), m.params() + m.num_params());
  auto continue_once = [&](bool stale, int64_t* kept) {
    model::Generator g(m, 2, 32);
    g.set_continue_stale(stale);
    const model::GenResult r = g.generate({next}, sp)[0];
    *kept = g.stats().kept_tokens;
    return r;
  };
  int64_t kept_stale = 0, kept_exact = 0;
  const model::GenResult stale = continue_once(true, &kept_stale);
  const int64_t n = static_cast<int64_t>(q.prompt.size() + next.answer.size());
  EXPECT_EQ(kept_stale, n - 1);  // all but the last token, whose logits the first step needs
  const model::GenResult exact = continue_once(false, &kept_exact);
  EXPECT_EQ(kept_exact, 0);
  ASSERT_FALSE(stale.model_logprobs.empty());
  ASSERT_FALSE(exact.model_logprobs.empty());

  // The reference: the context's keys and values under the old weights, the last token's step
  // under the new ones.
  std::vector<int32_t> ctx = q.prompt;
  ctx.insert(ctx.end(), next.answer.begin(), next.answer.end());
  model::KvCache cache(m.config(), 1, 32);
  std::copy(old_w.begin(), old_w.end(), m.params());
  const int32_t slot = 0, zero = 0, last = static_cast<int32_t>(n - 1);
  std::vector<int32_t> q_cu{0, last};
  std::vector<float> lg(static_cast<size_t>(n * V));
  m.forward_cached(ctx.data(), q_cu.data(), 1, &slot, &zero, cache, lg.data());
  std::copy(new_w.begin(), new_w.end(), m.params());
  q_cu = {0, 1};
  m.forward_cached(ctx.data() + last, q_cu.data(), 1, &slot, &last, cache, lg.data());
  const int32_t best =
      static_cast<int32_t>(std::max_element(lg.begin(), lg.begin() + V) - lg.begin());
  double z = 0;
  for (int64_t v = 0; v < V; ++v) z += std::exp(static_cast<double>(lg[v] - lg[best]));
  EXPECT_EQ(stale.tokens[0], best);
  EXPECT_NEAR(stale.model_logprobs[0], -std::log(z), 1e-5);
  EXPECT_GT(std::abs(stale.model_logprobs[0] - exact.model_logprobs[0]), 1e-3)
      << "the stale continuation read the new weights' context";
}

}  // namespace
}  // namespace k1rl::test
