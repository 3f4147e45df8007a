// No poisoned checkpoint: a NaN injected into the weights or the AdamW moments is refused with a
// NumericError before anything is published, so ckpt/latest keeps naming a finite checkpoint; a
// resume falls back from a corrupt (truncated, flipped bytes) or non-finite checkpoint named by
// latest to the newest older intact one and points latest at it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "lib/app/app.h"
#include "lib/train/train.h"

using namespace k1rl;

namespace {
struct TmpRun {
  std::string dir = "/tmp/k1rl-ckguard-" + std::to_string(getpid()) + "-" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
  Config cfg;
  TmpRun() {
    std::filesystem::remove_all(dir);
    ConfigSpec spec;
    declare_all_options(spec);
    cfg = Config::parse(
        spec, "", "test",
        {"--model.dim=16", "--model.layers=1", "--model.heads=2", "--model.kv_heads=1",
         "--model.ffn_dim=32", "--model.max_seq=32", "--run.dir=" + dir});
  }
  ~TmpRun() { std::filesystem::remove_all(dir); }
  RunDir run() const { return RunDir::from(cfg); }
};

void flip_bytes_in_middle(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const auto size = static_cast<std::streamoff>(f.tellg());
  for (std::streamoff off = size / 3; off < 2 * size / 3; off += 97) {
    f.seekg(off);
    char c = 0;
    f.read(&c, 1);
    f.seekp(off);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
}
}  // namespace

TEST(CheckpointGuard, ANanWeightIsNeverPublished) {
  TmpRun r;
  train::Trainer t(r.cfg, MPI_COMM_NULL);
  t.save(0);
  t.model().params()[5] = std::nanf("");
  try {
    t.save(1);
    FAIL() << "a NaN weight was published";
  } catch (const NumericError& e) {
    EXPECT_NE(e.line().find("refusing to publish checkpoint it_1"), std::string::npos) << e.line();
    EXPECT_NE(e.line().find("nan"), std::string::npos) << e.line();
  }
  EXPECT_FALSE(io::file_exists(r.run().ckpt(1)));
  EXPECT_EQ(train::latest_checkpoint(r.run()), 0);
}

TEST(CheckpointGuard, AnInfiniteOptimizerMomentIsNamed) {
  TmpRun r;
  train::Trainer t(r.cfg, MPI_COMM_NULL);
  optim::AdamW opt(optim::OptimConfig::from_config(r.cfg), t.model().num_params());
  EXPECT_NO_THROW(train::check_finite(t.model(), &opt, "x"));
  opt.v()[t.model().tensors().back().offset] = INFINITY;  // what an overflowing update leaves
  try {
    train::check_finite(t.model(), &opt, "x");
    FAIL() << "an infinite moment passed";
  } catch (const NumericError& e) {
    EXPECT_NE(e.line().find("AdamW v of " + t.model().tensors().back().name + "[0] = inf"),
              std::string::npos)
        << e.line();
  }
}

TEST(CheckpointGuard, ResumeFallsBackPastATruncatedLatest) {
  TmpRun r;
  train::Trainer a(r.cfg, MPI_COMM_NULL);
  a.save(0);
  a.model().params()[0] += 1.0f;
  a.save(1);
  a.save(2);
  std::filesystem::resize_file(r.run().ckpt(2), std::filesystem::file_size(r.run().ckpt(2)) / 2);
  train::Trainer b(r.cfg, MPI_COMM_NULL);
  EXPECT_EQ(b.resume(r.run()), 1);
  EXPECT_EQ(b.model().params()[0], a.model().params()[0]);
  EXPECT_EQ(train::latest_checkpoint(r.run()), 1);  // latest names the intact one now
}

TEST(CheckpointGuard, ResumeFallsBackPastFlippedBytesAndNonFiniteWeights) {
  TmpRun r;
  train::Trainer a(r.cfg, MPI_COMM_NULL);
  a.save(0);
  a.save(1);
  flip_bytes_in_middle(r.run().ckpt(1));
  // it_2: written behind the guard's back with a NaN weight (an older build's poisoned file).
  a.model().params()[3] = std::nanf("");
  model::save_checkpoint(r.run().ckpt(2), a.model(), nullptr, {0, 2, {}});
  io::publish_text(r.run().ckpt_latest(), "it_000002.h5\n");
  train::Trainer b(r.cfg, MPI_COMM_NULL);
  EXPECT_EQ(b.resume(r.run()), 0);
  EXPECT_TRUE(std::isfinite(b.model().params()[3]));
  EXPECT_EQ(train::latest_checkpoint(r.run()), 0);
}

TEST(CheckpointGuard, ADanglingLatestFallsBackAndNoIntactOneIsAnError) {
  TmpRun r;
  train::Trainer a(r.cfg, MPI_COMM_NULL);
  a.save(0);
  io::publish_text(r.run().ckpt_latest(), "it_000007.h5\n");  // names a missing file
  train::Trainer b(r.cfg, MPI_COMM_NULL);
  EXPECT_EQ(b.resume(r.run()), 0);
  std::filesystem::resize_file(r.run().ckpt(0), 100);
  train::Trainer c(r.cfg, MPI_COMM_NULL);
  try {
    c.resume(r.run());
    FAIL() << "resumed from nothing";
  } catch (const IoError& e) {
    EXPECT_NE(e.line().find("no intact checkpoint"), std::string::npos) << e.line();
  }
}

TEST(CheckpointGuard, NoCheckpointIsAFreshRun) {
  TmpRun r;
  train::Trainer t(r.cfg, MPI_COMM_NULL);
  EXPECT_EQ(t.resume(r.run()), -1);
}
