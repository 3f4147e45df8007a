// Prompt samplers: distinct prompts per draw, curriculum easy-first, prioritized ∝ (1 − s) + floor,
// and the state surviving a save/load through sampler.h5.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "lib/rl/rl.h"

using namespace k1rl;
using namespace k1rl::rl;

namespace {
std::vector<int> difficulties() {
  std::vector<int> d;
  for (int i = 0; i < 40; ++i) d.push_back(1 + i % 10);
  return d;
}
}  // namespace

TEST(Sampler, UniformDrawsDistinctPromptsThenRefills) {
  PromptSampler s({}, difficulties(), 1);
  auto a = s.sample(40, 0);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 40u);
  auto b = s.sample(50, 0);
  EXPECT_EQ(b.size(), 50u);
}

TEST(Sampler, CurriculumStartsEasyAndOpensUp) {
  SamplerConfig c;
  c.mode = SamplerMode::curriculum;
  c.curriculum_iterations = 9;
  PromptSampler s(c, difficulties(), 2);
  auto d = difficulties();
  for (int64_t p : s.sample(4, 0)) EXPECT_EQ(d[static_cast<size_t>(p)], 1);
  for (int64_t p : s.sample(12, 4)) EXPECT_LE(d[static_cast<size_t>(p)], 5);
  int hard = 0;
  for (int64_t p : s.sample(40, 9)) hard += d[static_cast<size_t>(p)] == 10;
  EXPECT_EQ(hard, 4);  // at the end every prompt is eligible
}

TEST(Sampler, PrioritizedFollowsOneMinusSuccessWithAFloor) {
  SamplerConfig c;
  c.mode = SamplerMode::prioritized;
  c.priority_floor = 0.05;
  PromptSampler s(c, std::vector<int>(3, 5), 3);
  s.observe(0, 1.0);  // solved
  s.observe(1, 0.0);  // failed
  s.observe(2, 0.5);
  EXPECT_NEAR(s.probability(0, 0), 0.05 / 1.65, 1e-12);
  EXPECT_NEAR(s.probability(1, 0), 1.05 / 1.65, 1e-12);
  int counts[3] = {};
  for (int i = 0; i < 20000; ++i) ++counts[s.sample(1, 0)[0]];
  EXPECT_NEAR(counts[0] / 20000.0, 0.05 / 1.65, 0.01);
  EXPECT_NEAR(counts[1] / 20000.0, 1.05 / 1.65, 0.015);
  s.observe(1, 1.0);  // EMA: 0.7·0 + 0.3·1
  EXPECT_NEAR(s.success(1), 0.3, 1e-12);
}

TEST(Sampler, StateSurvivesSaveAndLoad) {
  std::string dir = "/tmp/k1rl-sampler-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  SamplerConfig c;
  c.mode = SamplerMode::prioritized;
  PromptSampler a(c, difficulties(), 4);
  for (int i = 0; i < 40; ++i) a.observe(i, (i % 3) / 2.0);
  a.sample(5, 0);
  a.save(dir + "/sampler.h5");
  PromptSampler b(c, difficulties(), 999);
  b.load(dir + "/sampler.h5");
  EXPECT_EQ(a.sample(10, 1), b.sample(10, 1));
  EXPECT_DOUBLE_EQ(a.success(7), b.success(7));
  PromptSampler wrong(c, std::vector<int>(5, 1), 4);
  EXPECT_THROW(wrong.load(dir + "/sampler.h5"), IoError);
  std::filesystem::remove_all(dir);
}
