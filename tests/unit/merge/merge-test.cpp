// lib/merge: the weighted average is exact (θ = Σ w_i θ_i, weights normalised), one input is the
// identity, the provenance attributes and the optim/ decision, refusals naming both files, the
// result as a start for the model loader, the trainer and the Hugging Face export, and the peak
// RSS of k1rl-merge (measured by the kernel via wait4) staying a few tensors, not N models.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "lib/app/app.h"
#include "lib/convert/convert.h"
#include "lib/io/io.h"
#include "lib/merge/merge.h"
#include "lib/model/model.h"
#include "lib/train/train.h"

using namespace k1rl;

namespace {

std::string tmp_dir(const char* name) {
  std::string d = strfmt("/tmp/k1rl-merge-test-%d-%s", static_cast<int>(getpid()), name);
  std::filesystem::remove_all(d);
  io::make_dirs(d);
  return d;
}

model::ModelConfig tiny() {
  model::ModelConfig c;
  c.dim = 16;
  c.layers = 2;
  c.heads = 4;
  c.kv_heads = 2;
  c.ffn_dim = 32;
  c.max_seq = 64;
  return c;
}

// A checkpoint of `cfg` with seeded parameters (and AdamW state when with_optim).
std::string make_ckpt(const std::string& path, const model::ModelConfig& cfg, uint64_t seed,
                      bool with_optim = false) {
  model::Model m(cfg);
  m.init_params(seed);
  if (with_optim) {
    optim::AdamW opt(optim::OptimConfig{}, m.num_params(), m.param_ranges());
    for (int64_t i = 0; i < m.num_params(); ++i) m.grads()[i] = 0.01f * static_cast<float>(i % 7);
    opt.step(m.params(), m.grads());
    model::save_checkpoint(path, m, &opt, model::TrainState{5, 3, {}});
  } else {
    model::save_checkpoint(path, m, nullptr, model::TrainState{5, 3, {}});
  }
  return path;
}

std::vector<float> params_of(const std::string& path) {
  model::Model m(model::read_checkpoint_config(path));
  model::load_checkpoint(path, m, nullptr);
  return {m.params(), m.params() + m.num_params()};
}

merge::MergeSpec linear(const std::string& list) {
  merge::MergeSpec s;
  s.inputs = merge::parse_inputs(list);
  return s;
}

// The refusal's one line (what: why; hint), or "" when it did not throw a ConfigError.
std::string refusal(const merge::MergeSpec& s, const std::string& out) {
  try {
    merge::merge_checkpoints(s, out);
  } catch (const ConfigError& e) {
    return e.line();
  }
  return "";
}

void add_tokenizer_group(const std::string& path, const std::string& kind,
                         const std::string& json) {
  io::h5_quiet();
  io::Hid f(K1RL_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)));
  io::Hid g = io::create_group(f.get(), "tokenizer");
  io::set_attr(g, "kind", kind);
  if (!json.empty())
    io::write_dataset(g.get(), "tokenizer.json", std::vector<uint8_t>(json.begin(), json.end()));
}

}  // namespace

TEST(MergeInputs, ParsesPathsAndWeights) {
  auto in = merge::parse_inputs("a.h5:0.25,dir:x/b.h5,c.h5:3");
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].path, "a.h5");
  EXPECT_DOUBLE_EQ(in[0].weight, 0.25);
  EXPECT_TRUE(in[0].weight_given);
  EXPECT_EQ(in[1].path, "dir:x/b.h5");  // a suffix that is not a number belongs to the path
  EXPECT_DOUBLE_EQ(in[1].weight, 1.0);
  EXPECT_FALSE(in[1].weight_given);
  EXPECT_DOUBLE_EQ(in[2].weight, 3.0);
  EXPECT_THROW(merge::parse_inputs("a.h5:-1"), ConfigError);
  EXPECT_THROW(merge::parse_inputs("a.h5,,b.h5"), ConfigError);
  EXPECT_THROW(merge::parse_inputs(""), ConfigError);
  EXPECT_THROW(merge::parse_method("average"), ConfigError);
}

TEST(Merge, LinearIsTheNormalisedWeightedAverageExactly) {
  const std::string d = tmp_dir("linear");
  const auto cfg = tiny();
  make_ckpt(d + "/a.h5", cfg, 1);
  make_ckpt(d + "/b.h5", cfg, 2);
  make_ckpt(d + "/c.h5", cfg, 3);
  merge::MergeStats st = merge::merge_checkpoints(
      linear(d + "/a.h5:1," + d + "/b.h5:2," + d + "/c.h5:5"), d + "/m.h5");
  ASSERT_EQ(st.weights.size(), 3u);
  EXPECT_DOUBLE_EQ(st.weights[0], 1.0 / 8);
  EXPECT_DOUBLE_EQ(st.weights[2], 5.0 / 8);
  auto a = params_of(d + "/a.h5"), b = params_of(d + "/b.h5"), c = params_of(d + "/c.h5");
  auto m = params_of(d + "/m.h5");  // loads with the model loader: config and shapes agree
  ASSERT_EQ(m.size(), a.size());
  EXPECT_EQ(st.params, static_cast<int64_t>(a.size()));
  const double w[3] = {1.0 / 8, 2.0 / 8, 5.0 / 8};
  size_t differ = 0, moved = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    double want = std::fma(w[2], c[i], std::fma(w[1], b[i], std::fma(w[0], a[i], 0.0)));
    differ += m[i] != static_cast<float>(want);
    moved += m[i] != a[i];
  }
  EXPECT_EQ(differ, 0u);
  EXPECT_GT(moved, m.size() / 2);  // the merge is not one of its inputs
}

TEST(Merge, OneInputIsTheIdentity) {
  const std::string d = tmp_dir("identity");
  make_ckpt(d + "/a.h5", tiny(), 7);
  merge::merge_checkpoints(linear(d + "/a.h5:0.3"), d + "/m.h5");
  EXPECT_EQ(params_of(d + "/m.h5"), params_of(d + "/a.h5"));
}

TEST(Merge, ProvenanceAndNoOptimizerState) {
  const std::string d = tmp_dir("provenance");
  make_ckpt(d + "/a.h5", tiny(), 1, true);
  make_ckpt(d + "/b.h5", tiny(), 2, true);
  merge::merge_checkpoints(linear(d + "/a.h5:3," + d + "/b.h5:1"), d + "/m.h5");
  {
    io::H5Reader r(d + "/m.h5", "checkpoint", 1);
    EXPECT_EQ(io::get_attr_string(r.root(), "merge_method"), "linear");
    EXPECT_EQ(io::get_attr_string(r.root(), "merge_inputs"), d + "/a.h5," + d + "/b.h5");
    EXPECT_EQ(io::get_attr_string(r.root(), "merge_weights"), "0.75,0.25");
    EXPECT_EQ(io::get_attr_int(r.root(), "step"), 0);
    EXPECT_EQ(io::get_attr_int(r.root(), "iteration"), 0);
    EXPECT_FALSE(io::has_link(r.root(), "optim"));  // documented: AdamW starts afresh
    EXPECT_FALSE(io::has_link(r.root(), "tokenizer"));
  }
  model::Model m(tiny());
  optim::AdamW opt(optim::OptimConfig{}, m.num_params(), m.param_ranges());
  opt.set_step_count(9);
  model::load_checkpoint(d + "/m.h5", m, &opt);
  EXPECT_EQ(opt.step_count(), 0);
}

TEST(Merge, RefusesDifferentConfigsNamingBothFiles) {
  const std::string d = tmp_dir("refuse-config");
  make_ckpt(d + "/a.h5", tiny(), 1);
  auto wide = tiny();
  wide.ffn_dim = 48;
  make_ckpt(d + "/b.h5", wide, 2);
  std::string line = refusal(linear(d + "/a.h5," + d + "/b.h5"), d + "/m.h5");
  EXPECT_NE(line.find(d + "/a.h5"), std::string::npos) << line;
  EXPECT_NE(line.find(d + "/b.h5"), std::string::npos) << line;
  EXPECT_NE(line.find("model.ffn_dim is 32"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_FALSE(io::file_exists(d + "/m.h5"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d), {}), 2);  // no temporary left
}

TEST(Merge, RefusesDifferentTokenizersNamingBothFiles) {
  const std::string d = tmp_dir("refuse-tok");
  make_ckpt(d + "/a.h5", tiny(), 1);
  make_ckpt(d + "/b.h5", tiny(), 2);
  make_ckpt(d + "/c.h5", tiny(), 3);
  make_ckpt(d + "/e.h5", tiny(), 4);
  add_tokenizer_group(d + "/b.h5", "bpe", "{\"model\": 1}");
  add_tokenizer_group(d + "/c.h5", "bpe", "{\"model\": 2}");
  add_tokenizer_group(d + "/e.h5", "byte", "");
  std::string kind = refusal(linear(d + "/a.h5," + d + "/b.h5"), d + "/m.h5");
  EXPECT_NE(kind.find("the tokenizer is byte in " + d + "/a.h5 but bpe in " + d + "/b.h5"),
            std::string::npos)
      << kind;
  std::string files = refusal(linear(d + "/b.h5," + d + "/c.h5"), d + "/m.h5");
  EXPECT_NE(files.find(d + "/b.h5 and " + d + "/c.h5"), std::string::npos) << files;
  EXPECT_NE(files.find("tokenizers differ"), std::string::npos) << files;
  // A byte tokenizer group and no group are the same tokenizer (what load_tokenizer_h5 reads).
  EXPECT_EQ(refusal(linear(d + "/a.h5," + d + "/e.h5"), d + "/m.h5"), "");
  // The tokenizer travels with the merge.
  merge::merge_checkpoints(linear(d + "/b.h5:1," + d + "/b.h5:1"), d + "/m2.h5");
  io::H5Reader r(d + "/m2.h5", "checkpoint", 1);
  io::Hid g = io::open_group(r.root(), "tokenizer");
  auto bytes = io::read_dataset<uint8_t>(g, "tokenizer.json");
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "{\"model\": 1}");
}

TEST(Merge, RefusesBadRequests) {
  const std::string d = tmp_dir("refuse-other");
  make_ckpt(d + "/a.h5", tiny(), 1);
  make_ckpt(d + "/b.h5", tiny(), 2);
  make_ckpt(d + "/c.h5", tiny(), 3);
  merge::MergeSpec s = linear(d + "/a.h5," + d + "/b.h5," + d + "/c.h5");
  s.method = merge::Method::slerp;
  EXPECT_NE(refusal(s, d + "/m.h5").find("slerp merges two"), std::string::npos);
  s = linear(d + "/a.h5:1," + d + "/b.h5");
  s.method = merge::Method::slerp;
  EXPECT_NE(refusal(s, d + "/m.h5").find("slerp takes no weights"), std::string::npos);
  s = linear(d + "/a.h5," + d + "/b.h5");
  s.method = merge::Method::slerp;
  s.t = 1.5;
  EXPECT_NE(refusal(s, d + "/m.h5").find("outside [0, 1]"), std::string::npos);
  EXPECT_NE(refusal(linear(d + "/a.h5:0," + d + "/b.h5:0"), d + "/m.h5").find("sum to 0"),
            std::string::npos);
  EXPECT_NE(refusal(linear(d + "/a.h5," + d + "/b.h5"), d + "/a.h5").find("is also an input"),
            std::string::npos);
  EXPECT_THROW(merge::merge_checkpoints(linear(d + "/missing.h5"), d + "/m.h5"), IoError);
  EXPECT_FALSE(io::file_exists(d + "/m.h5"));
}

TEST(Merge, SlerpEndpointsAndMidpoint) {
  // Orthogonal unit vectors: the midpoint is (a + b)/√2 (on the sphere), not (a + b)/2.
  std::vector<float> a = {1, 0, 0}, b = {0, 1, 0}, out(3);
  EXPECT_FALSE(merge::slerp(a.data(), b.data(), 3, 0.5, out.data()));
  EXPECT_NEAR(out[0], 1 / std::sqrt(2.0), 1e-7);
  EXPECT_NEAR(out[1], 1 / std::sqrt(2.0), 1e-7);
  merge::slerp(a.data(), b.data(), 3, 0.0, out.data());
  EXPECT_EQ(out, a);
  merge::slerp(a.data(), b.data(), 3, 1.0, out.data());
  EXPECT_NEAR(out[1], 1.0, 1e-7);
  EXPECT_NEAR(out[0], 0.0, 1e-7);
  std::vector<float> z = {0, 0, 0};
  EXPECT_TRUE(merge::slerp(a.data(), z.data(), 3, 0.25, out.data()));  // zero vector: linear
  EXPECT_FLOAT_EQ(out[0], 0.75f);
}

TEST(Merge, ResultStartsTrainingAndExports) {
  const std::string d = tmp_dir("consumers");
  make_ckpt(d + "/a.h5", tiny(), 1);
  make_ckpt(d + "/b.h5", tiny(), 2);
  merge::merge_checkpoints(linear(d + "/a.h5," + d + "/b.h5"), d + "/m.h5");
  // The trainer's starting point (train.init_checkpoint loads weights only) and an SFT step.
  ConfigSpec spec;
  declare_all_options(spec);
  Config cfg = Config::parse(
      spec, "", "test",
      {"--model.dim=16", "--model.layers=2", "--model.heads=4", "--model.kv_heads=2",
       "--model.ffn_dim=32", "--model.max_seq=64", "--train.sft_batch=4", "--optim.lr=1e-3"});
  train::Trainer tr(cfg, MPI_COMM_NULL);
  tr.load_weights(d + "/m.h5");
  auto m = params_of(d + "/m.h5");
  EXPECT_TRUE(std::equal(m.begin(), m.end(), tr.model().params()));
  Rng rng(3);
  std::vector<Task> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(generate_task("addition", 2, rng));
  auto rows = tr.sft(tasks, 2);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(std::isfinite(rows[1].at("loss")));
  EXPECT_FALSE(std::equal(m.begin(), m.end(), tr.model().params()));  // it trained
  // k1rl-convert export reads it like an imported model.
  convert::ImportedModel im = convert::read_checkpoint(d + "/m.h5");
  EXPECT_EQ(im.tokenizer->kind(), "byte");
  convert::export_hf_folder(im, d + "/hf", "F32");
  EXPECT_TRUE(io::file_exists(d + "/hf/config.json"));
  EXPECT_TRUE(io::file_exists(d + "/hf/model.safetensors"));
}

namespace {
// Runs k1rl-merge with `args`; returns its exit code and, in *maxrss_kib, its peak RSS as the
// kernel measured it (wait4).
int run_merge(const std::vector<std::string>& args, long* maxrss_kib) {
  std::vector<char*> argv;
  std::string bin = K1RL_MERGE_BIN;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  wait4(pid, &status, 0, &ru);
  *maxrss_kib = ru.ru_maxrss;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST(MergeApp, PeakMemoryIsAFewTensorsNotNModels) {
  const std::string d = tmp_dir("rss");
  // 16 layers of dim 256: 12.6M parameters (50 MB) per checkpoint, the largest tensor 0.7 MB.
  model::ModelConfig big;
  big.dim = 256;
  big.layers = 16;
  big.heads = 8;
  big.kv_heads = 8;
  big.ffn_dim = 688;
  big.max_seq = 256;
  std::string list;
  for (int i = 0; i < 3; ++i) list += (i ? "," : "") + make_ckpt(d + strfmt("/b%d.h5", i), big, i);
  make_ckpt(d + "/t0.h5", tiny(), 1);
  make_ckpt(d + "/t1.h5", tiny(), 2);
  long base = 0, peak = 0;
  ASSERT_EQ(run_merge({"--in", d + "/t0.h5," + d + "/t1.h5", "--out", d + "/t.h5"}, &base), 0);
  ASSERT_EQ(run_merge({"--in", list, "--out", d + "/b.h5"}, &peak), 0);
  const double model_mib = static_cast<double>(model::Model(big).num_params()) * 4 / (1 << 20);
  const double extra_mib = static_cast<double>(peak - base) / 1024.0;
  std::printf(
      "k1rl-merge peak RSS: %.1f MiB on two tiny inputs, %.1f MiB on three %.1f MiB "
      "inputs (+%.1f MiB)\n",
      base / 1024.0, peak / 1024.0, model_mib, extra_mib);
  // Holding even one model would add model_mib; the streamed merge adds a few tensors.
  EXPECT_LT(extra_mib, 0.25 * model_mib);
  // The streamed result is the average of the three.
  auto m = params_of(d + "/b.h5");
  auto b0 = params_of(d + "/b0.h5"), b1 = params_of(d + "/b1.h5"), b2 = params_of(d + "/b2.h5");
  ASSERT_EQ(m.size(), b0.size());
  const double w = 1.0 / 3.0;
  size_t differ = 0;
  for (size_t i = 0; i < m.size(); ++i)
    differ += m[i] != static_cast<float>(std::fma(w, b2[i], std::fma(w, b1[i], w * b0[i])));
  EXPECT_EQ(differ, 0u);
  // A refusal through the app: exit code 2, nothing written.
  long ignored = 0;
  EXPECT_EQ(run_merge({"--in", d + "/t0.h5," + d + "/b0.h5", "--out", d + "/x.h5"}, &ignored), 2);
  EXPECT_FALSE(io::file_exists(d + "/x.h5"));
  std::filesystem::remove_all(d);
}
