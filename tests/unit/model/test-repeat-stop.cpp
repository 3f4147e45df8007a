// Repeat detection inside generation: a model forced into a loop stops at the token where the
// loop becomes detectable (repeat_min_tokens tokens of one repeated block), not at the answer's
// length limit; the tokens before the stop are those generation without detection makes; a
// parked answer's earlier tokens count towards the loop.
#include <gtest/gtest.h>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

// A 1-layer model whose LM head maps token t to t+1 mod period: greedy decoding cycles through
// 0, 1, ..., period-1 from any start (the head dominates the residual path by construction).
std::unique_ptr<model::Model> cycling_model(int period) {
  model::ModelConfig c = tiny_config(false, false);
  c.vocab = 16;
  c.dim = 16;
  c.layers = 1;
  c.heads = 2;
  c.kv_heads = 1;
  c.max_seq = 128;
  auto mp = std::make_unique<model::Model>(c);
  model::Model& m = *mp;
  for (const auto& t : m.tensors()) {
    float* p = m.params() + t.offset;
    const bool norm = t.name.find("norm") != std::string::npos;
    for (int64_t i = 0; i < t.size; ++i) p[i] = norm ? 1.f : 0.f;
  }
  float* emb = m.param("model.embed_tokens.weight");  // token v -> basis vector v
  for (int v = 0; v < 16; ++v) emb[v * 16 + v] = 1.f;
  float* head = m.param("lm_head.weight");  // [V, C]: logit of (v+1) % period reads dim v
  for (int v = 0; v < 16; ++v) head[((v + 1) % period) * 16 + v] = 20.f;
  return mp;
}

TEST(RepeatStop, ALoopEndsWhereItBecomesDetectable) {
  const int period = 3;
  std::unique_ptr<model::Model> mp = cycling_model(period);
  const model::Model& m = *mp;
  model::GenRequest q;
  q.prompt = {5, 0};  // then 1 2 0 1 2 0 ...
  model::SamplingParams sp;
  sp.temperature = 0;
  sp.max_answer_tokens = 100;
  model::Generator gen(m, 2);
  model::GenResult free_run = gen.generate({q}, sp)[0];
  ASSERT_EQ(free_run.finish, model::Finish::length);
  ASSERT_EQ(free_run.tokens.size(), 100u);
  for (size_t i = 0; i < 12; ++i) ASSERT_EQ(free_run.tokens[i], (1 + static_cast<int>(i)) % period);

  // The first prefix length at which the detector fires on the free run.
  sp.repeat_max_period = 8;
  sp.repeat_min_tokens = 12;
  int64_t first = -1;
  for (int64_t n = 1; n <= 100 && first < 0; ++n)
    if (model::ends_in_loop([&](int64_t i) { return free_run.tokens[i]; }, n, 8, 12)) first = n;
  ASSERT_EQ(first, 12);  // 12 tokens of the block "1 2 0" repeated
  model::GenResult r = gen.generate({q}, sp)[0];
  EXPECT_EQ(r.finish, model::Finish::repeated);
  EXPECT_STREQ(model::finish_name(r.finish), "repeated");
  EXPECT_FALSE(r.open());
  ASSERT_EQ(static_cast<int64_t>(r.tokens.size()), first);  // within 0 tokens of detectability
  EXPECT_TRUE(std::equal(r.tokens.begin(), r.tokens.end(), free_run.tokens.begin()));

  // A parked answer continuing: its 10 earlier tokens count, so 2 new ones complete the loop.
  model::GenRequest parked = q;
  parked.answer.assign(free_run.tokens.begin(), free_run.tokens.begin() + 10);
  model::GenResult c = gen.generate({parked}, sp)[0];
  EXPECT_EQ(c.finish, model::Finish::repeated);
  EXPECT_EQ(c.tokens.size(), 2u);
}

TEST(RepeatStop, DetectorNeedsTheWholeSpanAndTwoBlocks) {
  std::vector<int32_t> a = {9, 1, 2, 1, 2, 1, 2};
  auto at = [&](int64_t i) { return a[static_cast<size_t>(i)]; };
  EXPECT_TRUE(model::ends_in_loop(at, 7, 4, 6));   // "1 2" x3 covers 6
  EXPECT_FALSE(model::ends_in_loop(at, 7, 4, 7));  // the 9 breaks a 7-token span
  EXPECT_FALSE(model::ends_in_loop(at, 7, 1, 6));  // period 2 not allowed
  std::vector<int32_t> b = {4, 4, 4};
  EXPECT_TRUE(model::ends_in_loop([&](int64_t i) { return b[static_cast<size_t>(i)]; }, 3, 1, 3));
}

}  // namespace
}  // namespace k1rl::test
