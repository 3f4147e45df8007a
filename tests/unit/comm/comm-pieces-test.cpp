// lib/comm pieces that need no MPI run: role names, how a weight broadcast is cut into pieces
// (every float covered once, each count a positive int), and the [comm] option.
#include <gtest/gtest.h>

#include <climits>

#include "lib/comm/comm.h"

using namespace k1rl;

TEST(CommRoles, NamesRoundTripAndMatchMpmdOrder) {
  EXPECT_EQ(static_cast<int>(Role::rollout), 0);
  EXPECT_EQ(static_cast<int>(Role::reward), 1);
  EXPECT_EQ(static_cast<int>(Role::train), 2);
  for (int i = 0; i < kRoleCount; ++i)
    EXPECT_EQ(role_from_name(role_name(static_cast<Role>(i))), static_cast<Role>(i));
  try {
    role_from_name("trainer");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(e.line().find("use rollout, reward or train"), std::string::npos) << e.line();
  }
  EXPECT_NE(kTagRolloutReward, kTagTrainRollout);
}

void expect_cover(size_t n, size_t chunk) {
  auto pieces = bcast_pieces(n, chunk);
  size_t next = 0;
  for (const auto& p : pieces) {
    EXPECT_EQ(p.offset, next);
    EXPECT_GT(p.count, 0);
    EXPECT_LE(static_cast<size_t>(p.count), chunk);
    next += static_cast<size_t>(p.count);
  }
  EXPECT_EQ(next, n) << "n " << n << " chunk " << chunk;
}

TEST(CommBcast, PiecesCoverEveryFloatOnce) {
  EXPECT_TRUE(bcast_pieces(0, 16).empty());
  EXPECT_EQ(bcast_pieces(16, 16).size(), 1u);
  EXPECT_EQ(bcast_pieces(17, 16).size(), 2u);
  EXPECT_EQ(bcast_pieces(17, 16).back().count, 1);
  for (size_t n : {1ul, 15ul, 16ul, 17ul, 1000ul, 4097ul})
    for (size_t chunk : {1ul, 3ul, 16ul, 4096ul}) expect_cover(n, chunk);
  EXPECT_THROW(bcast_pieces(10, 0), InputError);
}

TEST(CommBcast, PiecesOfAModelOver8GiBStayIntSized) {
  size_t n = (size_t{9} << 30) / sizeof(float) + 5;  // 9 GiB of floats and a tail
  auto pieces = bcast_pieces(n, kBcastChunkFloats);
  EXPECT_EQ(pieces.size(), 10u);
  EXPECT_EQ(pieces.back().count, 5);
  // A chunk beyond INT_MAX floats is clamped so that each MPI count fits an int.
  auto big = bcast_pieces(size_t{3} << 31, size_t{1} << 40);
  for (const auto& p : big) EXPECT_LE(p.count, INT_MAX);
  expect_cover(size_t{3} << 31, size_t{1} << 40);
}

TEST(CommOptions, ChunkOptionInMiB) {
  ConfigSpec spec;
  declare_comm_options(spec);
  EXPECT_EQ(bcast_chunk_floats(Config(spec)), kBcastChunkFloats);
  Config two = Config::parse(spec, "[comm]\nbcast_chunk_mib = 2\n", "test.ini", {});
  EXPECT_EQ(bcast_chunk_floats(two), size_t{2} * 1024 * 1024 / 4);
  // Out of range is refused where the config is read, before any broadcast.
  EXPECT_THROW(Config::parse(spec, "", "test.ini", {"comm.bcast_chunk_mib=0"}), ConfigError);
  EXPECT_THROW(Config::parse(spec, "", "test.ini", {"comm.bcast_chunk_mib=8192"}), ConfigError);
}
