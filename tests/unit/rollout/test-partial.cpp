// Partial rollouts: with a per-iteration segment of 4 tokens an answer of 12 tokens spans three
// iterations, parked in buffer shards between them. Its tokens, behaviour log-probs and
// iteration tags survive intact, and the finished answer equals one uninterrupted generation
// with the same weights and seeds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "lib/app/app.h"
#include "lib/buffer/buffer.h"
#include "lib/rollout/rollout.h"

using namespace k1rl;

namespace {
Config make_config(bool partial) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::parse(
      spec, "", "test",
      {"--model.dim=32", "--model.layers=2", "--model.heads=4", "--model.kv_heads=2",
       "--model.ffn_dim=64", "--model.max_seq=64", "--rollout.samples_per_prompt=3",
       "--rollout.max_answer_tokens=12", "--rollout.segment_tokens=4",
       std::string("--rollout.partial=") + (partial ? "true" : "false"),
       "--rollout.temperature=1.5"});
}

std::vector<Task> make_tasks() {
  Rng rng(3);
  return {generate_task("addition", 2, rng), generate_task("addition", 2, rng)};
}

rollout::ScoreFn fake_score() {
  return [](const std::vector<Answer>& a, int64_t) {
    std::vector<Score> s(a.size());
    for (size_t i = 0; i < a.size(); ++i)
      s[i].total = s[i].correct = static_cast<double>(a[i].length % 2);
    return s;
  };
}
}  // namespace

TEST(PartialRollout, AnswersSpanThreeIterationsAndMatchOneGeneration) {
  const Config cfg = make_config(true);
  const std::vector<Task> tasks = make_tasks();
  auto tok = make_byte_tokenizer();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(7);
  rollout::RolloutWorker w(cfg, *tok, tasks);
  std::string dir = "/tmp/k1rl-partial-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);

  // Iteration 0 starts the group of prompt 1; iterations 1 and 2 continue it from the shards.
  std::vector<buffer::Trajectory> pending;
  std::vector<buffer::Trajectory> snapshot;  // the shard rows after iteration 0
  for (int64_t it = 0; it < 3; ++it) {
    auto res = w.run(m, it, 0, pending, it == 0 ? std::vector<int64_t>{1} : std::vector<int64_t>{},
                     fake_score());
    buffer::write_shard(dir, res.shard);
    auto back = buffer::read_shard(buffer::shard_path(dir, it, 0)).rows;
    if (it == 0) snapshot = back;
    pending.clear();
    for (auto& t : back)
      if (!t.ready) pending.push_back(t);
    if (it < 2) {
      ASSERT_EQ(pending.size(), 3u) << "iteration " << it;
      for (const auto& t : pending) EXPECT_EQ(t.answer_len(), 4 * (it + 1));
    } else {
      EXPECT_TRUE(pending.empty());
      ASSERT_EQ(back.size(), 3u);
      pending = back;  // the finished group
    }
  }
  // Tokens, log-probs and tags of the first segment survived two parkings unchanged.
  for (size_t j = 0; j < 3; ++j) {
    const auto &done = pending[j], &first = snapshot[j];
    EXPECT_TRUE(done.ready);
    EXPECT_EQ(done.status, buffer::Status::truncated);
    EXPECT_EQ(done.n_segments, 3);
    EXPECT_EQ(done.answer_len(), 12);
    EXPECT_EQ(std::vector<int32_t>(done.tokens.begin(), done.tokens.begin() + done.prompt_len + 4),
              first.tokens);
    EXPECT_EQ(std::vector<float>(done.logprobs.begin(), done.logprobs.begin() + 4), first.logprobs);
    EXPECT_EQ(done.segment_iter, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
    EXPECT_DOUBLE_EQ(done.reward, 0.0);  // fake score: length 12 is even
  }
  // The same group generated in one go: identical tokens, log-probs within float noise.
  const Config whole_cfg = make_config(false);
  rollout::RolloutWorker whole(whole_cfg, *tok, tasks);
  auto res = whole.run(m, 0, 0, {}, {1}, fake_score());
  ASSERT_EQ(res.shard.rows.size(), 3u);
  for (size_t j = 0; j < 3; ++j) {
    const auto& one = res.shard.rows[j];
    EXPECT_EQ(one.tokens, pending[j].tokens) << "sample " << j;
    ASSERT_EQ(one.logprobs.size(), pending[j].logprobs.size());
    for (size_t t = 0; t < one.logprobs.size(); ++t)
      EXPECT_NEAR(one.logprobs[t], pending[j].logprobs[t], 1e-4);
    EXPECT_EQ(one.n_segments, 1);
  }
  std::filesystem::remove_all(dir);
}

TEST(PartialRollout, TokenBudgetParksEverythingLeftOpen) {
  Config cfg = make_config(true);
  cfg.set("rollout.token_budget", "10");
  cfg.set("rollout.segment_tokens", "12");
  const std::vector<Task> tasks = make_tasks();
  auto tok = make_byte_tokenizer();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(8);
  rollout::RolloutWorker w(cfg, *tok, tasks);
  auto res = w.run(m, 4, 0, {}, {0, 1}, fake_score());
  int64_t tokens = 0, open = 0;
  for (const auto& t : res.shard.rows) {
    tokens += t.answer_len();
    open += t.status == buffer::Status::open;
    for (int32_t s : t.segment_iter) EXPECT_EQ(s, 4);
  }
  EXPECT_EQ(tokens, 10);  // exactly the budget
  EXPECT_EQ(res.metrics.at("tokens"), 10.0);
  EXPECT_GE(open, 5);  // 6 answers, 10 tokens: at most one can have ended
}

// The policy changes between the iterations of one answer: each segment's stored log-probs are
// those of the policy that generated it (θ_0 for the first, θ_1 for the second, re-prefilled with
// prompt + answer so far), and the tags say which iteration that was.
TEST(PartialRollout, EachSegmentCarriesTheLogprobsOfItsOwnPolicy) {
  const Config cfg = make_config(true);
  const std::vector<Task> tasks = make_tasks();
  auto tok = make_byte_tokenizer();
  model::Model m0(model::ModelConfig::from_config(cfg)), m1(model::ModelConfig::from_config(cfg));
  m0.init_params(7);
  m1.init_params(7);
  Rng noise(9);
  for (int64_t i = 0; i < m1.num_params(); ++i)  // θ_1: θ_0 after a sizeable update
    m1.params()[i] += 0.05f * static_cast<float>(noise.normal());
  rollout::RolloutWorker w(cfg, *tok, tasks);
  auto first = w.run(m0, 0, 0, {}, {1}, fake_score()).shard.rows;
  auto second = w.run(m1, 1, 0, first, {}, fake_score()).shard.rows;
  ASSERT_EQ(second.size(), 3u);
  auto forward = [](model::Model& m, const buffer::Trajectory& t) {
    model::Batch b;
    b.tokens = t.tokens;
    b.cu = {0, static_cast<int32_t>(t.tokens.size())};
    for (size_t i = 0; i < t.tokens.size(); ++i)
      b.mask.push_back(static_cast<int32_t>(i) >= t.prompt_len);
    model::ForwardOptions fo;
    fo.temperature = 1.5;  // the rollout's (make_config): stored log-probs are softmax(z / T)'s
    const model::TokenOutputs& out = m.forward(b, fo);
    return std::vector<float>(out.logprob.begin() + t.prompt_len, out.logprob.end());
  };
  double other_policy_diff = 0;
  int64_t n_second = 0;
  for (const auto& t : second) {
    ASSERT_GT(t.answer_len(), 4);  // a second segment exists
    const std::vector<float> lp0 = forward(m0, t), lp1 = forward(m1, t);
    for (int64_t i = 0; i < t.answer_len(); ++i) {
      const size_t u = static_cast<size_t>(i);
      EXPECT_EQ(t.segment_iter[u], i < 4 ? 0 : 1);
      EXPECT_NEAR(t.logprobs[u], (i < 4 ? lp0 : lp1)[u], 2e-4) << "token " << i;
      if (i >= 4) other_policy_diff += std::abs(t.logprobs[u] - lp0[u]), ++n_second;
    }
  }
  // θ_0 would have given the second segment clearly different log-probs: the check above can fail.
  EXPECT_GT(other_policy_diff / static_cast<double>(n_second), 1e-2);
}

// With the policy unchanged between iterations (no training step in between) a parked answer
// continues from the keys and values its segment left in the cache: the same tokens, iteration
// tags and log-probs (within the bf24 cache's error) as when its context is prefilled again,
// and the parked answers still come first, before the new prompt's answers.
TEST(PartialRollout, KeptCacheEqualsARePrefillAndParkedComeFirst) {
  const Config cfg = make_config(true);
  const std::vector<Task> tasks = make_tasks();
  auto tok = make_byte_tokenizer();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(7);
  auto four = [&](bool bump, std::vector<double>* kept) {
    rollout::RolloutWorker w(cfg, *tok, tasks);
    std::vector<buffer::Trajectory> pending, done;
    for (int64_t it = 0; it < 4; ++it) {  // prompt 0's group, started at 1, ends at 3
      if (bump) m.params();  // same values, new weights version: as after a training step
      auto res = w.run(m, it, 0, pending,
                       it == 1   ? std::vector<int64_t>{0}
                       : it == 0 ? std::vector<int64_t>{1}
                                 : std::vector<int64_t>{},
                       fake_score());
      kept->push_back(res.metrics.at("kept_tokens"));
      if (it == 1) {  // the parked group of iteration 0 first, then prompt 0's new group
        EXPECT_EQ(res.shard.rows.size(), 6u);
        for (size_t j = 0; j < res.shard.rows.size(); ++j) {
          EXPECT_EQ(res.shard.rows[j].iteration_started, j < 3 ? 0 : 1) << "row " << j;
          EXPECT_EQ(res.shard.rows[j].prompt_id, j < 3 ? 1 : 0) << "row " << j;
        }
      }
      pending.clear();
      for (auto& t : res.shard.rows) (t.ready ? done : pending).push_back(t);
    }
    EXPECT_TRUE(pending.empty());
    return done;
  };
  std::vector<double> kept, reprefilled;
  const auto a = four(false, &kept), b = four(true, &reprefilled);
  // Iteration 1 continues the 3 parked answers from their caches: prompt + 3 of their 4 tokens
  // (the 4th is fed); iteration 2 those and prompt 0's.
  const double p1 =
      static_cast<double>(rollout::RolloutWorker(cfg, *tok, tasks).prompt_tokens(1).size());
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_EQ(kept[0], 0.0);
  EXPECT_EQ(kept[1], 3 * (p1 + 3));
  EXPECT_GT(kept[2], 3 * (p1 + 7));
  ASSERT_EQ(a.size(), b.size());
  for (double k : reprefilled) EXPECT_EQ(k, 0.0);
  for (size_t j = 0; j < a.size(); ++j) {
    EXPECT_EQ(a[j].tokens, b[j].tokens) << "answer " << j;
    EXPECT_EQ(a[j].segment_iter, b[j].segment_iter);
    ASSERT_EQ(a[j].logprobs.size(), b[j].logprobs.size());
    for (size_t t = 0; t < a[j].logprobs.size(); ++t)
      EXPECT_NEAR(a[j].logprobs[t], b[j].logprobs[t], 3e-4) << "answer " << j << " token " << t;
  }
}

// Refill prompts (rollout.refill_prompts): with 4 slots and one own group of 3 answers, the free
// slot takes the first refill group's answers one at a time while the own answers run their
// 4-token segment; that group is parked open when they end (GroupKey index 1, after the own
// prompt's), the second refill prompt never starts and is dropped. Later iterations continue
// the parked refill group first, to its end, as any parked group. Full rollouts ignore refill.
TEST(PartialRollout, RefillGroupsTakeFreedSlotsAndUnstartedOnesAreDropped) {
  Config cfg = make_config(true);
  cfg.set("rollout.max_batch", "4");
  const std::vector<Task> tasks = make_tasks();
  auto tok = make_byte_tokenizer();
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(7);
  rollout::RolloutWorker w(cfg, *tok, tasks);
  auto res = w.run(m, 2, 0, {}, {1}, fake_score(), {0, 1});
  EXPECT_EQ(res.metrics.at("prompts_refill"), 1.0);
  EXPECT_EQ(res.metrics.at("prompts_new"), 2.0);
  const auto& rows = res.shard.rows;
  ASSERT_EQ(rows.size(), 6u);  // own group, then the started refill group; prompt 1's dropped
  int64_t refill_tokens = 0, own_tokens = 0, own_steps = 0;
  for (size_t j = 0; j < rows.size(); ++j) {
    const buffer::GroupKey key = buffer::GroupKey::unpack(rows[j].group_id);
    EXPECT_EQ(key.iteration, 2);
    EXPECT_EQ(key.index, j < 3 ? 0 : 1) << "row " << j;
    EXPECT_EQ(rows[j].prompt_id, j < 3 ? 1 : 0) << "row " << j;
    if (j >= 3) {
      EXPECT_EQ(rows[j].status, buffer::Status::open) << "row " << j;
      refill_tokens += rows[j].answer_len();
    } else {
      own_tokens += rows[j].answer_len();
      own_steps = std::max(own_steps, rows[j].answer_len());
    }
  }
  // Refill answers ran at every step of the own work (<= 4 steps: the segment), in the slots
  // the own answers left: at least the one free slot, at most all 4 slots.
  EXPECT_LE(own_steps, 4);
  EXPECT_GE(refill_tokens, own_steps);
  EXPECT_LE(refill_tokens + own_tokens, 4 * own_steps);

  std::vector<buffer::Trajectory> pending = rows, done;
  for (int64_t it = 3; it < 12 && !pending.empty(); ++it) {
    auto next = w.run(m, it, 0, pending, {}, fake_score(), {});
    pending.clear();
    for (auto& t : next.shard.rows) (t.ready ? done : pending).push_back(t);
  }
  EXPECT_TRUE(pending.empty());
  ASSERT_EQ(done.size(), 6u);
  for (const auto& t : done) EXPECT_TRUE(t.ended());

  cfg.set("rollout.partial", "false");
  rollout::RolloutWorker full(cfg, *tok, tasks);
  EXPECT_EQ(full.run(m, 0, 0, {}, {1}, fake_score(), {0}).shard.rows.size(), 3u);
}
