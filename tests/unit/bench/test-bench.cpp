// The benchmark driver (tools/bench/common/bench.h): the JSON line keeps keys in order with the
// given precision; a reference's "rusage" reads back; a Meter sees the page faults and CPU time
// of what ran inside it; options parse with the common ones, refuse unknown ones, and keep
// config overrides when asked.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>

#include "tools/bench/common/bench.h"

namespace k1rl::test {
namespace {

TEST(BenchJson, KeysInOrderWithTheirPrecision) {
  bench::JsonLine j;
  j.num("ratio", 1.23456, 3).integer("n", 42).str("kv", "bf24").boolean("ok", false);
  j.raw("obj", "{\"a\": 1}");
  EXPECT_EQ(j.text(),
            "{\"ratio\": 1.235, \"n\": 42, \"kv\": \"bf24\", \"ok\": false, \"obj\": {\"a\": 1}}");
  EXPECT_EQ(bench::ratio(3, 2), 1.5);
  EXPECT_EQ(bench::ratio(3, 0), 0.0);
}

TEST(BenchJson, ReferencePhaseReadsBack) {
  const std::string line =
      "{\"kind\": \"gen\", \"tokens_per_s\": 812.5, \"rusage\": {\"wall_s\": 2.5, \"user_s\": "
      "4.25, "
      "\"sys_s\": 0.5, \"minflt\": 123456, \"majflt\": 7}}";
  EXPECT_EQ(bench::json_number(line, "tokens_per_s"), 812.5);
  EXPECT_EQ(bench::json_number(line, "absent", -1), -1);
  const bench::Phase p = bench::phase_from_json("torch gen", line);
  EXPECT_EQ(p.name, "torch gen");
  EXPECT_EQ(p.wall_s, 2.5);
  EXPECT_EQ(p.usage.user_s, 4.25);
  EXPECT_EQ(p.usage.sys_s, 0.5);
  EXPECT_EQ(p.usage.minflt, 123456);
  EXPECT_EQ(p.usage.majflt, 7);
  EXPECT_EQ(bench::phase_from_json("x", "{\"tokens_per_s\": 1}").usage.minflt, 0);
}

// Touching 32 MiB of fresh anonymous memory takes at least one fault per 2 MiB (huge pages) and
// normally one per 4 KiB page; a Meter around it must see them, and none around nothing.
TEST(BenchMeter, SeesThePageFaultsOfFreshMemory) {
  const size_t bytes = size_t(32) << 20;
  bench::Meter m;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  std::memset(p, 1, bytes);
  const bench::Phase ph = m.stop("touch");
  munmap(p, bytes);
  EXPECT_GE(ph.usage.minflt, 16);
  EXPECT_GT(ph.usage.user_s + ph.usage.sys_s, 0.0);
  EXPECT_GE(ph.wall_s, 0.0);
  bench::Meter idle;
  EXPECT_LT(idle.stop("nothing").usage.minflt, 16);
}

TEST(BenchDriver, ParsesCommonAndOwnOptionsAndRefusesUnknownOnes) {
  {
    bench::Driver d("unit", "test");
    int reps = 3;
    d.options().add_options()("reps", bench::po::value(&reps)->default_value(3), "reps");
    const char* argv[] = {"bench", "--threads", "0", "--quick", "--reps", "5"};
    ASSERT_TRUE(d.parse(6, const_cast<char**>(argv)));
    EXPECT_TRUE(d.quick());
    EXPECT_EQ(reps, 5);
    EXPECT_TRUE(d.given("reps"));
    EXPECT_FALSE(d.given("nothing"));
  }
  {
    bench::Driver d("unit", "test");
    const char* argv[] = {"bench", "--threads", "0", "--bogus"};
    EXPECT_FALSE(d.parse(4, const_cast<char**>(argv)));
    EXPECT_EQ(d.exit_code(), 64);
  }
  {
    bench::Driver d("unit", "test");  // no prefix guessing: --t is not --threads
    const char* argv[] = {"bench", "--threads", "0", "--t", "3"};
    EXPECT_FALSE(d.parse(5, const_cast<char**>(argv)));
  }
  {
    bench::Driver d("unit", "test");
    const char* argv[] = {"bench", "--threads", "0", "--train.lr=3e-4", "--quick"};
    ASSERT_TRUE(d.parse(5, const_cast<char**>(argv), true));
    ASSERT_EQ(d.unknown().size(), 1u);
    EXPECT_EQ(d.unknown()[0], "--train.lr=3e-4");
    EXPECT_TRUE(d.quick());
  }
}

}  // namespace
}  // namespace k1rl::test
