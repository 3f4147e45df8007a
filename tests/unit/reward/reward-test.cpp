// lib/reward: the length and repetition penalties against hand-computed values, the Scorer
// (request order, groups, warm-up, unknown tasks, code in the sandbox, partial credit, a slow
// program that must not stall other answers), the wire format, and offline scoring incl. the app.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "lib/reward/reward.h"

namespace {
using namespace k1rl;

Task numeric(const std::string& id, const std::string& answer) {
  Task t;
  t.id = id;
  t.task = "addition";
  t.prompt = id;
  t.answer = answer;
  return t;
}

Answer ans(const std::string& id, const std::string& text, int64_t len = 0,
           const std::string& group = "") {
  Answer a;
  a.task_id = id;
  a.text = text;
  a.length = len;
  a.group = group;
  return a;
}

RewardOptions quiet_options(int workers = 2) {
  RewardOptions o;
  o.workers = workers;
  o.sandbox.limits.wall_s = 4.0;
  return o;
}

TEST(LengthPenalty, MatchesTheK15FormulaByHand) {
  // min 10, max 30: λ = 0.5, 0, -0.5
  auto r = length_rewards({10, 20, 30}, {true, false, true});
  EXPECT_DOUBLE_EQ(r[0], 0.5);
  EXPECT_DOUBLE_EQ(r[1], 0.0);   // wrong: min(0, 0)
  EXPECT_DOUBLE_EQ(r[2], -0.5);  // correct but the longest
  r = length_rewards({5, 15}, {false, false});
  EXPECT_DOUBLE_EQ(r[0], 0.0);  // wrong answers never gain
  EXPECT_DOUBLE_EQ(r[1], -0.5);
  r = length_rewards({12, 12, 12}, {true, false, true});
  for (double v : r) EXPECT_EQ(v, 0.0);  // all equal: λ = 0
  r = length_rewards({4, 8, 6, 4}, {true, true, true, false});
  EXPECT_DOUBLE_EQ(r[0], 0.5);
  EXPECT_DOUBLE_EQ(r[1], -0.5);
  EXPECT_DOUBLE_EQ(r[2], 0.0);
  EXPECT_DOUBLE_EQ(r[3], 0.0);  // min(0, 0.5)
  EXPECT_TRUE(length_rewards({}, {}).empty());
}

TEST(RepetitionPenalty, CountsRepeatedWordNgrams) {
  // 16 words, 13 4-grams, 4 distinct: 9/13 repeated; past the 0.5 threshold linearly to -1.
  std::string loop = "a b c d a b c d a b c d a b c d";
  EXPECT_NEAR(repetition_penalty(loop, 4, 0.5, false), -(9.0 / 13.0 - 0.5) / 0.5, 1e-12);
  EXPECT_NEAR(repetition_penalty(loop, 4, 0.0, false), -9.0 / 13.0, 1e-12);
  EXPECT_EQ(repetition_penalty("the quick brown fox jumps over the lazy dog", 4, 0.0, false), 0.0);
  EXPECT_EQ(repetition_penalty("19", 4, 0.0, false), 0.0);  // too short to judge
  EXPECT_EQ(repetition_penalty("19", 4, 0.5, true), -1.0);  // rollout saw a loop
}

TEST(Scorer, OrderGroupsWarmupAndReasons) {
  std::vector<Task> tasks = {numeric("p1", "19"), numeric("p2", "1/2")};
  Task cd;
  cd.id = "cd";
  cd.task = "countdown";
  cd.numbers = {3, 5, 7};
  cd.target = 22;
  tasks.push_back(cd);
  RewardOptions opt = quiet_options();
  opt.length_penalty_warmup = 10;
  opt.length_penalty_weight = 0.5;
  opt.repetition_penalty_weight = 0.25;
  Scorer s(opt, tasks);
  std::vector<Answer> batch = {
      ans("p1", "19", 2),                                // group p1: lengths 2, 10, 6
      ans("p2", "Answer: 3/6", 5),                       // group p2 alone: λ = 0
      ans("p1", "Answer: 18", 10), ans("nope", "1", 1),  // unknown task
      ans("p1", "Answer: 19", 6),  ans("cd", "Answer: 7+3*5", 3, "g"),  // explicit group
  };
  batch[2].repeated = true;
  auto early = s.score_batch(batch, 0);  // during warm-up: length recorded, not added
  ASSERT_EQ(early.size(), 6u);
  EXPECT_EQ(early[0].reason, "correct");
  EXPECT_EQ(early[1].reason, "correct");
  EXPECT_EQ(early[2].reason, "wrong");
  EXPECT_EQ(early[3].reason, "unknown_task");
  EXPECT_EQ(early[4].reason, "correct");
  EXPECT_EQ(early[5].reason, "correct");
  EXPECT_DOUBLE_EQ(early[0].length, 0.5);   // shortest of p1
  EXPECT_DOUBLE_EQ(early[2].length, -0.5);  // longest, wrong
  EXPECT_DOUBLE_EQ(early[4].length, 0.0);   // middle
  EXPECT_DOUBLE_EQ(early[1].length, 0.0);
  EXPECT_DOUBLE_EQ(early[2].repetition, -1.0);
  EXPECT_DOUBLE_EQ(early[0].total, 1.0);
  EXPECT_DOUBLE_EQ(early[2].total, 0.0 + 0.25 * -1.0);
  auto later = s.score_batch(batch, 20);
  EXPECT_DOUBLE_EQ(later[0].total, 1.0 + 0.5 * 0.5);
  EXPECT_DOUBLE_EQ(later[2].total, 0.5 * -0.5 + 0.25 * -1.0);
  EXPECT_DOUBLE_EQ(later[4].total, 1.0);
  EXPECT_EQ(later[3].total, 0.0);
  // An inline task needs no table entry.
  Answer in = ans("", "Answer: 5");
  in.task = std::make_shared<Task>(numeric("inline", "5"));
  EXPECT_EQ(s.score_batch({in}, 20)[0].reason, "correct");
  EXPECT_TRUE(s.score_batch({}, 0).empty());
}

std::string fenced(const std::string& code) {
  return "```python\n" + code + "```";
}

TEST(Scorer, EveryGeneratedCodeTaskPassesItsTestsInTheSandbox) {
  TaskSetSpec spec;
  spec.kind = "code";
  spec.min_difficulty = 1;
  spec.max_difficulty = 10;
  spec.train_count = 40;
  spec.heldout_count = 0;
  spec.seed = 4;
  TaskSet set = generate_tasks(spec);
  std::set<int> diffs;
  std::vector<Answer> good, bad;
  for (const auto& t : set.train) {
    diffs.insert(t.difficulty);
    good.push_back(ans(t.id, "Here it is.\n" + fenced(t.answer)));
    bad.push_back(ans(t.id, fenced("print(0)\n")));
  }
  EXPECT_EQ(diffs.size(), 10u);
  Scorer s(quiet_options(), set.train);
  auto g = s.score_batch(good, 0);
  for (size_t i = 0; i < g.size(); ++i)
    EXPECT_EQ(g[i].reason, "correct") << set.train[i].prompt << "\n" << set.train[i].answer;
  int zero = 0;
  for (const auto& r : s.score_batch(bad, 0)) zero += r.correct == 0.0;
  EXPECT_GE(zero, 36);  // "print(0)" is right by chance only where every expected output is 0
  EXPECT_GT(s.sandbox_runs(), 160);
}

TEST(Scorer, CodePartialCreditAndReasons) {
  Task t;
  t.id = "echo";
  t.task = "code";
  t.tests = {{"1\n", "1\n"}, {"2\n", "2\n"}, {"3\n", "4\n"}};
  RewardOptions opt = quiet_options();
  {
    Scorer s(opt, {t});
    auto r = s.score_batch(
        {ans("echo", fenced("print(input())\n")), ans("echo", fenced("raise SystemExit(2)\n")),
         ans("echo", "no code here at all"), ans("echo", "")},
        0);
    EXPECT_EQ(r[0].correct, 0.0);
    EXPECT_EQ(r[0].reason, "wrong_output");
    EXPECT_EQ(r[1].reason, "exit_nonzero");
    EXPECT_EQ(r[2].reason, "exit_nonzero");  // not Python: a syntax error
    EXPECT_EQ(r[3].reason, "no_answer");
  }
  opt.code_partial = true;
  Scorer s(opt, {t});
  auto r = s.score_batch({ans("echo", fenced("print(input())\n"))}, 0);
  EXPECT_NEAR(r[0].correct, 2.0 / 3.0, 1e-12);
}

TEST(Scorer, ASlowProgramNeverStallsOtherAnswers) {
  Task slow;
  slow.id = "slow";
  slow.task = "code";
  slow.tests = {{"", "done\n"}};
  std::vector<Task> tasks = {slow, numeric("n", "4")};
  Scorer s(quiet_options(2), tasks);
  uint64_t a = s.submit({ans("slow", fenced("import time\ntime.sleep(2.5)\nprint('done')\n"))}, 0);
  uint64_t b = s.submit({ans("n", "Answer: 4"), ans("n", "5")}, 0);
  auto rb = s.wait(b);  // numbers are checked at once, whatever the pool is doing
  EXPECT_EQ(rb[0].reason, "correct");
  EXPECT_EQ(rb[1].reason, "wrong");
  uint64_t c = s.submit({ans("slow", fenced("print('done')\n"))}, 0);
  auto rc = s.wait(c);  // a fast program on the second worker
  EXPECT_EQ(rc[0].reason, "correct");
  EXPECT_FALSE(s.poll().has_value()) << "the slow batch finished before the fast ones";
  auto ra = s.wait(a);
  EXPECT_EQ(ra[0].reason, "correct");
}

TEST(Wire, RequestAndResultRoundTrip) {
  std::vector<Answer> as = {ans("t1", "Answer: 1\n\"quoted\"\t\\ \xff\xfe raw bytes", 7, "g"),
                            ans("t2", "", 0)};
  as[1].repeated = true;
  as[1].task = std::make_shared<Task>(numeric("t2", "3"));
  std::string msg = encode_request(42, 17, as);
  uint64_t seq = 0;
  int64_t it = 0;
  std::vector<Answer> back;
  decode_request(msg, &seq, &it, &back);
  EXPECT_EQ(seq, 42u);
  EXPECT_EQ(it, 17);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].text, as[0].text);
  EXPECT_EQ(back[0].length, 7);
  EXPECT_EQ(back[0].group, "g");
  EXPECT_TRUE(back[1].repeated);
  ASSERT_TRUE(back[1].task);
  EXPECT_EQ(back[1].task->answer, "3");
  Score sc;
  sc.total = 0.1 + 0.2;
  sc.correct = 1;
  sc.length = -0.25;
  sc.repetition = -1.0 / 3.0;
  sc.reason = "correct";
  sc.extracted = "x\ny";
  std::vector<Score> out;
  decode_result(encode_result(9, {sc, Score{}}), &seq, &out);
  EXPECT_EQ(seq, 9u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].total, sc.total);  // bit-exact through %.17g
  EXPECT_EQ(out[0].repetition, sc.repetition);
  EXPECT_EQ(out[0].extracted, "x\ny");
  EXPECT_THROW(decode_result("{\"k1rl\":\"reward/9\",\"seq\":1,\"n\":0}\n", &seq, &out),
               InputError);
  EXPECT_THROW(decode_result("{\"k1rl\":\"reward/1\",\"seq\":1,\"n\":3}\n", &seq, &out),
               InputError);
}

TEST(Offline, ScoreFileAndTheApp) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("k1rl-reward-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  save_tasks(dir + "/tasks.jsonl", {numeric("a", "19"), numeric("b", "-2/3")});
  {
    std::ofstream f(dir + "/answers.jsonl");
    f << "{\"id\":\"a\",\"text\":\"19\",\"len\":2}\n"
         "{\"id\":\"b\",\"response\":\"x = -4/6\",\"len\":4}\n"
         "{\"id\":\"b\",\"text\":\"Answer: 2/3\",\"len\":9}\n"
         "\n"
         "{\"task\":{\"id\":\"z\",\"task\":\"countdown\",\"numbers\":[2,3],\"target\":6},\"text\":"
         "\"Answer: 2*3\"}\n";
  }
  Scorer s(quiet_options(1), load_tasks(dir + "/tasks.jsonl"));
  EXPECT_EQ(score_file(s, dir + "/answers.jsonl", dir + "/scores.jsonl", -1), 4);
  std::vector<Json> rows = read_jsonl(dir + "/scores.jsonl");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["id"].as_string(), "a");
  EXPECT_EQ(rows[1]["reason"].as_string(), "correct");  // a bare "x = -4/6" is its own answer
  EXPECT_EQ(rows[2]["reason"].as_string(), "wrong");
  EXPECT_EQ(rows[3]["id"].as_string(), "z");
  EXPECT_EQ(rows[3]["reason"].as_string(), "correct");

  // The executable: same scores; a missing file is one error line and exit code 2.
  std::string app = K1RL_REWARD_BIN;
  std::string cmd = app + " --score " + dir + "/answers.jsonl --tasks " + dir +
                    "/tasks.jsonl --out " + dir + "/app.jsonl --reward.workers=1 > " + dir +
                    "/log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::vector<Json> app_rows = read_jsonl(dir + "/app.jsonl");
  ASSERT_EQ(app_rows.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(app_rows[i].dump(), rows[i].dump());
  cmd = app + " --score " + dir + "/missing.jsonl --tasks " + dir + "/tasks.jsonl > " + dir +
        "/err 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  std::ifstream e(dir + "/err");
  int error_lines = 0;
  for (std::string line; std::getline(e, line);)
    if (line.rfind("k1rl-reward: error: ", 0) == 0) {
      ++error_lines;
      EXPECT_NE(line.find("cannot read"), std::string::npos) << line;
    }
  EXPECT_EQ(error_lines, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
