// long2short data steps and the DPO trainer on a tiny byte-level model briefly warmed up on
// 1-digit addition (so that some samples are right and some wrong): shortest rejection keeps the
// shortest correct answer, sampling is seeded and scored by the checker, DPO pairs follow the
// rule and carry the reference sums of independent forward passes, the file round-trips, the
// first DPO step's loss is ln 2 and the margin grows, and both train modes publish their data
// and a loadable checkpoint.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "lib/app/app.h"
#include "lib/io/io.h"
#include "lib/long2short/long2short.h"

using namespace k1rl;

namespace {

std::string tmp_dir(const char* name) {
  std::string d = strfmt("/tmp/k1rl-l2s-test-%d-%s", static_cast<int>(getpid()), name);
  std::filesystem::remove_all(d);
  io::make_dirs(d);
  return d;
}

std::vector<std::string> base_args() {
  return {"--model.dim=32",
          "--model.layers=1",
          "--model.heads=2",
          "--model.kv_heads=1",
          "--model.ffn_dim=64",
          "--model.max_seq=48",
          "--optim.lr=3e-3",
          "--optim.warmup_steps=5",
          "--optim.schedule=constant",
          "--train.sft_batch=32",
          "--long2short.samples=6",
          "--long2short.max_answer_tokens=8",
          "--long2short.temperature=1.0",
          "--train.micro_batch_tokens=200"};
}

Config make_config(std::vector<std::string> extra = {}) {
  ConfigSpec spec;
  declare_all_options(spec);
  auto args = base_args();
  args.insert(args.end(), extra.begin(), extra.end());
  return Config::parse(spec, "", "test", args);
}

std::vector<Task> tasks() {
  Rng rng(5);
  std::vector<Task> t;
  for (int i = 0; i < 24; ++i) {
    t.push_back(generate_task("addition", 1, rng));
    t.back().id = strfmt("l2s-%d", i);
  }
  return t;
}

// A model that gets some 1-digit sums right: 120 SFT steps from the seeded init (cached).
const std::string& warm_checkpoint() {
  static std::string path;
  if (path.empty()) {
    path = tmp_dir("warm") + "/warm.h5";
    Config cfg = make_config();
    train::Trainer tr(cfg, MPI_COMM_NULL);
    tr.sft(tasks(), 120);
    model::save_checkpoint(path, tr.model(), nullptr, model::TrainState{});
  }
  return path;
}

std::vector<long2short::PromptSamples> sample(train::Trainer& tr, const Config& cfg) {
  Scorer scorer(reward_options_from_config(cfg), tasks());
  return long2short::sample_scored(tr.model(), tr.tokenizer(), tr.prompt_format(), tasks(), scorer,
                                   long2short::SampleConfig::from(cfg));
}

}  // namespace

TEST(ShortestRejection, KeepsTheShortestCorrectAnswer) {
  auto tok = make_byte_tokenizer();
  std::vector<Task> t(3);
  t[0].prompt = "1+2=";
  t[1].prompt = "2+2=";
  t[2].prompt = "3+3=";
  auto enc = [&](const std::string& s) {
    auto ids = tok->encode(s);
    ids.push_back(kByteEos);
    return ids;
  };
  std::vector<long2short::PromptSamples> s(3);
  s[0] = {0, {}, {enc("3 ok"), enc("3"), enc("2"), enc("so 3")}, {true, true, false, true}};
  s[1] = {1, {}, {enc("5"), enc("3")}, {false, false}};                     // none correct: dropped
  s[2] = {2, {}, {enc("six"), enc("6!"), enc("66")}, {false, true, true}};  // tie: the first
  auto out = long2short::shortest_rejection(s, t, *tok);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].prompt, "1+2=");
  EXPECT_EQ(out[0].solution, "3");
  EXPECT_EQ(out[1].solution, "6!");
}

TEST(Long2short, SamplingIsSeededAndScoredByTheChecker) {
  Config cfg = make_config();
  train::Trainer tr(cfg, MPI_COMM_NULL);
  tr.load_weights(warm_checkpoint());
  auto a = sample(tr, cfg), b = sample(tr, cfg);
  ASSERT_EQ(a.size(), 24u);
  int64_t right = 0, total = 0;
  for (size_t p = 0; p < a.size(); ++p) {
    EXPECT_EQ(a[p].answers, b[p].answers);
    ASSERT_EQ(a[p].answers.size(), 6u);
    for (size_t j = 0; j < 6; ++j) {
      std::string text = policy::answer_text(tr.tokenizer(), a[p].answers[j]);
      EXPECT_EQ(a[p].correct[j], check_numeric(tasks()[p], text).score >= 1.0) << text;
      right += a[p].correct[j];
      ++total;
    }
  }
  std::printf("warm model: %lld of %lld samples correct\n", (long long)right, (long long)total);
  EXPECT_GT(right, 0);      // the warm-up works: some right ...
  EXPECT_LT(right, total);  // ... some wrong, so there are pairs
}

TEST(Long2short, DpoPairsFollowTheRuleAndCarryReferenceSums) {
  Config cfg = make_config();
  train::Trainer tr(cfg, MPI_COMM_NULL);
  tr.load_weights(warm_checkpoint());
  auto s = sample(tr, cfg);
  auto pairs = long2short::build_dpo_pairs(s, tr.model(), 1.5, 200);
  ASSERT_FALSE(pairs.empty());
  for (const auto& p : pairs) {
    const auto& ps = s[static_cast<size_t>(p.task)];
    const size_t plen = ps.prompt.size();
    ASSERT_EQ(p.prompt_len, static_cast<int32_t>(plen));
    const size_t lw = p.chosen.size() - plen, ll = p.rejected.size() - plen;
    // chosen: a correct answer, and no correct answer is shorter
    bool chosen_found = false, rejected_ok = false;
    for (size_t j = 0; j < ps.answers.size(); ++j) {
      if (ps.correct[j]) {
        EXPECT_GE(ps.answers[j].size(), lw);
      }
      std::vector<int32_t> seq = ps.prompt;
      seq.insert(seq.end(), ps.answers[j].begin(), ps.answers[j].end());
      if (seq == p.chosen && ps.correct[j]) chosen_found = true;
      if (seq == p.rejected && (!ps.correct[j] || ll >= 1.5 * lw)) rejected_ok = true;
    }
    EXPECT_TRUE(chosen_found);
    EXPECT_TRUE(rejected_ok);
  }
  // Reference sums: each sequence alone through the model (no packing), summed in double.
  double worst = 0;
  for (const auto& p : pairs) {
    for (int k = 0; k < 2; ++k) {
      const auto& seq = k == 0 ? p.chosen : p.rejected;
      model::Batch b;
      b.tokens = seq;
      b.cu = {0, static_cast<int32_t>(seq.size())};
      const auto& out = tr.model().forward(b);
      double sum = 0;
      for (size_t t = static_cast<size_t>(p.prompt_len); t < seq.size(); ++t) sum += out.logprob[t];
      worst = std::max(worst, std::fabs(sum - (k == 0 ? p.ref_chosen : p.ref_rejected)));
    }
  }
  EXPECT_LT(worst, 1e-4);
  // The file keeps everything.
  const std::string path = tmp_dir("pairs") + "/pairs.h5";
  long2short::save_dpo_pairs(path, pairs, "warm.h5");
  auto back = long2short::load_dpo_pairs(path);
  ASSERT_EQ(back.size(), pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    EXPECT_EQ(back[i].chosen, pairs[i].chosen);
    EXPECT_EQ(back[i].rejected, pairs[i].rejected);
    EXPECT_EQ(back[i].prompt_len, pairs[i].prompt_len);
    EXPECT_EQ(back[i].ref_chosen, pairs[i].ref_chosen);
    EXPECT_EQ(back[i].ref_rejected, pairs[i].ref_rejected);
  }
}

TEST(Long2short, DpoStartsAtLn2AndWidensTheMargin) {
  Config cfg = make_config({"--optim.lr=1e-3"});
  train::Trainer tr(cfg, MPI_COMM_NULL);
  tr.load_weights(warm_checkpoint());
  auto pairs = long2short::build_dpo_pairs(sample(tr, cfg), tr.model(), 1.5, 200);
  std::vector<train::DpoPairRef> refs;
  for (const auto& p : pairs)
    refs.push_back({&p.chosen, &p.rejected, p.prompt_len, p.ref_chosen, p.ref_rejected});
  auto rows = tr.dpo(refs, 40, 16);
  ASSERT_EQ(rows.size(), 40u);
  EXPECT_NEAR(rows[0].at("loss"), std::log(2.0), 1e-5);  // π_θ = π_ref
  EXPECT_NEAR(rows[0].at("dpo_margin"), 0.0, 1e-5);
  double late = 0;
  for (size_t i = 30; i < 40; ++i) late += rows[i].at("loss") / 10;
  EXPECT_LT(late, 0.6);  // below ln 2 = 0.693: the policy now prefers the chosen answers
  EXPECT_GT(rows.back().at("dpo_margin"), 0.1);
}

TEST(Long2short, TrainModesPublishDataAndACheckpoint) {
  const std::string warm = warm_checkpoint();
  for (const std::string mode : {"shortest_rejection", "dpo"}) {
    const std::string dir = tmp_dir(mode.c_str());
    const std::string train_file = dir + "/tasks.jsonl";
    save_tasks(train_file, tasks());
    Config cfg = make_config({"--train.mode=" + mode, "--train.init_checkpoint=" + warm,
                              "--run.dir=" + dir + "/run", "--tasks.train_file=" + train_file,
                              "--train.sft_steps=3", "--train.dpo_steps=3", "--train.dpo_batch=4"});
    long2short::run_train_mode(cfg, MPI_COMM_NULL);
    const std::string ckpt = dir + "/run/ckpt/it_000000.h5";
    ASSERT_TRUE(io::file_exists(ckpt)) << mode;
    model::Model m(model::read_checkpoint_config(ckpt));
    model::load_checkpoint(ckpt, m, nullptr);
    auto metrics = io::read_table(dir + "/run/metrics.h5", "train");
    EXPECT_EQ(metrics.at("loss").size(), 3u) << mode;
    if (mode == "dpo") {
      EXPECT_GT(long2short::load_dpo_pairs(dir + "/run/dpo_pairs.h5").size(), 0u);
    } else {
      auto srs = load_tasks(dir + "/run/shortest_rejection.jsonl");
      ASSERT_GT(srs.size(), 0u);
      for (const auto& t : srs) EXPECT_GE(check_numeric(t, t.solution).score, 1.0) << t.solution;
    }
    // A second start in the same run directory is refused (it starts a run).
    EXPECT_THROW(long2short::run_train_mode(cfg, MPI_COMM_NULL), ConfigError);
  }
  Config no_init = make_config({"--train.mode=dpo", "--run.dir=" + tmp_dir("noinit")});
  EXPECT_THROW(long2short::run_train_mode(no_init, MPI_COMM_NULL), ConfigError);
}
