// Data parallelism: one RL update on 2 ranks (each its share of the groups, gradients summed with
// MPI_Allreduce) gives the same parameters as the same update on one rank, for k15 and grpo.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "lib/app/app.h"
#include "lib/rollout/rollout.h"
#include "lib/train/train.h"

using namespace k1rl;

namespace {
Config make(const std::string& algo) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::parse(
      spec, "", "test",
      {"--model.dim=32", "--model.layers=1", "--model.heads=2", "--model.kv_heads=1",
       "--model.ffn_dim=64", "--model.max_seq=48", "--rollout.samples_per_prompt=4",
       "--rollout.max_answer_tokens=8", "--rollout.partial=false", "--train.groups_per_step=3",
       "--train.micro_batch_tokens=40", "--train.rl_lr=1e-2", "--train.algorithm=" + algo});
}

// Four scored groups sampled from the seeded model (the same on every rank).
std::vector<buffer::Trajectory> groups(const Config& cfg, const model::Model& m) {
  Rng rng(9);
  static std::vector<Task> tasks;
  tasks.clear();
  for (int i = 0; i < 4; ++i) tasks.push_back(generate_task("addition", 2, rng));
  auto tok = make_byte_tokenizer();
  rollout::RolloutWorker w(cfg, *tok, tasks);
  auto res = w.run(m, 0, 0, {}, {0, 1, 2, 3}, [](const std::vector<Answer>& a, int64_t) {
    std::vector<Score> s(a.size());
    for (size_t i = 0; i < a.size(); ++i)
      s[i].total = static_cast<double>((a[i].length + i) % 3) / 2.0;
    return s;
  });
  return res.shard.rows;
}
}  // namespace

TEST(TrainDataParallel, TwoRanksGiveTheOneRankUpdate) {
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_EQ(size, 2) << "run under mpiexec -n 2";
  for (const char* algo : {"k15", "grpo"}) {
    Config cfg = make(algo);
    train::Trainer solo(cfg, MPI_COMM_SELF), pair(cfg, MPI_COMM_WORLD);
    auto trajs = groups(cfg, solo.model());
    ASSERT_EQ(trajs.size(), 16u);
    auto rows_solo = solo.rl_iteration(trajs, 0);
    auto rows_pair = pair.rl_iteration(trajs, 0);
    ASSERT_EQ(rows_solo.size(), 2u);  // 4 groups, 3 per step
    ASSERT_EQ(rows_pair.size(), 2u);
    for (size_t s = 0; s < 2; ++s) {
      EXPECT_NEAR(rows_solo[s].at("loss"), rows_pair[s].at("loss"), 1e-6) << algo;
      EXPECT_NEAR(rows_solo[s].at("grad_norm"), rows_pair[s].at("grad_norm"),
                  1e-5 * rows_solo[s].at("grad_norm"))
          << algo;
    }
    double worst = 0, moved = 0;
    model::Model fresh(model::ModelConfig::from_config(cfg));
    fresh.init_params(static_cast<uint64_t>(cfg.get_int("run.seed")));
    for (int64_t i = 0; i < solo.model().num_params(); ++i) {
      worst = std::max(worst, static_cast<double>(
                                  std::fabs(solo.model().params()[i] - pair.model().params()[i])));
      moved = std::max(
          moved, static_cast<double>(std::fabs(solo.model().params()[i] - fresh.params()[i])));
    }
    EXPECT_LT(worst, 1e-5) << algo << " on rank " << rank;
    EXPECT_GT(moved, 1e-3) << algo << ": the update did nothing";
  }
}
