// Training-path invariants: packing does not mix sequences, the loss mask only selects, gradients
// accumulate across micro-batches, the SFT cross-entropy is -Σ logprob, seeded init, config.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

TEST(ModelTrain, PackedEqualsSeparate) {
  model::Model m(tiny_config());
  randomize(m, 1);
  auto s1 = random_tokens(7, 11, 1), s2 = random_tokens(4, 11, 2);
  auto packed = m.forward(make_batch({s1, s2}));
  auto a = m.forward(make_batch({s1}));
  auto b = m.forward(make_batch({s2}));
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(packed.valid[i], a.valid[i]);
    EXPECT_NEAR(packed.logprob[i], a.logprob[i], 1e-5);
    EXPECT_NEAR(packed.entropy[i], a.entropy[i], 1e-5);
  }
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(packed.logprob[7 + i], b.logprob[i], 1e-5);
  EXPECT_EQ(packed.valid[0], 0);
  EXPECT_EQ(packed.valid[7], 0);  // first token of the second sequence
}

TEST(ModelTrain, MaskSelectsWithoutChangingValuesOrGradients) {
  model::Model m(tiny_config());
  randomize(m, 2);
  model::Batch full = make_batch({random_tokens(9, 11, 3), random_tokens(5, 11, 4)});
  model::Batch masked = full;
  masked.mask = {0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1};
  auto all = m.forward(full);
  std::vector<float> w(14);
  for (int i = 0; i < 14; ++i) w[i] = masked.mask[i] ? 0.1f * (i + 1) : 0.f;
  m.zero_grads();
  m.backward(w.data(), w.data());
  std::vector<float> g_all(m.grads(), m.grads() + m.num_params());
  auto part = m.forward(masked);
  for (int i = 0; i < 14; ++i) {
    const bool want = masked.mask[i] && i != 0 && i != 9;
    ASSERT_EQ(part.valid[i], want ? 1 : 0) << i;
    if (want) {
      EXPECT_NEAR(part.logprob[i], all.logprob[i], 1e-5);
    }
  }
  EXPECT_EQ(m.logit_positions().size(), 8u);
  m.zero_grads();
  m.backward(w.data(), w.data());
  for (int64_t i = 0; i < m.num_params(); ++i)
    ASSERT_NEAR(m.grads()[i], g_all[i], 1e-5 + 1e-4 * std::fabs(g_all[i])) << i;
}

TEST(ModelTrain, GradientsAccumulateOverMicroBatches) {
  model::Model m(tiny_config(false, true));
  randomize(m, 3);
  model::Batch b1 = make_batch({random_tokens(6, 11, 5)}),
               b2 = make_batch({random_tokens(8, 11, 6)});
  std::vector<float> w1(6, 0.5f), w2(8, -0.25f);
  m.zero_grads();
  m.forward(b1);
  m.backward(w1.data());
  std::vector<float> g1(m.grads(), m.grads() + m.num_params());
  m.zero_grads();
  m.forward(b2);
  m.backward(w2.data());
  std::vector<float> g2(m.grads(), m.grads() + m.num_params());
  m.zero_grads();
  m.forward(b1);
  m.backward(w1.data());
  m.forward(b2);
  m.backward(w2.data());
  for (int64_t i = 0; i < m.num_params(); ++i)
    ASSERT_NEAR(m.grads()[i], g1[i] + g2[i], 1e-6 + 1e-5 * std::fabs(g1[i] + g2[i]));
}

TEST(ModelTrain, CrossEntropyStepIsMinusSumLogprob) {
  model::Model m(tiny_config());
  randomize(m, 4);
  model::Batch b = make_batch({random_tokens(10, 11, 7), random_tokens(3, 11, 8)});
  b.mask.assign(13, 1);
  b.mask[4] = 0;
  auto out = m.forward(b);
  double nll = 0;
  int64_t n = 0;
  std::vector<float> w(13, 0.f);
  for (int i = 0; i < 13; ++i)
    if (out.valid[i]) nll -= out.logprob[i], ++n, w[i] = -0.5f;
  m.zero_grads();
  m.forward(b);
  m.backward(w.data());
  std::vector<float> g(m.grads(), m.grads() + m.num_params());
  m.zero_grads();
  auto ce = m.cross_entropy_step(b, 0.5f);
  EXPECT_EQ(ce.tokens, 10);  // 13 tokens - 2 first tokens - 1 masked
  EXPECT_EQ(ce.tokens, n);
  EXPECT_NEAR(ce.nll_sum, nll, 1e-4);
  for (int64_t i = 0; i < m.num_params(); ++i) ASSERT_NEAR(m.grads()[i], g[i], 1e-6);
}

TEST(ModelTrain, BackwardNeedsItsOwnForward) {
  model::Model m(tiny_config());
  randomize(m, 5);
  std::vector<float> w(5, 1.f);
  EXPECT_THROW(m.backward(w.data()), InputError);
  model::ForwardOptions no_ent;
  no_ent.entropy = false;
  m.forward(make_batch({random_tokens(5, 11, 9)}), no_ent);
  EXPECT_THROW(m.backward(w.data(), w.data()), InputError);
  m.backward(w.data());
  EXPECT_THROW(m.backward(w.data()), InputError);
}

TEST(ModelTrain, BadBatchesAreRefused) {
  model::Model m(tiny_config());
  EXPECT_THROW(m.forward(make_batch({{1, 2, 11}})), InputError);  // token outside vocab
  EXPECT_THROW(m.forward(make_batch({{1, 2}, {}})), InputError);  // empty sequence
  EXPECT_THROW(m.forward(make_batch({random_tokens(33, 11, 1)})), InputError);  // > max_seq
}

TEST(ModelInit, SeededAndHuggingFaceLike) {
  model::ModelConfig c = tiny_config();
  model::Model a(c), b(c), d(c);
  a.init_params(42);
  b.init_params(42);
  d.init_params(43);
  EXPECT_TRUE(std::equal(a.params(), a.params() + a.num_params(), b.params()));
  EXPECT_FALSE(std::equal(a.params(), a.params() + a.num_params(), d.params()));
  const auto& emb = a.tensor("model.embed_tokens.weight");
  double ss = 0;
  for (int64_t i = 0; i < emb.size; ++i)
    ss += double(a.params()[emb.offset + i]) * a.params()[emb.offset + i];
  EXPECT_NEAR(std::sqrt(ss / emb.size), 0.02, 0.005);
  EXPECT_EQ(a.param("model.norm.weight")[0], 1.f);
  EXPECT_EQ(a.param("model.layers.1.self_attn.k_proj.bias")[3], 0.f);
  EXPECT_EQ(a.tensor("lm_head.weight").shape, (std::vector<int64_t>{11, 8}));
  EXPECT_EQ(a.tensor("model.layers.0.self_attn.k_proj.weight").shape, (std::vector<int64_t>{4, 8}));
  EXPECT_FALSE(a.tensor("model.layers.0.input_layernorm.weight").decay);
  EXPECT_THROW(a.tensor("model.layers.9.mlp.up_proj.weight"), InputError);
}

TEST(ModelConfig, SectionDefaultsValidationAndText) {
  ConfigSpec spec;
  model::declare_model_options(spec);
  Config cfg = Config::parse(spec, "[model]\ndim = 96\nheads = 6\nkv_heads = 2\n", "test.ini", {});
  auto c = model::ModelConfig::from_config(cfg);
  EXPECT_EQ(c.dim, 96);
  EXPECT_EQ(c.vocab, 259);
  EXPECT_EQ(c.head_dim(), 16);
  auto back = model::ModelConfig::from_map(c.to_map(), "test");
  EXPECT_TRUE(back == c);
  Config bad = Config::parse(spec, "[model]\nheads = 5\n", "bad.ini", {});
  try {
    model::ModelConfig::from_config(bad);
    FAIL() << "heads = 5 with dim 64 must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.heads"), std::string::npos) << e.what();
  }
  model::ModelConfig other = c;
  other.ffn_dim = 1;
  EXPECT_EQ(model::config_diff(c, other).key, "ffn_dim");
}

}  // namespace
}  // namespace k1rl::test
