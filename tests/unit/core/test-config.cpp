// Config system: INI + overrides, typos named with file, line and the nearest key; bad values;
// choices; the resolved INI reparses to the same config.
#include <gtest/gtest.h>

#include "lib/core/core.h"

using namespace k1rl;

namespace {
ConfigSpec spec() {
  ConfigSpec s;
  s.add_double("train.lr", 3e-4, "learning rate")
      .add_int("train.steps", 100, "optimizer steps")
      .add_bool("train.reset_optimizer", true, "reset AdamW each iteration")
      .add_choice("train.algorithm", "k15", {"k15", "grpo", "ppo_clip", "reinforce"}, "loss")
      .add_double("optim.lr", 1e-3, "another lr")
      .add_string("run.dir", "run", "run directory")
      .add_int("model.dim", 64, "width");
  return s;
}

std::string error_of(const std::string& ini, std::vector<std::string> ov = {}) {
  try {
    Config::parse(spec(), ini, "tiny.ini", ov);
  } catch (const ConfigError& e) {
    return e.line();
  }
  return "";
}
}  // namespace

TEST(Config, DefaultsFileAndOverridesInOrder) {
  Config c = Config::parse(spec(), "[train]\nlr = 0.01  # fast\nsteps=7\n\n[run]\ndir = /tmp/x\n",
                           "f.ini", {"--train.steps=9", "model.dim=128"});
  EXPECT_DOUBLE_EQ(c.get_double("train.lr"), 0.01);
  EXPECT_EQ(c.get_int("train.steps"), 9);
  EXPECT_EQ(c.get_int("model.dim"), 128);
  EXPECT_EQ(c.get_string("run.dir"), "/tmp/x");
  EXPECT_TRUE(c.get_bool("train.reset_optimizer"));
  EXPECT_EQ(c.source("train.lr"), "f.ini:2");
  EXPECT_EQ(c.source("train.steps"), "command line");
  EXPECT_EQ(c.source("optim.lr"), "default");
}

TEST(Config, TypoNamesFileLineAndNearestKey) {
  std::string e = error_of("[train]\nlr = 0.1\nsteeps = 5\n");
  EXPECT_NE(e.find("train.steeps"), std::string::npos) << e;
  EXPECT_NE(e.find("tiny.ini:3"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'train.steps'"), std::string::npos) << e;
}

TEST(Config, KeyInWrongSectionSuggestsTheSameNameElsewhere) {
  std::string e = error_of("[model]\nalgorithm = grpo\n");
  EXPECT_NE(e.find("'train.algorithm'"), std::string::npos) << e;
  EXPECT_NE(e.find("tiny.ini:2"), std::string::npos) << e;
}

TEST(Config, BadValueNamesLineAndType) {
  std::string e = error_of("[run]\ndir = a\n[train]\n\nsteps = lots\n");
  EXPECT_NE(e.find("train.steps"), std::string::npos) << e;
  EXPECT_NE(e.find("tiny.ini:5"), std::string::npos) << e;
  EXPECT_NE(e.find("integer"), std::string::npos) << e;
  EXPECT_NE(error_of("[train]\nreset_optimizer = maybe\n").find("tiny.ini:2"), std::string::npos);
}

TEST(Config, ChoicesAreChecked) {
  std::string e = error_of("[train]\nalgorithm = ppo\n");
  EXPECT_NE(e.find("k15|grpo|ppo_clip|reinforce"), std::string::npos) << e;
  EXPECT_NE(e.find("tiny.ini:2"), std::string::npos) << e;
  EXPECT_NE(error_of("", {"--train.algorithm=dpo"}).find("command line"), std::string::npos);
}

TEST(Config, UnknownOverrideSuggests) {
  std::string e = error_of("", {"--train.lrr=3"});
  EXPECT_NE(e.find("did you mean '--train.lr'"), std::string::npos) << e;
  EXPECT_NE(error_of("", {"--train.lr"}).find("no value"), std::string::npos);
}

TEST(Config, SyntaxErrorsNameTheLine) {
  EXPECT_NE(error_of("[train\nlr=1\n").find("tiny.ini:1"), std::string::npos);
  EXPECT_NE(error_of("[train]\nlr 1\n").find("tiny.ini:2"), std::string::npos);
}

TEST(Config, ResolvedIniReparsesToTheSameValues) {
  Config a = Config::parse(spec(), "[train]\nlr=0.1\nalgorithm=grpo\n", "a", {"--run.dir=/x y"});
  Config b = Config::parse(spec(), a.to_ini(), "b", {});
  ConfigSpec s = spec();
  for (const auto& o : s.options())
    EXPECT_EQ(config_value_text(a.get(o.key)), config_value_text(b.get(o.key))) << o.key;
  EXPECT_EQ(a.section("train").at("algorithm"), "grpo");
  EXPECT_EQ(a.section("train").size(), 4u);
}

TEST(Config, MissingFileIsAClearError) {
  try {
    Config::load(spec(), "/nonexistent/x.ini", {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(e.line().find("/nonexistent/x.ini"), std::string::npos);
  }
}

TEST(Config, DuplicateDeclarationIsRefused) {
  ConfigSpec s = spec();
  EXPECT_THROW(s.add_int("train.steps", 1, "again"), ConfigError);
}

TEST(Config, IntMinimumNamesWhereTheValueCameFrom) {
  Config c = Config::parse(spec(), "[train]\nsteps = 0\n", "tiny.ini", {});
  EXPECT_EQ(c.get_int_min("model.dim", 1), 64);
  try {
    c.get_int_min("train.steps", 1);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(e.line().find("bad value 0 for train.steps (tiny.ini:2)"), std::string::npos)
        << e.line();
    EXPECT_NE(e.line().find("at least 1"), std::string::npos);
  }
}
