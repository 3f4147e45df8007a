// An unknown task kind is an error when the task file is read (and a bad_task score, never the
// numeric checker, should one reach the checker); reward task files that match none of a batch's
// task ids are an error, not a batch of `unknown_task` zeros.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lib/reward/reward.h"

using namespace k1rl;

TEST(TaskKinds, AnUnknownKindIsRefusedAtLoad) {
  const std::string f = "/tmp/k1rl-kinds-" + std::to_string(getpid()) + ".jsonl";
  std::ofstream(f) << R"({"id":"a","task":"addition","prompt":"1+1=","answer":"2"})"
                   << "\n"
                   << R"({"id":"b","task":"additon","prompt":"1+2=","answer":"3"})"
                   << "\n";
  try {
    load_tasks(f);
    FAIL() << "a typo'd task kind was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(e.line().find("task 2"), std::string::npos) << e.line();
    EXPECT_NE(e.line().find("unknown task kind 'additon'"), std::string::npos) << e.line();
  }
  std::filesystem::remove(f);
}

TEST(TaskKinds, AnUnknownKindNeverReachesTheNumericChecker) {
  Task t;
  t.id = "x";
  t.task = "poetry";
  t.answer = "2";
  const CheckResult r = check_answer(t, "Answer: 2", nullptr, 0, RewardOptions{});
  EXPECT_EQ(r.score, 0.0);
  EXPECT_EQ(r.reason, "bad_task");
  EXPECT_NE(r.extracted.find("unknown task kind 'poetry'"), std::string::npos) << r.extracted;
}

TEST(RewardTasks, NoAnswerMatchingAnyLoadedTaskIsAnError) {
  Task t;
  t.id = "train-1";
  t.task = "addition";
  t.answer = "2";
  RewardOptions opt;
  opt.workers = 1;
  Scorer s(opt, {t});
  Answer a;
  a.task_id = "heldout-7";
  a.text = "Answer: 2";
  a.length = 3;
  try {
    s.score_batch({a, a}, 0);
    FAIL() << "a batch of unknown task ids was scored";
  } catch (const InputError& e) {
    EXPECT_NE(e.line().find("'heldout-7'"), std::string::npos) << e.line();
    EXPECT_NE(e.line().find("reward.tasks"), std::string::npos) << e.line();
  }
  Answer ok = a;
  ok.task_id = "train-1";
  const std::vector<Score> mixed = s.score_batch({a, ok}, 0);  // one known: the other is counted
  EXPECT_EQ(mixed[0].reason, "unknown_task");
  EXPECT_EQ(mixed[1].reason, "correct");
}
