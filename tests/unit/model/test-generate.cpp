// Generation: KV-cache logits equal full-forward logits at every position; continuous batching
// gives the same tokens as one-at-a-time generation under the same seeds; a parked answer
// resumed later (re-prefill + saved RNG) continues exactly as if never interrupted; budgets.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

model::ModelConfig gen_config() {
  model::ModelConfig c = tiny_config(true, false);
  c.vocab = 23;
  c.dim = 16;
  c.heads = 4;
  c.kv_heads = 2;
  c.max_seq = 64;
  return c;
}

class KvCacheTypes : public ::testing::TestWithParam<model::KvType> {};

// f32: the logits of the full forward (1e-5); bf24 and f16: the same up to their rounding of
// keys and values (relative 2^-16 and 2^-11).
TEST_P(KvCacheTypes, DecodeLogitsEqualFullForwardAtEveryPosition) {
  const double tol = GetParam() == model::KvType::f32    ? 1e-5
                     : GetParam() == model::KvType::bf24 ? 2e-4
                                                         : 2e-2;
  model::Model m(gen_config());
  randomize(m, 1);
  const int64_t V = 23;
  // Three sequences of different lengths; prefill 1, 4 and 7 tokens, then decode the rest
  // together (sequences drop out of the batch as they run out).
  std::vector<std::vector<int32_t>> seqs{random_tokens(12, 23, 1), random_tokens(20, 23, 2),
                                         random_tokens(9, 23, 3)};
  std::vector<int> prefill{1, 4, 7};
  model::ForwardOptions opt;
  opt.all_logits = true;
  std::vector<std::vector<float>> ref;
  for (const auto& s : seqs) {
    m.forward(make_batch({s}), opt);
    ASSERT_EQ(m.logit_positions().size(), s.size());
    ref.emplace_back(m.logits(), m.logits() + s.size() * V);
  }
  // Both product paths: sgemm, and the packed weights Generator uses.
  for (bool packed : {false, true}) {
    model::KvCache cache(m.config(), 4, 64, GetParam());
    if (packed) cache.pack_weights(m);  // decode steps then use ops::matmul_packed
    std::vector<int32_t> slot_of{2, 0, 3};
    // Prefill with logits at every prefilled position.
    {
      std::vector<int32_t> tok, q_cu{0}, slots, start;
      for (int b = 0; b < 3; ++b) {
        tok.insert(tok.end(), seqs[b].begin(), seqs[b].begin() + prefill[b]);
        q_cu.push_back(static_cast<int32_t>(tok.size()));
        slots.push_back(slot_of[b]);
        start.push_back(0);
      }
      std::vector<float> lg(tok.size() * V);
      m.forward_cached(tok.data(), q_cu.data(), 3, slots.data(), start.data(), cache, lg.data(),
                       true);
      for (int b = 0; b < 3; ++b)
        for (int p = 0; p < prefill[b]; ++p)
          for (int64_t v = 0; v < V; ++v)
            ASSERT_NEAR(lg[(q_cu[b] + p) * V + v], ref[b][p * V + v], tol) << b << " pos " << p;
    }
    std::vector<int> done = prefill;
    while (true) {
      std::vector<int32_t> tok, q_cu{0}, slots, start, who;
      for (int b = 0; b < 3; ++b)
        if (done[b] < static_cast<int>(seqs[b].size())) {
          tok.push_back(seqs[b][done[b]]);
          q_cu.push_back(static_cast<int32_t>(tok.size()));
          slots.push_back(slot_of[b]);
          start.push_back(done[b]);
          who.push_back(b);
        }
      if (who.empty()) break;
      std::vector<float> lg(who.size() * V);
      m.forward_cached(tok.data(), q_cu.data(), who.size(), slots.data(), start.data(), cache,
                       lg.data());
      for (size_t i = 0; i < who.size(); ++i) {
        const int b = who[i], p = done[b];
        for (int64_t v = 0; v < V; ++v)
          ASSERT_NEAR(lg[i * V + v], ref[b][p * V + v], tol) << "seq " << b << " pos " << p;
        ++done[b];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, KvCacheTypes,
                         ::testing::Values(model::KvType::f32, model::KvType::bf24,
                                           model::KvType::f16),
                         [](const auto& info) {
                           return std::string(model::kv_type_name(info.param));
                         });

std::vector<model::GenRequest> requests(int n) {
  std::vector<model::GenRequest> r;
  for (int i = 0; i < n; ++i) {
    model::GenRequest q;
    q.id = 100 + i;
    q.prompt = random_tokens(1 + (i * 5) % 11, 23, 50 + i);
    q.seed = 1000 + i;
    r.push_back(q);
  }
  return r;
}

struct SampCase {
  double temperature, top_p;
  int64_t top_k;
  model::KvType kv = model::KvType::f32;
};
void PrintTo(const SampCase& c, std::ostream* os) {
  *os << "T" << c.temperature << "_p" << c.top_p << "_k" << c.top_k
      << (c.kv == model::KvType::f32 ? "" : std::string("_") + model::kv_type_name(c.kv));
}
class Batching : public ::testing::TestWithParam<SampCase> {};

TEST_P(Batching, ContinuousBatchingEqualsOneAtATime) {
  model::Model m(gen_config());
  randomize(m, 2, 0.6f);
  model::SamplingParams sp;
  sp.temperature = GetParam().temperature;
  sp.top_p = GetParam().top_p;
  sp.top_k = GetParam().top_k;
  sp.stop_tokens = {3, 7};
  sp.max_answer_tokens = 20;
  auto reqs = requests(9);
  model::Generator batched(m, 3, -1, GetParam().kv);
  auto together = batched.generate(reqs, sp);
  EXPECT_GT(batched.stats().steps, 0);
  int stopped = 0, long_ones = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    model::Generator single(m, 1, -1, GetParam().kv);
    auto alone = single.generate({reqs[i]}, sp);
    ASSERT_EQ(alone.size(), 1u);
    EXPECT_EQ(together[i].id, reqs[i].id);
    EXPECT_EQ(together[i].tokens, alone[0].tokens) << "request " << i;
    EXPECT_EQ(together[i].finish, alone[0].finish);
    EXPECT_EQ(together[i].rng_state, alone[0].rng_state);
    ASSERT_EQ(together[i].logprobs.size(), together[i].tokens.size());
    for (size_t t = 0; t < alone[0].logprobs.size(); ++t) {
      EXPECT_NEAR(together[i].logprobs[t], alone[0].logprobs[t], 1e-4);
      EXPECT_NEAR(together[i].model_logprobs[t], alone[0].model_logprobs[t], 1e-4);
      EXPECT_LE(together[i].model_logprobs[t], 0.f);
    }
    if (together[i].finish == model::Finish::stop) {
      ++stopped;
      EXPECT_TRUE(together[i].tokens.back() == 3 || together[i].tokens.back() == 7);
    } else {
      ++long_ones;
      EXPECT_EQ(together[i].finish, model::Finish::length);
      EXPECT_EQ(together[i].tokens.size(), 20u);
    }
  }
  EXPECT_EQ(stopped + long_ones, 9);
}
INSTANTIATE_TEST_SUITE_P(Sampling, Batching,
                         ::testing::Values(SampCase{1.0, 1.0, 0}, SampCase{0.0, 1.0, 0},
                                           SampCase{0.7, 0.9, 0}, SampCase{1.3, 1.0, 5},
                                           SampCase{1.0, 1.0, 0, model::KvType::f16},
                                           SampCase{0.7, 0.9, 0, model::KvType::bf24}));

// The behaviour log-probability of a sampled token equals the training forward's log-prob
// when sampling at temperature 1 without filtering.
TEST(Generate, LogprobsMatchTrainingForward) {
  model::Model m(gen_config());
  randomize(m, 3, 0.6f);
  model::SamplingParams sp;
  sp.max_answer_tokens = 15;
  model::Generator g(m, 2);
  auto reqs = requests(3);
  auto res = g.generate(reqs, sp);
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::vector<int32_t> all = reqs[i].prompt;
    all.insert(all.end(), res[i].tokens.begin(), res[i].tokens.end());
    auto out = m.forward(make_batch({all}));
    const size_t P = reqs[i].prompt.size();
    for (size_t t = 0; t < res[i].tokens.size(); ++t) {
      EXPECT_NEAR(res[i].logprobs[t], out.logprob[P + t], 1e-4);
      EXPECT_NEAR(res[i].model_logprobs[t], out.logprob[P + t], 1e-4);
    }
  }
}

// Partial rollouts: stop each answer after a 4-token segment, park it (answer + RNG state),
// resume later with re-prefill: the tokens equal one uninterrupted generation.
TEST(Generate, ParkedAnswersResumeExactly) {
  model::Model m(gen_config());
  randomize(m, 4, 0.6f);
  model::SamplingParams sp;
  sp.temperature = 0.9;
  sp.stop_tokens = {5};
  sp.max_answer_tokens = 18;
  auto reqs = requests(6);
  model::Generator g(m, 4);
  auto whole = g.generate(reqs, sp);
  auto cur = reqs;
  std::vector<std::vector<int32_t>> answers(reqs.size());
  std::vector<model::Finish> fin(reqs.size(), model::Finish::segment);
  for (int round = 0; round < 10; ++round) {
    std::vector<model::GenRequest> open;
    std::vector<size_t> idx;
    for (size_t i = 0; i < cur.size(); ++i)
      if (fin[i] == model::Finish::segment) {
        cur[i].max_new_tokens = 4;
        cur[i].answer = answers[i];
        open.push_back(cur[i]), idx.push_back(i);
      }
    if (open.empty()) break;
    auto part = g.generate(open, sp);
    for (size_t j = 0; j < idx.size(); ++j) {
      const size_t i = idx[j];
      answers[i].insert(answers[i].end(), part[j].tokens.begin(), part[j].tokens.end());
      fin[i] = part[j].finish;
      cur[i].rng_state = part[j].rng_state;
      EXPECT_LE(part[j].tokens.size(), 4u);
    }
  }
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(answers[i], whole[i].tokens) << "request " << i;
    EXPECT_EQ(fin[i], whole[i].finish);
  }
}

// The capacity bounds the whole sequence: an answer that runs into it ends at length with
// prompt + answer = capacity tokens (at most max_seq), which the training forward accepts.
TEST(Generate, CapacityBoundsPromptPlusAnswer) {
  model::Model m(gen_config());
  randomize(m, 6, 0.6f);
  model::SamplingParams sp;
  sp.max_answer_tokens = 1000;  // never the limit here
  auto reqs = requests(4);
  for (int64_t cap : {int64_t{-1}, int64_t{20}}) {
    model::Generator g(m, 2, cap);
    const int64_t limit = cap < 0 ? m.config().max_seq : cap;
    const auto res = g.generate(reqs, sp);
    for (size_t i = 0; i < res.size(); ++i) {
      const int64_t len = static_cast<int64_t>(reqs[i].prompt.size() + res[i].tokens.size());
      if (res[i].finish == model::Finish::length) {
        EXPECT_EQ(len, limit) << "request " << i;
      }
      EXPECT_LE(len, limit) << "request " << i;
      std::vector<int32_t> seq = reqs[i].prompt;
      seq.insert(seq.end(), res[i].tokens.begin(), res[i].tokens.end());
      EXPECT_NO_THROW(m.forward(make_batch({seq}))) << "request " << i;
    }
  }
}

TEST(Generate, TokenBudgetLeavesOpenSequences) {
  model::Model m(gen_config());
  randomize(m, 5, 0.6f);
  model::SamplingParams sp;
  sp.max_answer_tokens = 30;
  auto reqs = requests(5);
  model::Generator g(m, 2);
  auto res = g.generate(reqs, sp, 17);
  int64_t total = 0;
  for (const auto& r : res) {
    total += r.tokens.size();
    EXPECT_EQ(r.rng_state.size(), 4u);
    if (r.finish != model::Finish::stop && r.finish != model::Finish::length) {
      EXPECT_TRUE(r.open());
    }
  }
  EXPECT_EQ(total, 17);
  EXPECT_TRUE(res.back().open());
  EXPECT_TRUE(res.back().tokens.empty());
  // Bad sampling parameters are refused before anything runs.
  model::SamplingParams bad = sp;
  bad.top_p = 1.5;
  EXPECT_THROW(g.generate(reqs, bad), InputError);
  // A request whose answer is already at the limit finishes at once.
  auto q = reqs[0];
  q.answer.assign(30, 1);
  EXPECT_EQ(g.generate({q}, sp)[0].finish, model::Finish::length);
}

// Fill requests (partial rollouts' refill groups) take only the slots the call's own requests
// leave free, and stop when the last own request retires: with 2 slots, an own request of 6
// tokens runs beside fill requests of 4: the first fill runs its 4, the second is cut open after
// 2, the third never starts. Each one's tokens and RNG state are those it has alone.
TEST(Generate, FillRequestsTakeOnlySlotsTheOwnWorkLeavesFree) {
  model::Model m(gen_config());
  randomize(m, 7, 0.6f);
  model::SamplingParams sp;  // no stop tokens: every request runs to its segment
  sp.max_answer_tokens = 30;
  auto reqs = requests(4);
  reqs[0].max_new_tokens = 6;
  for (size_t i = 1; i < reqs.size(); ++i) reqs[i].max_new_tokens = 4, reqs[i].fill = true;
  model::Generator g(m, 2);
  const auto res = g.generate(reqs, sp);
  const size_t want[] = {6, 4, 2, 0};
  const model::Finish finish[] = {model::Finish::segment, model::Finish::segment,
                                  model::Finish::budget, model::Finish::budget};
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(res[i].tokens.size(), want[i]) << "request " << i;
    EXPECT_EQ(res[i].finish, finish[i]) << "request " << i;
    model::GenRequest solo = reqs[i];
    solo.fill = false;
    solo.max_new_tokens = static_cast<int64_t>(want[i]);
    model::Generator one(m, 1);
    const auto alone = one.generate({solo}, sp);
    EXPECT_EQ(res[i].tokens, alone[0].tokens) << "request " << i;
    EXPECT_EQ(res[i].rng_state, alone[0].rng_state) << "request " << i;
  }
  // Without own requests no fill request starts.
  const auto only_fill = g.generate({reqs[1], reqs[2]}, sp);
  for (const auto& r : only_fill) {
    EXPECT_TRUE(r.tokens.empty());
    EXPECT_EQ(r.finish, model::Finish::budget);
  }
}

}  // namespace
}  // namespace k1rl::test
