// RunDir: every path of a run directory from its root, and the ckpt/ and buffer/ file names
// parse back to their iteration and rank (and nothing else parses).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "lib/rundir/rundir.h"

using namespace k1rl;

TEST(RunDir, NamesEveryPathUnderTheRoot) {
  const RunDir run("/scratch/r1");
  EXPECT_EQ(run.root(), "/scratch/r1");
  EXPECT_EQ(run.config_ini(), "/scratch/r1/config.ini");
  EXPECT_EQ(run.metrics(), "/scratch/r1/metrics.h5");
  EXPECT_EQ(run.sampler(), "/scratch/r1/sampler.h5");
  EXPECT_EQ(run.eval(), "/scratch/r1/eval.h5");
  EXPECT_EQ(run.lock(), "/scratch/r1/.lock");
  EXPECT_EQ(run.ckpt_dir(), "/scratch/r1/ckpt");
  EXPECT_EQ(run.ckpt(12), "/scratch/r1/ckpt/it_000012.h5");
  EXPECT_EQ(run.ckpt_latest(), "/scratch/r1/ckpt/latest");
  EXPECT_EQ(run.buffer_dir(), "/scratch/r1/buffer");
  EXPECT_EQ(run.shard(12, 3), "/scratch/r1/buffer/it_000012.r0003.h5");
}

TEST(RunDir, FileNamesParseBack) {
  int64_t it = -1;
  int32_t rank = -1;
  for (int64_t i : {0L, 7L, 123456L, 12345678L}) {
    ASSERT_TRUE(RunDir::parse_ckpt_name(RunDir::ckpt_name(i), it));
    EXPECT_EQ(it, i);
    ASSERT_TRUE(RunDir::parse_ckpt_name(RunDir::ckpt_name(i) + "\n", it));  // as `latest` holds it
    EXPECT_EQ(it, i);
    for (int32_t r : {0, 3, 100, 12345}) {
      ASSERT_TRUE(RunDir::parse_shard_name(RunDir::shard_name(i, r), it, rank));
      EXPECT_EQ(it, i);
      EXPECT_EQ(rank, r);
    }
  }
  EXPECT_FALSE(RunDir::parse_ckpt_name("it_-1.h5", it));
  EXPECT_FALSE(RunDir::parse_ckpt_name("it_12", it));
  EXPECT_FALSE(RunDir::parse_ckpt_name("it_000012.h5x", it));
  EXPECT_FALSE(RunDir::parse_ckpt_name("latest", it));
  EXPECT_FALSE(RunDir::parse_shard_name("it_000012.r0003.h5.tmp-host-1", it, rank));
  EXPECT_FALSE(RunDir::parse_shard_name("it_000012.h5", it, rank));
}

// `--checkpoint run/ckpt/latest` names the checkpoint the pointer names; anything else (an
// HDF5 file, a missing path, a pointer with junk) is passed through for its reader to judge.
TEST(RunDir, ResolveCheckpointFollowsALatestPointer) {
  const std::string dir = testing::TempDir() + "/k1rl-resolve";
  std::filesystem::create_directories(dir);
  auto write = [](const std::string& p, const std::string& text) {
    std::FILE* f = std::fopen(p.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  };
  write(dir + "/latest", "it_000012.h5\n");
  EXPECT_EQ(RunDir::resolve_checkpoint(dir + "/latest"), dir + "/it_000012.h5");
  write(dir + "/odd", "it_12\n");
  EXPECT_EQ(RunDir::resolve_checkpoint(dir + "/odd"), dir + "/odd");
  write(dir + "/big.h5", std::string(100, 'x'));
  EXPECT_EQ(RunDir::resolve_checkpoint(dir + "/big.h5"), dir + "/big.h5");
  EXPECT_EQ(RunDir::resolve_checkpoint(dir + "/missing.h5"), dir + "/missing.h5");
  EXPECT_EQ(RunDir::resolve_checkpoint(""), "");
}
