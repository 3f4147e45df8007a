// sampler.h5 across a resume: when the run repeats an iteration whose shard was discarded as
// untrained, the sampler rolls back to its state before that iteration, so the iteration's
// successes count once; a sampler.h5 of another task file with the same prompt count is refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "lib/app/app.h"
#include "lib/loop/loop.h"
#include "lib/rl/rl.h"
#include "lib/tasks/tasks.h"

using namespace k1rl;
using namespace k1rl::rl;

namespace {
struct Dir {
  std::string path = "/tmp/k1rl-sampler-resume-" + std::to_string(getpid());
  Dir() { std::filesystem::create_directories(path); }
  ~Dir() { std::filesystem::remove_all(path); }
};
SamplerConfig prioritized() {
  SamplerConfig c;
  c.mode = SamplerMode::prioritized;
  return c;
}
}  // namespace

TEST(SamplerResume, ARepeatedIterationDoesNotCountTwice) {
  Dir d;
  const std::string f = d.path + "/sampler.h5";
  PromptSampler a(prioritized(), std::vector<int>(4, 1), 7);
  a.sample(2, 0);
  a.observe(0, 1.0);
  a.save(f, 0);
  const std::vector<int64_t> draw1 = PromptSampler(a).sample(2, 1);
  a.sample(2, 1);
  a.observe(0, 0.0);  // iteration 1: its shard will be discarded (the job died before training)
  a.save(f, 1);

  PromptSampler resumed(prioritized(), std::vector<int>(4, 1), 99);
  resumed.load(f, 1);                         // iteration 1 runs again
  EXPECT_DOUBLE_EQ(resumed.success(0), 1.0);  // iteration 0's success only
  EXPECT_EQ(resumed.sample(2, 1), draw1);     // and the RNG of that moment
  resumed.observe(0, 0.0);
  resumed.save(f, 1);  // the rerun of 1 replaces it; the state before stays iteration 0's
  PromptSampler again(prioritized(), std::vector<int>(4, 1), 99);
  again.load(f, 1);
  EXPECT_DOUBLE_EQ(again.success(0), 1.0);

  PromptSampler next(prioritized(), std::vector<int>(4, 1), 99);
  next.load(f, 2);  // iteration 1 trained: its state as it is
  EXPECT_DOUBLE_EQ(next.success(0), 0.7);
}

TEST(SamplerResume, TheFirstIterationRepeatedStartsFromScratch) {
  Dir d;
  const std::string f = d.path + "/sampler.h5";
  PromptSampler a(prioritized(), std::vector<int>(3, 1), 7);
  const std::vector<int64_t> first = PromptSampler(a).sample(2, 0);
  a.sample(2, 0);
  a.observe(1, 1.0);
  a.save(f, 0);
  PromptSampler b(prioritized(), std::vector<int>(3, 1), 7);
  b.load(f, 0);
  EXPECT_DOUBLE_EQ(b.success(1), 0.0);
  EXPECT_EQ(b.sample(2, 0), first);
}

TEST(SamplerResume, AnotherTaskFileOfTheSameSizeIsRefused) {
  Dir d;
  const std::string f = d.path + "/sampler.h5";
  Rng rng(1);
  std::vector<Task> mine, other;
  for (int i = 0; i < 3; ++i) mine.push_back(generate_task("addition", 2, rng));
  for (int i = 0; i < 3; ++i) other.push_back(generate_task("addition", 2, rng));
  EXPECT_EQ(tasks_digest(mine), tasks_digest(std::vector<Task>(mine)));
  EXPECT_NE(tasks_digest(mine), tasks_digest(other));
  PromptSampler a({}, std::vector<int>(3, 1), 7);
  a.set_tasks_digest(tasks_digest(mine));
  a.save(f, 0);
  PromptSampler b({}, std::vector<int>(3, 1), 7);
  b.set_tasks_digest(tasks_digest(other));
  try {
    b.load(f, 1);
    FAIL() << "another task file's sampler.h5 was accepted";
  } catch (const IoError& e) {
    EXPECT_NE(e.line().find("belongs to another task file"), std::string::npos) << e.line();
  }
  PromptSampler c({}, std::vector<int>(3, 1), 7);
  c.set_tasks_digest(tasks_digest(mine));
  EXPECT_NO_THROW(c.load(f, 1));
}

// The same through the loop: a job whose iteration 1 was not trained (latest rolled back to
// it_1, as a kill before the checkpoint leaves it) reruns iteration 1; afterwards sampler.h5 has
// observed exactly the groups of the shards on disk, once each.
TEST(SamplerResume, TheLoopCountsEveryTrainedGroupOnce) {
  const std::string dir = "/tmp/k1rl-sampler-loop-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  ConfigSpec spec;
  declare_all_options(spec);
  auto cfg = [&](int iterations) {
    return Config::load(
        spec, K1RL_SOURCE_DIR "/tests/integration/loop/tiny-test.ini",
        {"--run.dir=" + dir, "--run.iterations=" + std::to_string(iterations),
         "--rollout.sampler=prioritized",
         "--tasks.train_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.train.jsonl",
         "--tasks.heldout_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.heldout.jsonl"});
  };
  loop::run_local(cfg(2));
  const RunDir run(dir);
  std::filesystem::remove(run.ckpt(2));  // the job died after rollout 1, before training it
  io::publish_text(run.ckpt_latest(), RunDir::ckpt_name(1) + "\n");
  loop::run_local(cfg(1));
  int64_t groups = 0;
  for (const auto& ref : buffer::list_shards(run.buffer_dir())) {
    std::set<int64_t> ready;
    for (const auto& t : buffer::read_shard(ref.path).rows)
      if (t.ready) ready.insert(t.group_id);
    groups += static_cast<int64_t>(ready.size());
  }
  io::H5Reader r(run.sampler(), "sampler", 1);
  const std::vector<int64_t> seen = io::read_dataset<int64_t>(r.root(), "seen");
  int64_t observed = 0;
  for (int64_t s : seen) observed += s;
  EXPECT_GT(groups, 0);
  EXPECT_EQ(observed, groups) << "main: the discarded attempt's groups counted as well";
  std::filesystem::remove_all(dir);
}
