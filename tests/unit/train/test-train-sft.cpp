// The SFT target of a drawn task (train::sft_solution): train.sft_long_frac = 1 and 0 reproduce
// the long and the concise solution without touching the random stream, a fraction gives that
// mixture, and the trainer's SFT steps see it (solution tokens per step); the option's range.
#include <gtest/gtest.h>

#include "lib/app/app.h"
#include "lib/train/train.h"

using namespace k1rl;

namespace {
Task addition() {
  Rng rng(3);
  return generate_task("addition", 2, rng);
}

train::TrainConfig style(const std::string& s, double frac) {
  train::TrainConfig tc;
  tc.sft_style = s;
  tc.sft_long_frac = frac;
  return tc;
}

Config make(const std::vector<std::string>& extra) {
  ConfigSpec spec;
  declare_all_options(spec);
  std::vector<std::string> ov = {"--model.dim=32",       "--model.layers=1",
                                 "--model.heads=2",      "--model.kv_heads=1",
                                 "--model.ffn_dim=64",   "--model.max_seq=192",
                                 "--train.sft_batch=64", "--train.sft_style=long"};
  ov.insert(ov.end(), extra.begin(), extra.end());
  return Config::parse(spec, "", "test", ov);
}
}  // namespace

TEST(SftSolution, FracOneAndZeroAreLongAndConciseWithoutDraws) {
  const Task t = addition();
  ASSERT_FALSE(t.solution_concise.empty());
  ASSERT_LT(t.solution_concise.size(), t.solution_long.size());
  Rng rng(1), untouched(1);
  EXPECT_EQ(train::sft_solution(style("long", 1.0), t, rng), t.solution_long);
  EXPECT_EQ(train::sft_solution(style("long", 0.0), t, rng), t.solution_concise);
  EXPECT_EQ(train::sft_solution(style("short", 0.5), t, rng), t.solution);
  EXPECT_EQ(rng.state(), untouched.state());  // default runs keep their random stream
  Task bare = t;                              // a task without a concise solution: the short one
  bare.solution_concise.clear();
  EXPECT_EQ(train::sft_solution(style("long", 0.0), bare, rng), t.solution);
  Task none = t;  // nothing but the answer
  none.solution.clear();
  none.solution_long.clear();
  none.solution_concise.clear();
  EXPECT_EQ(train::sft_solution(style("long", 1.0), none, rng), t.answer);
}

TEST(SftSolution, AFractionGivesThatMixture) {
  const Task t = addition();
  Rng rng(7);
  int longs = 0, concise = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const std::string& s = train::sft_solution(style("long", 0.3), t, rng);
    longs += s == t.solution_long;
    concise += s == t.solution_concise;
  }
  EXPECT_EQ(longs + concise, n);
  EXPECT_NEAR(static_cast<double>(longs) / n, 0.3, 0.03);
}

TEST(SftSolution, TrainerStepsSeeTheMixture) {
  Rng gen(11);
  std::vector<Task> tasks;
  for (int i = 0; i < 50; ++i) tasks.push_back(generate_task("addition", 2, gen));
  auto tokens = [&](const std::string& frac) {
    train::Trainer tr(make({"--train.sft_long_frac=" + frac}), MPI_COMM_NULL);
    double sum = 0;
    for (const auto& r : tr.sft(tasks, 3)) sum += r.at("tokens");
    return sum;
  };
  const double all_long = tokens("1"), all_concise = tokens("0"), mixed = tokens("0.5");
  EXPECT_GT(all_long, 1.6 * all_concise);  // long ~154 bytes, concise ~78
  EXPECT_GT(mixed, all_concise * 1.15);
  EXPECT_LT(mixed, all_long * 0.9);
}

TEST(SftSolution, LongFracOutsideZeroOneIsAConfigError) {
  for (const std::string v : {"-0.1", "1.5"}) {
    try {
      check_all_options(make({"--train.sft_long_frac=" + v}));
      ADD_FAILURE() << v << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(e.line().find("train.sft_long_frac"), std::string::npos) << e.line();
    }
  }
}
