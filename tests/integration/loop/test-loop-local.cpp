// The RL loop in one process on a tiny model: two iterations leave checkpoints, a latest
// pointer, buffer shards and metrics rows; a second job resumes where the first stopped; every
// trained trajectory appears exactly once in the buffer.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "lib/app/app.h"
#include "lib/loop/loop.h"

using namespace k1rl;

namespace {
Config tiny(const std::string& dir, int64_t iterations) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::load(
      spec, K1RL_SOURCE_DIR "/tests/integration/loop/tiny-test.ini",
      {"--run.dir=" + dir, "--run.iterations=" + std::to_string(iterations),
       "--tasks.train_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.train.jsonl",
       "--tasks.heldout_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.heldout.jsonl"});
}
}  // namespace

TEST(LoopLocal, TwoIterationsThenResume) {
  std::string dir = "/tmp/k1rl-loop-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  Config cfg = tiny(dir, 2);
  const RunDir run = RunDir::from(cfg);
  auto rows = loop::run_local(cfg);
  ASSERT_EQ(rows.size(), 2u);
  for (int it = 0; it <= 2; ++it) EXPECT_TRUE(io::file_exists(run.ckpt(it))) << it;
  EXPECT_EQ(train::latest_checkpoint(run), 2);
  EXPECT_TRUE(io::file_exists(dir + "/config.ini"));
  EXPECT_TRUE(io::file_exists(dir + "/sampler.h5"));
  EXPECT_EQ(buffer::list_shards(run.buffer_dir()).size(), 2u);
  auto train = io::read_table(run.metrics(), "train");
  EXPECT_GE(train.at("step").size(),
            4u + 2u);  // SFT steps, then at least one RL step per iteration
  const auto ro = io::read_table(run.metrics(), "rollout");
  EXPECT_EQ(ro.at("iteration").size(), 2u);
  for (double k : ro.at("kept_tokens"))  // rollout.parked_cache = exact: the policy changed
    EXPECT_EQ(k, 0.0);

  // A second job of one iteration resumes from it_000002.
  Config again = tiny(dir, 1);
  auto more = loop::run_local(again);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].at("iteration"), 2.0);
  EXPECT_EQ(train::latest_checkpoint(run), 3);
  EXPECT_EQ(io::read_table(run.metrics(), "iteration").at("iteration"),
            (std::vector<double>{0, 1, 2}));

  // Every trajectory is trained once: (group, sample) is ready in exactly one shard, and the
  // pending ones of the last shard are not ready anywhere.
  std::set<std::pair<int64_t, int32_t>> ready;
  size_t n_ready = 0;
  for (const auto& ref : buffer::list_shards(run.buffer_dir()))
    for (const auto& t : buffer::read_shard(ref.path).rows)
      if (t.ready) {
        ++n_ready;
        ready.insert({t.group_id, t.sample});
        EXPECT_EQ(t.group_size, 4);
      }
  EXPECT_EQ(ready.size(), n_ready);
  EXPECT_GT(n_ready, 0u);
  std::filesystem::remove_all(dir);
}

// rollout.refill_prompts: the master draws them after the own prompts, distinct from those; the
// groups that started are trained once like any other (GroupKey index after the own prompts'),
// and the /rollout rows count them.
TEST(LoopLocal, RefillGroupsAreDistinctPromptsTrainedOnce) {
  std::string dir = "/tmp/k1rl-loop-refill-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  Config cfg = tiny(dir, 3);
  cfg.set("rollout.refill_prompts", "4");
  const RunDir run = RunDir::from(cfg);
  ASSERT_EQ(loop::run_local(cfg).size(), 3u);
  const auto ro = io::read_table(run.metrics(), "rollout");
  double refilled = 0;
  for (double r : ro.at("prompts_refill")) refilled += r;
  EXPECT_GT(refilled, 0.0);
  std::map<int64_t, std::set<int64_t>> prompts_of;  // iteration started -> prompts of its groups
  std::map<int64_t, std::set<int64_t>> groups_of;   // iteration started -> its group ids
  std::set<std::pair<int64_t, int32_t>> ready;
  size_t n_ready = 0, n_refill_ready = 0;
  for (const auto& ref : buffer::list_shards(run.buffer_dir()))
    for (const auto& t : buffer::read_shard(ref.path).rows) {
      const buffer::GroupKey key = buffer::GroupKey::unpack(t.group_id);
      if (groups_of[key.iteration].insert(t.group_id).second) {
        EXPECT_TRUE(prompts_of[key.iteration].insert(t.prompt_id).second)
            << "prompt " << t.prompt_id << " twice in iteration " << key.iteration;
      }
      if (!t.ready) continue;
      ++n_ready;
      n_refill_ready += key.index >= 4;
      ready.insert({t.group_id, t.sample});
    }
  EXPECT_EQ(ready.size(), n_ready);
  EXPECT_GT(n_refill_ready, 0u);
  std::filesystem::remove_all(dir);
}

// rollout.parked_cache = stale: parked answers continue from the keys and values their last
// segment left, across the training step (kept_tokens > 0 where exact has 0), and the loop
// trains on them as usual: every trajectory once, finite losses.
TEST(LoopLocal, StaleParkedCacheContinuesAcrossTrainingSteps) {
  std::string dir = "/tmp/k1rl-loop-stale-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  Config cfg = tiny(dir, 3);
  cfg.set("rollout.parked_cache", "stale");
  const RunDir run = RunDir::from(cfg);
  ASSERT_EQ(loop::run_local(cfg).size(), 3u);
  const auto ro = io::read_table(run.metrics(), "rollout");
  double kept = 0, prefilled = 0;
  for (size_t i = 0; i < ro.at("kept_tokens").size(); ++i)
    kept += ro.at("kept_tokens")[i], prefilled += ro.at("prefill_tokens")[i];
  EXPECT_GT(kept, 0.0) << "no parked answer continued from its kept cache";
  EXPECT_GT(prefilled, 0.0);  // the new prompts
  const auto train = io::read_table(run.metrics(), "train");
  for (size_t i = 0; i < train.at("loss").size(); ++i)
    EXPECT_TRUE(std::isfinite(train.at("loss")[i])) << "step " << i;
  std::set<std::pair<int64_t, int32_t>> ready;
  size_t n_ready = 0;
  for (const auto& ref : buffer::list_shards(run.buffer_dir()))
    for (const auto& t : buffer::read_shard(ref.path).rows)
      if (t.ready) ++n_ready, ready.insert({t.group_id, t.sample});
  EXPECT_EQ(ready.size(), n_ready);
  EXPECT_GT(n_ready, 0u);
  std::filesystem::remove_all(dir);
}
