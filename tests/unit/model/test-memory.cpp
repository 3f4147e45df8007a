// lib/model's memory behaviour (docs/engine.md, "Memory"): a KV cache made from a model reuses
// the buffers an earlier cache of that model gave back, so a Generator made per RL iteration
// maps nothing new, and what the earlier cache left there changes no result; a model that only
// generates holds no gradient buffer until one is asked for, and that buffer starts at zero;
// generation's and training's memory, released for each other, are made again with the same
// results; the backend holds every buffer under its kind and gets each back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/buffer.h"
#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

model::ModelConfig mem_config() {
  model::ModelConfig c = tiny_config(true, false);
  c.vocab = 29;
  c.dim = 16;
  c.heads = 4;
  c.kv_heads = 2;
  c.max_seq = 48;
  return c;
}

std::vector<model::GenRequest> reqs(int n, uint64_t salt) {
  std::vector<model::GenRequest> r;
  for (int i = 0; i < n; ++i) {
    model::GenRequest q;
    q.id = i;
    q.prompt = random_tokens(2 + (i * 7 + static_cast<int>(salt)) % 13, 29, 300 + i + 17 * salt);
    q.seed = 9000 + i + 100 * salt;
    r.push_back(q);
  }
  return r;
}

TEST(Memory, CacheOfAModelReusesTheBuffersOfTheLastOne) {
  model::Model m(mem_config());
  randomize(m, 3);
  void *k0 = nullptr, *v0 = nullptr;
  {
    model::KvCache a(m, 4, 40, model::KvType::bf24);
    k0 = a.k(0), v0 = a.v(0);
  }
  // Were the memory freed, these would likely take its place (the heap reuses a freed chunk).
  std::vector<std::vector<unsigned char>> squat;
  for (size_t n = 64; n < (1 << 16); n += n / 8 + 16) squat.emplace_back(n), squat.emplace_back(n);
  model::KvCache b(m, 3, 32, model::KvType::bf24);  // smaller: fits in what a gave back
  EXPECT_EQ(b.k(0), k0);
  EXPECT_EQ(b.v(0), v0);
  model::KvCache c(m, 3, 32, model::KvType::bf24);  // b still holds them: c gets its own
  EXPECT_NE(c.k(0), k0);
  model::Model other(mem_config());
  model::KvCache d(other, 3, 32, model::KvType::bf24);  // another model's pool is its own
  EXPECT_NE(d.k(0), k0);
}

// A Generator whose cache memory holds another run's keys and values (and packed weights of
// other parameters) gives bit for bit what a Generator on fresh memory gives.
TEST(Memory, ReusedCacheMemoryChangesNoResult) {
  for (model::KvType kv : {model::KvType::f32, model::KvType::bf24, model::KvType::f16}) {
    model::Model m(mem_config());
    randomize(m, 5, 0.6f);
    model::SamplingParams sp;
    sp.temperature = 0.8;
    sp.max_answer_tokens = 20;
    std::vector<model::GenResult> fresh;
    {
      model::Model twin(mem_config());
      randomize(twin, 5, 0.6f);
      model::Generator g(twin, 5, -1, kv);
      fresh = g.generate(reqs(7, 2), sp);
    }
    {
      randomize(m, 6, 0.9f);  // other weights fill the cache and the packed weights first
      model::Generator g(m, 6, -1, kv);
      g.generate(reqs(9, 1), sp);
    }
    randomize(m, 5, 0.6f);
    model::Generator g(m, 5, -1, kv);  // the memory of the one above
    const auto again = g.generate(reqs(7, 2), sp);
    ASSERT_EQ(again.size(), fresh.size());
    for (size_t i = 0; i < fresh.size(); ++i) {
      EXPECT_EQ(again[i].tokens, fresh[i].tokens) << model::kv_type_name(kv) << " request " << i;
      EXPECT_EQ(again[i].logprobs, fresh[i].logprobs) << model::kv_type_name(kv);
      EXPECT_EQ(again[i].model_logprobs, fresh[i].model_logprobs) << model::kv_type_name(kv);
    }
  }
}

// The packed weights belong to the model: packed at the first generate, not again while the
// parameters stay as they are (two Generators share them), again after params() was handed out
// for writing, and a cache never decodes with a stale copy.
TEST(Memory, WeightsArePackedOncePerChangeAndNeverReadStale) {
  model::Model m(mem_config());
  randomize(m, 5, 0.6f);
  model::SamplingParams sp;
  sp.temperature = 0;
  sp.max_answer_tokens = 12;
  model::Generator a(m, 3), b(m, 2);
  const auto first = a.generate(reqs(3, 4), sp);
  EXPECT_EQ(a.stats().packs, 1);
  EXPECT_EQ(a.generate(reqs(3, 4), sp)[1].tokens, first[1].tokens);
  EXPECT_EQ(a.stats().packs, 1);  // unchanged: not packed again
  b.generate(reqs(2, 4), sp);
  EXPECT_EQ(b.stats().packs, 0);  // the other Generator's copy
  randomize(m, 8, 0.9f);          // new weights through params()
  const auto changed = a.generate(reqs(3, 4), sp);
  EXPECT_EQ(a.stats().packs, 2);
  model::Model twin(mem_config());
  randomize(twin, 8, 0.9f);
  model::Generator t(twin, 3);
  const auto expect = t.generate(reqs(3, 4), sp);
  for (size_t i = 0; i < expect.size(); ++i) {
    EXPECT_EQ(changed[i].tokens, expect[i].tokens) << i;
    EXPECT_EQ(changed[i].model_logprobs, expect[i].model_logprobs) << i;
  }
  // Parameters changed after packing: a step falls back to sgemm (same logits within rounding),
  // never the old packed copy.
  model::KvCache cache(m, 1, 16);
  cache.pack_weights(m);
  std::vector<int32_t> tok{3, 7, 1}, q_cu{0, 3}, slot{0}, start{0};
  const int64_t V = m.config().vocab;
  std::vector<float> before(V), after(V), ref(V);
  m.forward_cached(tok.data(), q_cu.data(), 1, slot.data(), start.data(), cache, before.data());
  randomize(m, 5, 0.6f);
  m.forward_cached(tok.data(), q_cu.data(), 1, slot.data(), start.data(), cache, after.data());
  model::Model twin5(mem_config());
  randomize(twin5, 5, 0.6f);
  model::KvCache plain(twin5.config(), 1, 16);  // sgemm
  twin5.forward_cached(tok.data(), q_cu.data(), 1, slot.data(), start.data(), plain, ref.data());
  double moved = 0;
  for (int64_t v = 0; v < V; ++v) {
    EXPECT_NEAR(after[v], ref[v], 1e-4) << v;
    moved = std::max(moved, double(std::fabs(after[v] - before[v])));
  }
  EXPECT_GT(moved, 1e-2);
}

// release_generation_memory drops the pool and the packed weights: the next Generator packs
// again and prefills what a kept slot held, and what the model generated before changes no
// result.
TEST(Memory, ReleasedGenerationMemoryIsMadeAgainWithTheSameResults) {
  model::SamplingParams sp;
  sp.temperature = 0.8;
  sp.max_answer_tokens = 20;
  model::GenRequest q = reqs(1, 3)[0];
  q.key = 42, q.max_new_tokens = 4;
  auto continued = [&](model::Model& m, bool release, model::GenStats* stats) {
    model::GenRequest next = q;
    {
      model::Generator g(m, 2);
      const model::GenResult r = g.generate({q}, sp)[0];
      EXPECT_EQ(r.finish, model::Finish::segment);
      next.answer = r.tokens, next.rng_state = r.rng_state;
    }
    if (release) m.release_generation_memory();
    model::Generator g(m, 2);
    model::GenResult r = g.generate({next}, sp)[0];
    *stats = g.stats();
    return r;
  };
  model::Model m(mem_config());
  randomize(m, 5, 0.6f);
  model::GenStats kept, released, fresh;
  continued(m, false, &kept);
  EXPECT_GT(kept.kept_tokens, 0);  // the control: without the release the slot is used
  EXPECT_EQ(kept.packs, 0);
  const model::GenResult after = continued(m, true, &released);
  EXPECT_EQ(released.kept_tokens, 0);
  EXPECT_EQ(released.packs, 1);     // same weights, packed again
  model::Model twin(mem_config());  // generated once, not three times
  randomize(twin, 5, 0.6f);
  const model::GenResult expect = continued(twin, true, &fresh);
  EXPECT_EQ(after.tokens, expect.tokens);
  EXPECT_EQ(after.logprobs, expect.logprobs);
  EXPECT_EQ(after.model_logprobs, expect.model_logprobs);
}

TEST(Memory, ReleasedTrainingMemoryIsMadeAgainWithTheSameResults) {
  // The loop frees training's activations before each rollout: the next forward and backward
  // size them again and give the same log-probs and gradients; a backward without a new forward
  // is refused (its activations are gone).
  for (bool recompute : {false, true}) {
    model::Model m(mem_config());
    randomize(m, 7);
    m.set_recompute(recompute);
    const model::Batch b = make_batch({random_tokens(9, 29, 1), random_tokens(14, 29, 2)});
    std::vector<float> w(b.size());
    for (size_t i = 0; i < w.size(); ++i) w[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
    auto pass = [&] {
      const model::TokenOutputs out = m.forward(b);
      m.zero_grads();
      m.backward(w.data());
      return std::make_pair(out.logprob, std::vector<float>(m.grads(), m.grads() + m.num_params()));
    };
    const auto before = pass();
    m.release_training_memory();
    EXPECT_THROW(m.backward(w.data()), InputError) << recompute;
    const auto after = pass();
    EXPECT_EQ(after.first, before.first) << recompute;
    EXPECT_EQ(after.second, before.second) << recompute;
    EXPECT_GT(*std::max_element(before.second.begin(), before.second.end()), 0.f);
  }
}

TEST(Memory, GradientsStartAtZeroWhenFirstAskedFor) {
  model::Model m(mem_config());
  randomize(m, 7);
  const model::Model& cm = m;
  const float* g = cm.grads();
  for (int64_t i = 0; i < m.num_params(); ++i) ASSERT_EQ(g[i], 0.f) << i;
  m.cross_entropy_step(make_batch({random_tokens(10, 29, 4)}), 1.f);
  double norm = 0;
  for (int64_t i = 0; i < m.num_params(); ++i) norm += double(m.grads()[i]) * m.grads()[i];
  EXPECT_GT(norm, 0.0);
  EXPECT_EQ(m.grads(), g);  // allocated once
}

// What /rollout kv_cache_mb reports: keys and values of every layer, each slot holding the
// capacity rounded up to the kernels' 16-position tiles, at the element size of the type.
TEST(Memory, KvCacheBytesAreKeysAndValuesOfEveryLayer) {
  const model::ModelConfig c = mem_config();
  const int64_t per_token = c.layers * 2 * c.kv_heads * c.head_dim();
  for (auto [type, elem] : {std::pair{model::KvType::f32, 4}, std::pair{model::KvType::f16, 2},
                            std::pair{model::KvType::bf24, 3}}) {
    model::KvCache kv(c, 3, 20, type);
    EXPECT_EQ(kv.bytes(), 3 * 32 * per_token * elem) << model::kv_type_name(type);
  }
  model::Model m(c);
  model::Generator g(m, 5, 17);
  EXPECT_EQ(g.kv_bytes(), 5 * 32 * per_token * 4);
}

// The backend's accounting (kernels/buffer.h) of a model's life: parameters at construction,
// gradients when first asked for, activations while a forward's are kept, KV caches and packed
// weights while generation keeps them (a destroyed cache's memory stays in the model's pool),
// the optimizer's two moments; and each kind back where it was once its owner lets go.
TEST(Memory, TheBackendHoldsEachBufferUnderItsKind) {
  using ops::Memory;
  auto now = [](Memory k) { return ops::memory_use().now[static_cast<int>(k)]; };
  const ops::MemoryUse before = ops::memory_use();
  auto at_start = [&](Memory k) { return before.now[static_cast<int>(k)]; };
  {
    model::Model m(mem_config());
    randomize(m, 5);
    const int64_t bytes = m.num_params() * static_cast<int64_t>(sizeof(float));
    EXPECT_EQ(now(Memory::params) - at_start(Memory::params), bytes);
    EXPECT_EQ(now(Memory::grads), at_start(Memory::grads));
    EXPECT_EQ(now(Memory::activations), at_start(Memory::activations));
    m.cross_entropy_step(make_batch({random_tokens(12, 29, 8), random_tokens(5, 29, 9)}), 1.f);
    EXPECT_EQ(now(Memory::grads) - at_start(Memory::grads), bytes);
    EXPECT_GT(now(Memory::activations), at_start(Memory::activations));
    m.release_training_memory();
    EXPECT_EQ(now(Memory::activations), at_start(Memory::activations));
    optim::AdamW opt(optim::OptimConfig{}, m.num_params());
    EXPECT_EQ(now(Memory::optimizer) - at_start(Memory::optimizer), 2 * bytes);
    model::SamplingParams sp;
    sp.max_answer_tokens = 6;
    int64_t kv = 0;
    {
      model::Generator g(m, 3);
      g.generate(reqs(3, 2), sp);
      kv = g.kv_bytes();
      EXPECT_GE(now(Memory::kv_cache) - at_start(Memory::kv_cache), kv);
      EXPECT_LE(now(Memory::kv_cache) - at_start(Memory::kv_cache), kv + kv / 8 + 128);
      EXPECT_GT(now(Memory::packed_weights), at_start(Memory::packed_weights));
      EXPECT_GT(now(Memory::activations), at_start(Memory::activations));  // the step's scratch
    }
    EXPECT_GE(now(Memory::kv_cache) - at_start(Memory::kv_cache), kv);  // in the model's pool
    m.release_generation_memory();
    for (Memory k : {Memory::kv_cache, Memory::packed_weights, Memory::activations})
      EXPECT_EQ(now(k), at_start(k)) << ops::memory_name(k);
    EXPECT_GE(ops::memory_use().peak[static_cast<int>(Memory::kv_cache)],
              at_start(Memory::kv_cache) + kv);
  }
  for (int k = 0; k < ops::kMemoryKinds; ++k)
    EXPECT_EQ(ops::memory_use().now[k], before.now[k]) << ops::memory_name(Memory(k));
}

}  // namespace
}  // namespace k1rl::test
