// Checkpoints: a save/load round trip restores parameters, AdamW moments and step, train step,
// iteration and RNG; a config mismatch is refused naming the key; truncated, corrupted, foreign
// and missing files are refused with an IoError naming the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lib/io/io.h"
#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

namespace fs = std::filesystem;

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("k1rl-ckpt-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A model after one AdamW step, saved to `p`.
  void make(const std::string& p, model::Model& m, optim::AdamW& opt) {
    randomize(m, 3);
    m.zero_grads();
    m.forward(make_batch({random_tokens(9, 11, 1)}));
    std::vector<float> w(9, -1.f);
    m.backward(w.data());
    opt.step(m.params(), m.grads());
    model::TrainState st;
    st.step = 17;
    st.iteration = 4;
    Rng rng(5, 6);
    rng.next_u64();
    st.rng_state = rng.state();
    model::save_checkpoint(p, m, &opt, st);
  }

  fs::path dir_;
};

TEST_F(Checkpoint, RoundTrip) {
  model::Model m(tiny_config());
  optim::AdamW opt(optim::OptimConfig{}, m.num_params(), m.param_ranges());
  make(path("a.h5"), m, opt);
  EXPECT_EQ(io::read_format(path("a.h5")), "checkpoint/1");
  model::Model m2(tiny_config());
  optim::AdamW opt2(optim::OptimConfig{}, m2.num_params(), m2.param_ranges());
  auto st = model::load_checkpoint(path("a.h5"), m2, &opt2);
  EXPECT_EQ(st.step, 17);
  EXPECT_EQ(st.iteration, 4);
  Rng rng(5, 6);
  rng.next_u64();
  EXPECT_EQ(st.rng_state, rng.state());
  EXPECT_TRUE(std::equal(m.params(), m.params() + m.num_params(), m2.params()));
  EXPECT_TRUE(std::equal(opt.m(), opt.m() + opt.size(), opt2.m()));
  EXPECT_TRUE(std::equal(opt.v(), opt.v() + opt.size(), opt2.v()));
  EXPECT_EQ(opt2.step_count(), 1);
  EXPECT_TRUE(model::read_checkpoint_config(path("a.h5")) == tiny_config());
  // Params are stored under their Hugging Face names with their shapes.
  io::H5Reader r(path("a.h5"), "checkpoint", 1);
  EXPECT_EQ(io::dataset_dims(r.root(), "params/model.layers.1.mlp.down_proj.weight"),
            (std::vector<uint64_t>{8, 12}));
  EXPECT_TRUE(io::has_link(r.root(), "optim/m/lm_head.weight"));
}

TEST_F(Checkpoint, ConfigMismatchNamesTheKey) {
  model::Model m(tiny_config());
  optim::AdamW opt(optim::OptimConfig{}, m.num_params(), m.param_ranges());
  make(path("a.h5"), m, opt);
  model::ModelConfig other = tiny_config();
  other.ffn_dim = 16;
  model::Model m2(other);
  try {
    model::load_checkpoint(path("a.h5"), m2, nullptr);
    FAIL() << "a checkpoint with ffn_dim 12 must not load into ffn_dim 16";
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("model.ffn_dim is 12 in the checkpoint but 16"), std::string::npos) << msg;
  }
  other = tiny_config();
  other.rope_theta = 10000;
  model::Model m3(other);
  EXPECT_THROW(model::load_checkpoint(path("a.h5"), m3, nullptr), ConfigError);
}

TEST_F(Checkpoint, TruncatedCorruptForeignAndMissingFilesAreRefused) {
  model::Model m(tiny_config());
  optim::AdamW opt(optim::OptimConfig{}, m.num_params(), m.param_ranges());
  make(path("a.h5"), m, opt);
  model::Model m2(tiny_config());
  auto expect_io_error = [&](const std::string& p, const std::string& what) {
    try {
      model::load_checkpoint(p, m2, nullptr);
      ADD_FAILURE() << what << " was accepted";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find(fs::path(p).filename().string()), std::string::npos)
          << what << ": " << e.what();
    }
  };
  // Truncated: the first half of the file.
  const auto size = fs::file_size(path("a.h5"));
  fs::copy_file(path("a.h5"), path("trunc.h5"));
  fs::resize_file(path("trunc.h5"), size / 2);
  expect_io_error(path("trunc.h5"), "a truncated file");
  // Corrupt: flip bytes inside the stored data of one tensor (found by its exact bytes).
  std::vector<char> bytes(size);
  std::ifstream(path("a.h5"), std::ios::binary).read(bytes.data(), size);
  const auto& t = m.tensor("model.layers.0.mlp.up_proj.weight");
  const char* needle = reinterpret_cast<const char*>(m.params() + t.offset);
  auto it = std::search(bytes.begin(), bytes.end(), needle, needle + 64);
  ASSERT_NE(it, bytes.end());
  it[5] ^= 0x5a;
  it[40] ^= 0x33;
  std::ofstream(path("corrupt.h5"), std::ios::binary).write(bytes.data(), size);
  expect_io_error(path("corrupt.h5"), "a corrupted file");
  // Not HDF5 at all, and missing.
  std::ofstream(path("text.h5")) << "not a checkpoint\n";
  expect_io_error(path("text.h5"), "a text file");
  expect_io_error(path("missing.h5"), "a missing file");
}

TEST_F(Checkpoint, WithoutOptimizerState) {
  model::Model m(tiny_config(false, true));
  randomize(m, 8);
  model::save_checkpoint(path("p.h5"), m, nullptr, {});
  model::Model m2(tiny_config(false, true));
  optim::AdamW opt(optim::OptimConfig{}, m2.num_params(), m2.param_ranges());
  opt.set_step_count(5);
  auto st = model::load_checkpoint(path("p.h5"), m2, &opt);
  EXPECT_EQ(opt.step_count(), 0);
  EXPECT_TRUE(st.rng_state.empty());
  EXPECT_TRUE(std::equal(m.params(), m.params() + m.num_params(), m2.params()));
}

}  // namespace
}  // namespace k1rl::test
