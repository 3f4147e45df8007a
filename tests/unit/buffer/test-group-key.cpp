// Group ids: GroupKey packs {iteration, rank, index} into distinct ids where the former
// it*1000000 + rank*10000 + i collided (rank 100 of iteration 0 = rank 0 of iteration 1; the
// 10,001st prompt of rank 0 = the first of rank 1), and refuses what does not fit. AnswerStats
// finds correctness by component name, not position.
#include <gtest/gtest.h>

#include <set>

#include "lib/buffer/buffer.h"

using namespace k1rl;
using buffer::GroupKey;

TEST(GroupKey, DistinctWhereTheOldArithmeticCollided) {
  const std::vector<std::pair<GroupKey, GroupKey>> old_collisions = {
      {{0, 100, 0}, {1, 0, 0}},    // rank >= 100
      {{0, 0, 10000}, {0, 1, 0}},  // more than 10,000 prompts on one rank
      {{3, 250, 7}, {5, 50, 7}},   // 3e6 + 2.5e6 + 7 = 5e6 + 0.5e6 + 7
  };
  for (const auto& [a, b] : old_collisions) {
    EXPECT_EQ(a.iteration * 1000000 + a.rank * 10000 + a.index,
              b.iteration * 1000000 + b.rank * 10000 + b.index);  // the former ids collide
    EXPECT_NE(a.pack(), b.pack());
    EXPECT_EQ(GroupKey::unpack(a.pack()), a);
    EXPECT_EQ(GroupKey::unpack(b.pack()), b);
  }
}

TEST(GroupKey, PacksEveryFieldInItsOwnBits) {
  std::set<int64_t> ids;
  int n = 0;
  for (int64_t it : {0L, 1L, 99L, (1L << GroupKey::kIterationBits) - 1})
    for (int32_t rank : {0, 1, 100, 9999, (1 << GroupKey::kRankBits) - 1})
      for (int64_t index : {0L, 1L, 10000L, 10001L, (1L << GroupKey::kIndexBits) - 1}) {
        const GroupKey k{it, rank, index};
        const int64_t id = k.pack();
        EXPECT_GE(id, 0);
        EXPECT_EQ(GroupKey::unpack(id), k);
        ids.insert(id);
        ++n;
      }
  EXPECT_EQ(ids.size(), static_cast<size_t>(n));
  EXPECT_LT((GroupKey{0, 0, 5}), (GroupKey{0, 1, 0}));  // compared field by field
}

TEST(GroupKey, RefusesWhatDoesNotFit) {
  EXPECT_THROW((GroupKey{1L << GroupKey::kIterationBits, 0, 0}.pack()), InputError);
  EXPECT_THROW((GroupKey{0, 1 << GroupKey::kRankBits, 0}.pack()), InputError);
  EXPECT_THROW((GroupKey{0, 0, 1L << GroupKey::kIndexBits}.pack()), InputError);
  EXPECT_THROW((GroupKey{-1, 0, 0}.pack()), InputError);
  EXPECT_THROW((GroupKey{0, -1, 0}.pack()), InputError);
}

TEST(AnswerStats, FindsCorrectnessByName) {
  std::vector<buffer::Trajectory> rows(3);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].tokens.assign(2 + i, 1);  // prompt of 1 token: answers of 1, 2, 3
    rows[i].prompt_len = 1;
    rows[i].reward = static_cast<double>(i);
    rows[i].components = {0.5, i == 1 ? 1.0 : 0.0};  // {length, correct}
  }
  const buffer::AnswerStats s = buffer::answer_stats(rows, {"length", "correct"});
  EXPECT_DOUBLE_EQ(s.answers, 3.0);
  EXPECT_DOUBLE_EQ(s.reward_mean(), 1.0);
  EXPECT_DOUBLE_EQ(s.accuracy(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.answer_len_mean(), 2.0);
  EXPECT_DOUBLE_EQ(buffer::answer_stats(rows, {"length", "repetition"}).accuracy(), 0.0);
  EXPECT_DOUBLE_EQ(buffer::answer_stats({}, {"correct"}).reward_mean(), 0.0);
}
