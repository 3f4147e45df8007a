// Recomputation (Model::set_recompute) changes memory, not maths: log-probs, entropies and every
// gradient equal those of the forward that keeps all activations, with the LM head in several
// chunks of rows, a loss mask, a temperature and entropy weights; logits() refuses what it no
// longer holds; the finite-difference check of test-model-grad.cpp holds with it on.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

struct Pass {
  model::TokenOutputs out;
  std::vector<float> grads;
};

// Forward and backward of a packed batch with more than three chunks' worth of LM-head rows.
// Three blocks: the last block's activations are still in the work buffer after the forward,
// so only the others show whether the backward computed theirs again.
model::ModelConfig config(bool tied) {
  model::ModelConfig c = tiny_config(true, tied);
  c.layers = 3;
  return c;
}

Pass run(model::Model& m, const model::Batch& b, double temperature) {
  model::ForwardOptions fo;
  fo.temperature = temperature;
  Pass r;
  r.out = m.forward(b, fo);
  const int64_t n = b.size();
  std::vector<float> wlp(n), went(n);
  for (int64_t i = 0; i < n; ++i) {
    wlp[i] = 0.01f * static_cast<float>((i * 7) % 13) - 0.05f;
    went[i] = 0.003f * static_cast<float>((i * 5) % 11);
  }
  m.zero_grads();
  m.backward(wlp.data(), went.data());
  r.grads.assign(m.grads(), m.grads() + m.num_params());
  return r;
}

model::Batch long_batch() {
  model::ModelConfig c = tiny_config();
  std::vector<std::vector<int32_t>> seqs;
  for (uint32_t s = 0; s < 40; ++s)
    seqs.push_back(random_tokens(static_cast<int>(c.max_seq) - static_cast<int>(s % 9), 11, s));
  model::Batch b = make_batch(seqs);
  b.mask.assign(b.tokens.size(), 0);
  for (size_t i = 0; i < b.mask.size(); ++i) b.mask[i] = i % 5 != 0;  // ~950 of ~1100 rows
  return b;
}

TEST(Recompute, SameLogprobsEntropiesAndGradients) {
  for (bool tied : {false, true}) {
    model::Model m(config(tied));
    randomize(m, 11);
    const model::Batch b = long_batch();
    const Pass keep = run(m, b, 0.7);
    ASSERT_GT(m.logit_positions().size(), 3u * 256u);
    m.set_recompute(true);
    EXPECT_TRUE(m.recompute());
    const Pass again = run(m, b, 0.7);
    for (int64_t i = 0; i < b.size(); ++i) {
      ASSERT_EQ(again.out.valid[i], keep.out.valid[i]) << i;
      ASSERT_NEAR(again.out.logprob[i], keep.out.logprob[i], 1e-6) << i;
      ASSERT_NEAR(again.out.entropy[i], keep.out.entropy[i], 1e-6) << i;
    }
    double max_g = 0;
    for (float g : keep.grads) max_g = std::max(max_g, static_cast<double>(std::fabs(g)));
    ASSERT_GT(max_g, 1e-3);
    for (size_t i = 0; i < keep.grads.size(); ++i)
      ASSERT_NEAR(again.grads[i], keep.grads[i], 1e-6 * max_g) << "tied " << tied << " param " << i;
    // And back: turning it off restores the kept path (the released buffers grow again).
    m.set_recompute(false);
    const Pass back = run(m, b, 0.7);
    for (size_t i = 0; i < keep.grads.size(); ++i) ASSERT_EQ(back.grads[i], keep.grads[i]) << i;
  }
}

TEST(Recompute, GradientsAccumulateOverMicroBatches) {
  model::Model m(config(true));
  randomize(m, 3);
  m.set_recompute(true);
  const model::Batch b1 = make_batch({random_tokens(6, 11, 5)});
  const model::Batch b2 = make_batch({random_tokens(8, 11, 6)});
  std::vector<float> w1(6, 0.5f), w2(8, -0.25f);
  m.zero_grads();
  m.forward(b1);
  m.backward(w1.data());
  std::vector<float> g1(m.grads(), m.grads() + m.num_params());
  m.forward(b2);
  m.backward(w2.data());
  std::vector<float> g12(m.grads(), m.grads() + m.num_params());
  m.zero_grads();
  m.forward(b2);
  m.backward(w2.data());
  for (int64_t i = 0; i < m.num_params(); ++i)
    ASSERT_NEAR(g12[i], g1[i] + m.grads()[i], 1e-6 + 1e-5 * std::fabs(g12[i])) << i;
}

TEST(Recompute, LogitsAreRefusedUnlessAllWereKept) {
  model::Model m(tiny_config());
  randomize(m, 4);
  m.set_recompute(true);
  const model::Batch b = long_batch();
  m.forward(b);
  EXPECT_THROW(m.logits(), InputError);
  model::ForwardOptions fo;
  fo.all_logits = true;
  m.forward(b, fo);
  EXPECT_NE(m.logits(), nullptr);
  // A batch whose rows fit in one chunk keeps them all.
  m.forward(make_batch({random_tokens(9, 11, 1)}));
  EXPECT_NE(m.logits(), nullptr);
}

}  // namespace
}  // namespace k1rl::test
