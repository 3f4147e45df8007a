// The checker table: answer formats models really write (1,000  -0  3/6 vs 1/2  \boxed{\frac12}
// trailing text, two answers, none) against the expected score and reason, for numeric tasks,
// countdown and code-output comparison. Expected values are written by hand.
#include <gtest/gtest.h>

#include "lib/tasks/tasks.h"

namespace {
using namespace k1rl;

struct Row {
  const char* answer;  // the task's reference answer
  const char* response;
  double score;
  const char* reason;
};

const Row kNumeric[] = {
    {"19", "19", 1, "correct"},  // a bare number is its own answer (the "12+7=" default task)
    {"19", " 19 \n", 1, "correct"},
    {"19", "Answer: 19", 1, "correct"},
    {"1000", "Answer: 1,000", 1, "correct"},
    {"1000", "Answer: 1000.0", 1, "correct"},
    {"1000", "Answer: 1,00", 0, "unparsable"},
    {"1000", "Answer: 1e3", 1, "correct"},
    {"0", "Answer: -0", 1, "correct"},
    {"0", "Answer: +0", 1, "correct"},
    {"1/2", "Answer: 3/6", 1, "correct"},
    {"1/2", "Answer: 0.5", 1, "correct"},
    {"1/2", "\\boxed{\\frac{1}{2}}", 1, "correct"},
    {"1/2", "so \\boxed{\\dfrac{1}{2}}", 1, "correct"},
    {"-1/2", "Answer: -\\frac{1}{2}", 1, "correct"},
    {"-1/2", "Answer: \\frac{-1}{2}", 1, "correct"},
    {"-1/2", "Answer: \\frac{1}{-2}", 1, "correct"},
    {"1/2", "Answer: 1/3", 0, "wrong"},
    {"42", "Answer: 42.", 1, "correct"},
    {"42", "Answer: 42 apples", 1, "correct"},
    {"42", "Answer: 42\nThat was easy.", 1, "correct"},
    {"42", "Answer: 41\nAnswer: 42", 1, "correct"},  // the last answer counts
    {"42", "Answer: 42\nAnswer: 41", 0, "wrong"},
    {"42", "Answer: 41 or 42", 0, "ambiguous"},
    {"42", "Answer: 42 or 42", 1, "correct"},
    {"42", "I think it is 42", 0, "no_answer"},
    {"42", "", 0, "no_answer"},
    {"42", "Answer:", 0, "no_answer"},
    {"42", "Answer:\n\n42", 1, "correct"},
    {"42", "Answer: $42$", 1, "correct"},
    {"42", "Answer: **42**", 1, "correct"},
    {"42", "**Answer:** 42", 1, "correct"},
    {"42", "answer: 42", 1, "correct"},
    {"42", "The final answer is \\boxed{42}.", 1, "correct"},
    {"42", "\\boxed{41} wait, \\boxed{42}", 1, "correct"},
    {"42", "Answer: \\boxed{42}", 1, "correct"},
    {"42", "\\boxed{42} Answer: 41", 0, "wrong"},
    {"-7",
     "Answer: \xE2\x88\x92"
     "7",
     1, "correct"},  // unicode minus
    {"-7", "Answer: - 7", 1, "correct"},
    {"7", "Answer: x = 7", 1, "correct"},
    {"7/3", "Answer: x = 7/3", 1, "correct"},
    {"7/3", "Answer: 2.333", 0, "wrong"},
    {"7/3", "Answer: 14/6", 1, "correct"},
    {"5", "Answer: 5.000", 1, "correct"},
    {"5", "Answer: 05", 1, "correct"},
    {"123456789012", "Answer: 123,456,789,012", 1, "correct"},
    {"123456789012", "Answer: 123456789013", 0, "wrong"},
    {"1/2", "Answer: 1/0", 0, "unparsable"},
    {"42", "Answer: forty-two", 0, "unparsable"},
    {"42", "Answer: 6*7=42", 1, "correct"},
    {"42", "Answer: 42 (since 6*7=42)", 1, "correct"},
    {"2", "Answer: {2}", 1, "correct"},
    {"2", "Answer: \\(2\\)", 1, "correct"},
    {"-3", "Answer: -3", 1, "correct"},
    {"3", "Answer: -3", 0, "wrong"},
    {"1000000", "Answer: 1{,}000{,}000", 1, "correct"},
    {"1/4", "Answer: 0.25", 1, "correct"},
    {"1/4", "Answer: .25", 1, "correct"},
    {"2", "Answer: 2e0", 1, "correct"},
    {"12", "12 is the answer", 0, "no_answer"},
    {"12", "Answer: 1 2", 0, "ambiguous"},
};

struct CdRow {
  std::vector<int64_t> numbers;
  int64_t target;
  const char* response;
  double score;
  const char* reason;
};

const CdRow kCountdown[] = {
    {{3, 5, 7}, 22, "Answer: 3*5+7", 1, "correct"},
    {{3, 5, 7}, 22, "Answer: 7+5*3", 1, "correct"},
    {{3, 5, 7}, 22, "Answer: (3*5)+7 = 22", 1, "correct"},
    {{3, 5, 7}, 22, "Answer: 22 = 7+3*5", 1, "correct"},
    {{3, 5, 7},
     22,
     "Answer: 3\xC3\x97"
     "5+7",
     1,
     "correct"},  // ×
    {{3, 5, 7}, 22, "Answer: 3*5+7+0", 0, "wrong_numbers"},
    {{3, 5, 7}, 22, "Answer: 3*5*7", 0, "wrong"},
    {{3, 5, 7}, 22, "Answer: 5*5-3", 0, "wrong_numbers"},
    {{3, 5, 7}, 22, "Answer: 3*5", 0, "wrong_numbers"},
    {{3, 5, 7}, 22, "Answer: 3*(5+7)", 0, "wrong"},
    {{3, 5, 7}, 22, "\\boxed{3 \\times 5 + 7}", 1, "correct"},
    {{3, 5, 7}, 22, "3*5+7", 1, "correct"},
    {{3, 5, 7}, 22, "Answer: (3+5", 0, "unparsable"},
    {{3, 5, 7}, 22, "", 0, "no_answer"},
    {{3, 5, 7}, 22, "Answer: 3*5+7.", 1, "correct"},
    {{3, 5, 7}, 22, "Answer: 3 * 5 + 7\nAnswer: 3+5+7", 0, "wrong"},
    {{3, 5, 7}, 22, "Answer: $3 \\cdot 5 + 7$", 1, "correct"},
    {{6, 3, 3}, 2, "Answer: 6/(3-3)", 0, "div_by_zero"},
    {{1, 3, 4, 6}, 24, "Answer: 6/(1-3/4)", 1, "correct"},  // needs exact fractions
    {{10, 5}, 2, "Answer: 10/5", 1, "correct"},
    {{10, 5}, 2, "Answer: 5/10", 0, "wrong"},
    {{4, 4}, 8, "Answer: 4+4", 1, "correct"},
    {{4, 4}, 8, "Answer: 4+4+4-4", 0, "wrong_numbers"},
};

TEST(CheckerTable, Numeric) {
  for (const auto& r : kNumeric) {
    SCOPED_TRACE(std::string("answer '") + r.answer + "' response '" + r.response + "'");
    Task t;
    t.id = "t";
    t.task = "addition";
    t.answer = r.answer;
    CheckResult c = check_numeric(t, r.response);
    EXPECT_EQ(c.score, r.score);
    EXPECT_EQ(c.reason, r.reason);
  }
}

TEST(CheckerTable, Countdown) {
  for (const auto& r : kCountdown) {
    SCOPED_TRACE(std::string("response '") + r.response + "'");
    Task t;
    t.id = "c";
    t.task = "countdown";
    t.numbers = r.numbers;
    t.target = r.target;
    CheckResult c = check_countdown(t, r.response);
    EXPECT_EQ(c.score, r.score);
    EXPECT_EQ(c.reason, r.reason);
  }
}

struct OutRow {
  const char* got;
  const char* expected;
  bool match;
};

const OutRow kOutputs[] = {
    {"3\n", "3", true},
    {"3 \r\n", "3\n", true},
    {"3\n\n\n", "3", true},
    {"03\n", "3\n", false},
    {" 3\n", "3\n", false},
    {"a\nb", "a\nb\n", true},
    {"a\n\nb\n", "a\nb\n", false},
    {"", "\n", true},
    {"x", "", false},
};

TEST(CheckerTable, CodeOutputsAndExtraction) {
  for (const auto& r : kOutputs) {
    SCOPED_TRACE(std::string("got '") + r.got + "' expected '" + r.expected + "'");
    EXPECT_EQ(outputs_match(r.got, r.expected), r.match);
  }
  EXPECT_EQ(extract_code("Here:\n```python\nprint(1)\n```\nDone."), "print(1)\n");
  EXPECT_EQ(extract_code("```python\nprint(1)\n```\nbetter:\n```py\nprint(2)\n```"), "print(2)\n");
  EXPECT_EQ(extract_code("print(3)"), "print(3)");
  EXPECT_EQ(extract_code("```\nprint(4)\n"), "print(4)\n");  // unterminated last fence
}

TEST(CheckerTable, HasAtLeastSixtyCases) {
  size_t n = std::size(kNumeric) + std::size(kCountdown) + std::size(kOutputs) + 4;
  EXPECT_GE(n, 60u);
}

TEST(Rational, ExactArithmeticAndOverflow) {
  auto half = parse_number("1/2"), third = parse_number("1/3");
  ASSERT_TRUE(half && third);
  EXPECT_EQ(rat_add(*half, *third)->str(), "5/6");
  EXPECT_EQ(rat_sub(*third, *half)->str(), "-1/6");
  EXPECT_EQ(rat_div(*half, *third)->str(), "3/2");
  EXPECT_FALSE(rat_div(*half, *parse_number("0")));
  auto big = parse_number("100000000000000000000000000000000000");  // 1e35: fits 128 bits
  ASSERT_TRUE(big);
  EXPECT_FALSE(rat_mul(*big, *big));  // 1e70 does not: no value, not a wrong one
  EXPECT_FALSE(parse_number("1" + std::string(60, '0')));
}

}  // namespace
