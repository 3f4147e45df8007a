// The app scaffold as users meet it: exit codes, one-line errors naming file, line and the
// nearest key, --print-config that reads back, --help listing every option.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

#include "lib/core/core.h"

namespace {
struct Result {
  int code;
  std::string out, err;
};

Result run_app(const std::string& args) {
  std::string err_file = "/tmp/k1rl-apptest-err-" + std::to_string(getpid());
  std::string cmd = std::string(K1RL_APPTEST) + " " + args + " 2>" + err_file;
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  std::ifstream e(err_file);
  std::string err((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
  std::remove(err_file.c_str());
  return {WEXITSTATUS(status), out, err};
}

std::string write_ini(const std::string& text) {
  std::string path = "/tmp/k1rl-apptest-" + std::to_string(getpid()) + ".ini";
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST(App, RunsWithConfigAndOverride) {
  std::string ini = write_ini("[run]\nseed = 7\n");
  EXPECT_EQ(run_app("--config " + ini).out, "seed=7\n");
  Result r = run_app("--config " + ini + " --run.seed=9");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "seed=9\n");
  EXPECT_EQ(run_app("--run.seed 11").out, "seed=11\n");
}

TEST(App, ConfigTypoIsOneLineWithLineAndSuggestion) {
  std::string ini = write_ini("[run]\nseed = 7\nsed = 8\n");
  Result r = run_app("--config " + ini);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "k1rl-apptest: error: unknown key 'run.sed' at " + ini +
                       ":3: no such option; did you mean 'run.seed'?\n");
}

TEST(App, ErrorsMapToExitCodes) {
  Result in = run_app("--fail input");
  EXPECT_EQ(in.code, 2);
  EXPECT_EQ(in.err, "k1rl-apptest: error: bad prompt 3: unknown character; fix the task file\n");
  Result bug = run_app("--fail internal");
  EXPECT_EQ(bug.code, 1);
  EXPECT_NE(bug.err.find("internal error: boom"), std::string::npos);
  EXPECT_EQ(run_app("--bogus").code, 64);
  EXPECT_EQ(run_app("--run.seed=abc").code, 2);
  EXPECT_EQ(run_app("--config /nonexistent.ini").code, 2);
}

TEST(App, PrintConfigReadsBackAndHelpListsOptions) {
  Result p = run_app("--run.seed=5 --print-config");
  EXPECT_EQ(p.code, 0);
  EXPECT_NE(p.out.find("[run]"), std::string::npos);
  std::string ini = write_ini(p.out);
  EXPECT_EQ(run_app("--config " + ini).out, "seed=5\n");
  Result h = run_app("--help");
  EXPECT_EQ(h.code, 0);
  EXPECT_NE(h.out.find("--run.seed (default 1234)"), std::string::npos);
  EXPECT_NE(h.out.find("--print-config"), std::string::npos);
  EXPECT_NE(h.out.find("rl: constant learning rate (>= 0)"), std::string::npos);  // the range
}

TEST(App, OutOfRangeValueAndInconsistentSectionAreOneLineExitTwo) {
  Result r = run_app("--train.rl_lr=nan");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err,
            "k1rl-apptest: error: bad value 'nan' for train.rl_lr (command line): it must be a "
            "finite number >= 0; help: rl: constant learning rate\n");
  // Each key is fine alone; together they are not (checked before the app's body runs).
  Result m = run_app("--model.dim=96 --model.heads=5");
  EXPECT_EQ(m.code, 2);
  EXPECT_NE(m.err.find("model.heads"), std::string::npos) << m.err;
  EXPECT_EQ(m.out, "");
}

TEST(App, DpoAndEngineOptionsAreRefusedInOneLineNamingTheKey) {
  Result b = run_app("--train.dpo_beta=-1");
  EXPECT_EQ(b.code, 2);
  EXPECT_EQ(b.err.rfind("k1rl-apptest: error: bad value '-1' for train.dpo_beta (command line): "
                        "it must be > 0; help: dpo: ",
                        0),
            0u)
      << b.err;
  EXPECT_EQ(b.out, "");
  Result p = run_app("--engine.precision=fp16");
  EXPECT_EQ(p.code, 2);
  EXPECT_EQ(p.err.rfind("k1rl-apptest: error: bad value 'fp16' for engine.precision (command "
                        "line): it must be one of fp32|bf16|auto; help: ",
                        0),
            0u)
      << p.err;
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1);
  Result h = run_app("--help");
  EXPECT_NE(h.out.find("dpo: pairs per step (all ranks together) (>= 1)"), std::string::npos);
  EXPECT_NE(h.out.find("sampling temperature of those answers (> 0)"), std::string::npos);
}
