// Rng: determinism, independent streams, state round trip, distribution sanity.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/core/core.h"

using k1rl::Rng;

TEST(Rng, SameSeedSameStreamSameNumbers) {
  Rng a(42, 3), b(42, 3), c(42, 4), d(43, 3);
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    same_c += x == c.next_u64();
    same_d += x == d.next_u64();
  }
  EXPECT_EQ(same_c, 0);
  EXPECT_EQ(same_d, 0);
}

TEST(Rng, StateRoundTripResumesTheSequence) {
  Rng a(7);
  for (int i = 0; i < 10; ++i) a.next_u64();
  Rng b(999);
  b.set_state(a.state());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_THROW(b.set_state({1, 2}), k1rl::InputError);
}

TEST(Rng, UniformAndNormalMoments) {
  Rng r(1);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    su += u;
    double z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  EXPECT_NEAR(su / n, 0.5, 0.01);
  EXPECT_NEAR(sn / n, 0.0, 0.01);
  EXPECT_NEAR(sn2 / n, 1.0, 0.02);
}

TEST(Rng, BelowIsUniformAndInRange) {
  Rng r(5);
  int counts[7] = {};
  for (int i = 0; i < 70000; ++i) {
    uint64_t v = r.below(7);
    ASSERT_LT(v, 7u);
    ++counts[v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}
