// Option declarations with checks (Check) and options bound to struct members (OptionTable):
// bad values are one-line ConfigErrors naming the key; the struct's defaults are the declared
// defaults; every key reaches its own member and survives --print-config.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/core/core.h"

using namespace k1rl;

namespace {
enum class Mode { fast, slow };
struct Inner {
  int64_t bytes = 3 << 20;
};
struct Opts {
  int64_t steps = 10;
  int small = 4;  // narrower than int64_t: its own range is checked
  uint64_t seed = 7;
  double lr = 0.5;
  bool on = true;
  std::string name = "x";
  std::string schedule = "cosine";
  Mode mode = Mode::slow;
  std::vector<std::string> paths = {"/a", "/b"};
  Inner inner;
};

const OptionTable<Opts>& table() {
  static const auto t =
      OptionTable<Opts>()
          .add("t.steps", &Opts::steps, "steps", Check().ge(1))
          .add("t.small", &Opts::small, "small", Check().ge(0))
          .add("t.seed", &Opts::seed, "seed")
          .add("t.lr", &Opts::lr, "rate", Check().gt(0).lt(1))
          .add("t.on", &Opts::on, "switch")
          .add("t.name", &Opts::name, "name")
          .choice("t.schedule", &Opts::schedule, {"cosine", "constant"}, "schedule")
          .choice("t.mode", &Opts::mode, {{"fast", Mode::fast}, {"slow", Mode::slow}}, "mode")
          .add("t.paths", &Opts::paths, "paths")
          .scaled(
              "t.mb", [](Opts & o) -> auto& { return o.inner.bytes; }, 1 << 20, "MiB",
              Check().ge(1));
  return t;
}

ConfigSpec spec() {
  ConfigSpec s;
  table().declare(s);
  s.add_double("u.eps", 1e-8, "epsilon", Check().gt(0));
  s.add_int("u.budget", -1, "budget",
            Check().ge(-1).rule([](const ConfigValue& v) { return std::get<int64_t>(v) != 0; },
                                "positive or -1"));
  return s;
}

std::string error_of(const std::string& ini, std::vector<std::string> ov = {}) {
  try {
    Config::parse(spec(), ini, "f.ini", ov);
  } catch (const ConfigError& e) {
    return e.line();
  }
  return "";
}
}  // namespace

TEST(Check, BoundsReadAsTextAndRefuseOutside) {
  EXPECT_EQ(Check().ge(0).lt(1).text(), "in [0, 1)");
  EXPECT_EQ(Check().gt(0).text(), "> 0");
  EXPECT_EQ(Check().le(8191).text(), "<= 8191");
  EXPECT_EQ(Check().ge(0).ge(2).ge(1).text(), ">= 2");  // bounds only tighten
  EXPECT_EQ(Check().text(), "");
  Check c = Check().ge(0).lt(1);
  EXPECT_EQ(c.problem(0.0), "");
  EXPECT_EQ(c.problem(0.999), "");
  EXPECT_EQ(c.problem(1.0), "it must be in [0, 1)");
  EXPECT_EQ(c.problem(-1e-300), "it must be in [0, 1)");
  EXPECT_EQ(c.problem(int64_t{-1}), "it must be in [0, 1)");
  EXPECT_EQ(Check().problem(std::nan("")), "it must be a finite number");
  EXPECT_EQ(Check().ge(0).problem(HUGE_VAL), "it must be a finite number >= 0");
  EXPECT_EQ(Check().problem(int64_t{-5}), "");  // no bounds: any integer
}

TEST(Check, ConfigRefusesOutOfRangeFromFileAndCommandLine) {
  std::string e = error_of("[t]\nname = a\n\nsteps = 0\n");
  EXPECT_NE(e.find("t.steps"), std::string::npos) << e;
  EXPECT_NE(e.find("f.ini:4"), std::string::npos) << e;
  EXPECT_NE(e.find("it must be >= 1"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  e = error_of("", {"--t.lr=nan"});
  EXPECT_NE(e.find("bad value 'nan' for t.lr (command line)"), std::string::npos) << e;
  EXPECT_NE(e.find("finite"), std::string::npos) << e;
  EXPECT_NE(error_of("", {"--t.lr=inf"}).find("t.lr"), std::string::npos);
  EXPECT_NE(error_of("", {"--t.lr=1"}).find("in (0, 1)"), std::string::npos);
  EXPECT_NE(error_of("[u]\neps = -inf\n").find("u.eps"), std::string::npos);
  EXPECT_NE(error_of("", {"--u.budget=0"}).find("positive or -1"), std::string::npos);
  EXPECT_NE(error_of("", {"--u.budget=-2"}).find(">= -1"), std::string::npos);
  EXPECT_EQ(error_of("", {"--u.budget=-1", "--u.budget=5", "--t.lr=0.25"}), "");
  // An integer member narrower than int64_t cannot wrap around.
  e = error_of("", {"--t.small=4294967300"});
  EXPECT_NE(e.find("t.small"), std::string::npos) << e;
  EXPECT_NE(e.find("2147483647"), std::string::npos) << e;
  EXPECT_NE(error_of("", {"--t.seed=-1"}).find("t.seed"), std::string::npos);
  // Config::set checks the same way.
  Config c(spec());
  EXPECT_THROW(c.set("t.steps", "-3"), ConfigError);
  EXPECT_EQ(c.get_int("t.steps"), 10);
}

TEST(Check, DeclarationsWithBadDefaultsAreRefused) {
  ConfigSpec s;
  EXPECT_THROW(s.add_int("a.n", 0, "n", Check().ge(1)), ConfigError);
  EXPECT_THROW(s.add_double("a.x", std::nan(""), "x"), ConfigError);
  EXPECT_THROW(s.add_choice("a.c", "maybe", {"yes", "no"}, "c"), ConfigError);
  struct Bad {
    Mode mode = Mode::fast;
  };
  auto t = OptionTable<Bad>().choice("b.mode", &Bad::mode, {{"slow", Mode::slow}}, "mode");
  EXPECT_THROW(t.declare(s), ConfigError);  // the struct's default has no name
}

TEST(OptionTable, DefaultsAreTheStructsOwn) {
  ConfigSpec s = spec();
  const Opts d;
  EXPECT_EQ(std::get<int64_t>(s.find("t.steps")->def), d.steps);
  EXPECT_EQ(std::get<double>(s.find("t.lr")->def), d.lr);
  EXPECT_EQ(std::get<std::string>(s.find("t.mode")->def), "slow");
  EXPECT_EQ(std::get<std::string>(s.find("t.paths")->def), "/a,/b");
  EXPECT_EQ(std::get<int64_t>(s.find("t.mb")->def), 3);
  EXPECT_EQ(table().read_back(Config(s)), table().defaults());
  Opts r = table().read(Config(s));
  EXPECT_EQ(r.inner.bytes, d.inner.bytes);
  EXPECT_EQ(r.paths, d.paths);
  EXPECT_EQ(r.mode, d.mode);
}

TEST(OptionTable, EveryKeyFillsItsOwnMemberAndReadsBack) {
  const std::map<std::string, std::string> next = {{"t.steps", "11"},
                                                   {"t.small", "5"},
                                                   {"t.seed", "8"},
                                                   {"t.lr", "0.25"},
                                                   {"t.on", "false"},
                                                   {"t.name", "y"},
                                                   {"t.schedule", "constant"},
                                                   {"t.mode", "fast"},
                                                   {"t.paths", "/c, /d ,,/e"},
                                                   {"t.mb", "9"}};
  ASSERT_EQ(next.size(), table().keys().size());
  const auto def = table().defaults();
  std::vector<std::string> all;
  for (const auto& [key, text] : next) {
    Config c = Config::parse(spec(), "", "f.ini", {key + "=" + text});
    auto got = table().read_back(c);
    for (const auto& k : table().keys())
      if (k == key)
        EXPECT_NE(got.at(k), def.at(k)) << k;
      else
        EXPECT_EQ(got.at(k), def.at(k)) << k << " changed with " << key;
    all.push_back(key + "=" + text);
  }
  Config c = Config::parse(spec(), "", "f.ini", all);
  Opts o = table().read(c);
  EXPECT_EQ(o.steps, 11);
  EXPECT_EQ(o.small, 5);
  EXPECT_EQ(o.seed, 8u);
  EXPECT_EQ(o.lr, 0.25);
  EXPECT_FALSE(o.on);
  EXPECT_EQ(o.name, "y");
  EXPECT_EQ(o.schedule, "constant");
  EXPECT_EQ(o.mode, Mode::fast);
  EXPECT_EQ(o.paths, (std::vector<std::string>{"/c", "/d", "/e"}));
  EXPECT_EQ(o.inner.bytes, 9 << 20);
  // --print-config reads back to the same values and the same struct.
  Config back = Config::parse(spec(), c.to_ini(), "printed", {});
  EXPECT_EQ(table().read_back(back), table().read_back(c));
  EXPECT_NE(c.to_ini().find("# rate (in (0, 1))"), std::string::npos) << c.to_ini();
  EXPECT_NE(c.to_ini().find("[cosine|constant]"), std::string::npos);
}

TEST(OptionTable, MapRoundTripAndStructChecks) {
  Opts o;
  o.mode = Mode::fast;
  o.lr = 0.125;
  auto m = table().to_map(o);
  EXPECT_EQ(m.at("mode"), "fast");
  EXPECT_EQ(m.at("mb"), "3");
  Opts b = table().from_map(m, "ck.h5");
  EXPECT_EQ(table().to_map(b), m);
  auto missing = m;
  missing.erase("lr");
  EXPECT_THROW(table().from_map(missing, "ck.h5"), IoError);
  auto wrong = m;
  wrong["mode"] = "medium";
  EXPECT_THROW(table().from_map(wrong, "ck.h5"), IoError);
  wrong = m;
  wrong["steps"] = "ten";
  EXPECT_THROW(table().from_map(wrong, "ck.h5"), IoError);
  table().check(o);
  o.steps = 0;
  try {
    table().check(o);
    ADD_FAILURE() << "steps = 0 passed";
  } catch (const ConfigError& e) {
    EXPECT_NE(e.line().find("t.steps"), std::string::npos) << e.line();
  }
}
