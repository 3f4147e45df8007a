// The trainer's groups: two prompt draws under one group id (what the former id arithmetic gave
// rank 100 and rank 0 of the next iteration) or a group missing an answer is refused with an
// InputError naming the group, instead of sharing one baseline; whole groups train.
#include <gtest/gtest.h>

#include "lib/app/app.h"
#include "lib/io/io.h"
#include "lib/rollout/rollout.h"
#include "lib/rundir/rundir.h"
#include "lib/train/train.h"

using namespace k1rl;

namespace {
Config make() {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::parse(
      spec, "", "test",
      {"--model.dim=32", "--model.layers=1", "--model.heads=2", "--model.kv_heads=1",
       "--model.ffn_dim=64", "--model.max_seq=48", "--rollout.samples_per_prompt=4",
       "--rollout.max_answer_tokens=8", "--rollout.partial=false", "--train.groups_per_step=2"});
}

// Two scored groups (prompts 0 and 1) from rollout `rank` of `iteration`.
std::vector<buffer::Trajectory> groups(const Config& cfg, const model::Model& m, int64_t iteration,
                                       int32_t rank) {
  Rng rng(4);
  static std::vector<Task> tasks;
  tasks.clear();
  for (int i = 0; i < 2; ++i) tasks.push_back(generate_task("addition", 2, rng));
  auto tok = make_byte_tokenizer();
  rollout::RolloutWorker w(cfg, *tok, tasks);
  return w
      .run(m, iteration, rank, {}, {0, 1},
           [](const std::vector<Answer>& a, int64_t) {
             std::vector<Score> s(a.size());
             for (size_t i = 0; i < a.size(); ++i) s[i].total = static_cast<double>(i % 2);
             return s;
           })
      .shard.rows;
}

std::string error_of(train::Trainer& t, const std::vector<buffer::Trajectory>& rows) {
  try {
    t.rl_iteration(rows, 0);
  } catch (const InputError& e) {
    return e.line();
  }
  return "";
}
}  // namespace

TEST(TrainGroups, RolloutRank100AndTheNextIterationGetDistinctIds) {
  const Config cfg = make();
  train::Trainer t(cfg, MPI_COMM_NULL);
  auto a = groups(cfg, t.model(), 0, 100), b = groups(cfg, t.model(), 1, 0);
  ASSERT_EQ(a.size(), 8u);
  for (const auto& x : a)
    for (const auto& y : b) EXPECT_NE(x.group_id, y.group_id);
  std::vector<buffer::Trajectory> both = a;
  both.insert(both.end(), b.begin(), b.end());
  EXPECT_EQ(error_of(t, both), "");  // four whole groups train
}

TEST(TrainGroups, RefusesTwoPromptsUnderOneId) {
  const Config cfg = make();
  train::Trainer t(cfg, MPI_COMM_NULL);
  auto rows = groups(cfg, t.model(), 0, 0);
  for (auto& r : rows) r.group_id = rows[0].group_id;  // prompts 0 and 1 merged
  const std::string err = error_of(t, rows);
  EXPECT_NE(err.find("bad training group"), std::string::npos) << err;
  EXPECT_NE(err.find("8 trajectories"), std::string::npos) << err;
  EXPECT_NE(err.find("2 prompt(s)"), std::string::npos) << err;
}

TEST(TrainGroups, RefusesAGroupMissingAnAnswer) {
  const Config cfg = make();
  train::Trainer t(cfg, MPI_COMM_NULL);
  auto rows = groups(cfg, t.model(), 0, 0);
  rows.erase(rows.begin() + 1);
  const std::string err = error_of(t, rows);
  EXPECT_NE(err.find("3 trajectories"), std::string::npos) << err;
  EXPECT_NE(err.find("group_size = 4"), std::string::npos) << err;
}

TEST(TrainGroups, RefusesTheSameAnswerTwice) {
  const Config cfg = make();
  train::Trainer t(cfg, MPI_COMM_NULL);
  auto rows = groups(cfg, t.model(), 0, 0);
  rows[1].sample = rows[0].sample;  // four rows, three distinct samples
  EXPECT_NE(error_of(t, rows).find("3 distinct samples"), std::string::npos);
}

// The AdamW moments go into a checkpoint only when the next iteration uses them: k1.5's
// reset_optimizer (the default) resets them at every iteration start.
TEST(TrainCheckpoint, OptimizerStateIsStoredOnlyWhenItIsNotReset) {
  for (const bool reset : {true, false}) {
    ConfigSpec spec;
    declare_all_options(spec);
    const std::string dir = testing::TempDir() + "/k1rl-ckpt-optim-" + std::to_string(reset);
    const Config cfg = Config::parse(
        spec, "", "test",
        {"--model.dim=32", "--model.layers=1", "--model.heads=2", "--model.kv_heads=1",
         "--model.ffn_dim=64", "--model.max_seq=48", "--run.dir=" + dir,
         std::string("--train.reset_optimizer=") + (reset ? "true" : "false")});
    train::Trainer t(cfg, MPI_COMM_NULL);
    EXPECT_EQ(t.keeps_optimizer(), !reset);
    t.save(0);
    const std::string path = RunDir::from(cfg).ckpt(0);
    {
      io::H5Reader f(path, "checkpoint", 1);
      EXPECT_EQ(io::has_link(f.root(), "optim"), !reset) << path;
      EXPECT_TRUE(io::has_link(f.root(), "params"));
    }
    train::Trainer again(cfg, MPI_COMM_NULL);
    EXPECT_EQ(again.resume(RunDir::from(cfg)), 0);  // loads with or without the moments
  }
}
