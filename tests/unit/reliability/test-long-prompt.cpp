// A prompt longer than model.max_seq minus rollout.max_answer_tokens: the rollout skips it
// (counted in prompts_too_long) instead of handing the trainer a sequence it cannot pack, and the
// rollout driver never lets the sampler draw it, even prioritized (where its success stays 0).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "lib/app/app.h"
#include "lib/loop/loop.h"

using namespace k1rl;

namespace {
Config make(const std::vector<std::string>& extra = {}) {
  ConfigSpec spec;
  declare_all_options(spec);
  std::vector<std::string> args = {"--model.dim=32",
                                   "--model.layers=1",
                                   "--model.heads=2",
                                   "--model.kv_heads=1",
                                   "--model.ffn_dim=64",
                                   "--model.max_seq=64",
                                   "--model.vocab=259",
                                   "--rollout.samples_per_prompt=4",
                                   "--rollout.max_answer_tokens=8",
                                   "--rollout.partial=false",
                                   "--train.groups_per_step=2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return Config::parse(spec, "", "test", args);
}

Task long_addition(const std::string& id) {
  Task t;
  t.id = id;
  t.task = "addition";
  t.prompt = std::string(100, '7') + "+" + std::string(100, '2') + "=";
  t.answer = std::string(100, '9');
  return t;
}

std::vector<Task> tasks_with_long() {
  Rng rng(4);
  return {generate_task("addition", 2, rng), long_addition("long-1"),
          generate_task("addition", 2, rng), long_addition("long-2")};
}

rollout::ScoreFn zeros() {
  return [](const std::vector<Answer>& a, int64_t) { return std::vector<Score>(a.size()); };
}
}  // namespace

TEST(LongPrompt, RolloutSkipsItAndTheGroupsTrain) {
  const Config cfg = make();
  const std::vector<Task> tasks = tasks_with_long();
  auto tok = make_byte_tokenizer();
  rollout::RolloutWorker w(cfg, *tok, tasks);
  EXPECT_TRUE(w.prompt_fits(0, 64));
  EXPECT_FALSE(w.prompt_fits(1, 64));
  train::Trainer t(cfg, MPI_COMM_NULL);
  rollout::IterationResult r = w.run(t.model(), 0, 0, {}, {0, 1, 2}, zeros());
  EXPECT_EQ(r.metrics.at("prompts_too_long"), 1.0);
  EXPECT_EQ(r.metrics.at("prompts_new"), 2.0);
  ASSERT_EQ(r.shard.rows.size(), 8u);  // two groups of 4: prompts 0 and 2
  for (const auto& row : r.shard.rows) EXPECT_NE(row.prompt_id, 1);
  EXPECT_NO_THROW(t.rl_iteration(r.shard.rows, 0));  // main: "bad training batch: sequence ..."
}

TEST(LongPrompt, ThePrioritizedSamplerNeverDrawsIt) {
  const std::string dir = "/tmp/k1rl-longprompt-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  save_tasks(dir + "/tasks.jsonl", tasks_with_long());
  const Config cfg =
      make({"--run.dir=" + dir + "/run", "--tasks.train_file=" + dir + "/tasks.jsonl",
            "--rollout.sampler=prioritized", "--rollout.prompts_per_iteration=4"});
  model::Model m(model::ModelConfig::from_config(cfg));
  m.init_params(1);
  for (int64_t it = 0; it < 3; ++it) {
    loop::RolloutDriver rd(cfg, MPI_COMM_NULL);  // a new job each time: sampler.h5 is reloaded
    const io::Row row = rd.iteration(m, it, zeros());
    EXPECT_EQ(row.at("prompts_too_long"), 0.0) << "the sampler drew a long prompt";
    const RunDir run = RunDir::from(cfg);
    for (const auto& t : buffer::read_shard(run.shard(it, 0)).rows) {
      EXPECT_NE(t.prompt_id, 1) << "iteration " << it;
      EXPECT_NE(t.prompt_id, 3) << "iteration " << it;
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(LongPrompt, ASamplerWithEveryPromptExcludedRefuses) {
  rl::PromptSampler s({}, {1, 1, 1}, 1);
  s.exclude(0);
  s.exclude(2);
  for (int64_t p : s.sample(5, 0)) EXPECT_EQ(p, 1);
  EXPECT_THROW(s.exclude(1), InputError);
}
