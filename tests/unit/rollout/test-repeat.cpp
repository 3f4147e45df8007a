// Repeat detection: loops of a short block covering the tail are caught, ordinary text is not.
#include <gtest/gtest.h>

#include "lib/rollout/rollout.h"

using k1rl::rollout::detect_repeat;

namespace {
std::vector<int32_t> text(const std::string& s) {
  return {s.begin(), s.end()};
}
}  // namespace

TEST(Repeat, CatchesTailLoops) {
  EXPECT_TRUE(detect_repeat(text("Answer: 12 " + std::string(40, '7')), 16, 32));
  std::string loop;
  for (int i = 0; i < 10; ++i) loop += "so 3+4=";
  EXPECT_TRUE(detect_repeat(text("Let me think. " + loop), 16, 48));
  EXPECT_FALSE(detect_repeat(text("Let me think. " + loop), 4, 48));  // period 7 > 4
}

TEST(Repeat, LeavesNormalAnswersAlone) {
  EXPECT_FALSE(detect_repeat(
      text("Add column by column from the right. 8+6+0=14: write 4, carry 1."), 16, 32));
  EXPECT_FALSE(detect_repeat(text("1000000"), 16, 32));  // a short run is no loop
  EXPECT_FALSE(detect_repeat({}, 16, 32));
}
