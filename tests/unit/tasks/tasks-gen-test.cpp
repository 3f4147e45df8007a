// Task generation: determinism, disjoint train/held-out splits, difficulty ranges, the checkers
// accepting every generated answer and both solution styles, JSON round trips, and an
// independent Python check of every generated file (check-tasks.py: Fraction arithmetic, exec).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "lib/tasks/tasks.h"

namespace {
using namespace k1rl;

std::string dump_all(const std::vector<Task>& ts) {
  std::string s;
  for (const auto& t : ts) s += task_to_json(t).dump() + "\n";
  return s;
}

TaskSetSpec spec_of(const std::string& kind, int lo, int hi, int64_t train, int64_t held,
                    uint64_t seed) {
  TaskSetSpec s;
  s.kind = kind;
  s.min_difficulty = lo;
  s.max_difficulty = hi;
  s.train_count = train;
  s.heldout_count = held;
  s.seed = seed;
  return s;
}

TEST(TaskGen, DeterministicPerSeed) {
  for (const auto& kind : task_kinds()) {
    SCOPED_TRACE(kind);
    TaskSet a = generate_tasks(spec_of(kind, 1, 10, 40, 10, 7));
    TaskSet b = generate_tasks(spec_of(kind, 1, 10, 40, 10, 7));
    TaskSet c = generate_tasks(spec_of(kind, 1, 10, 40, 10, 8));
    EXPECT_EQ(dump_all(a.train) + dump_all(a.heldout), dump_all(b.train) + dump_all(b.heldout));
    EXPECT_NE(dump_all(a.train), dump_all(c.train));
  }
}

TEST(TaskGen, SplitsNeverShareAPromptAndIdsAreUnique) {
  for (const auto& kind : task_kinds()) {
    SCOPED_TRACE(kind);
    TaskSet s = generate_tasks(spec_of(kind, 1, 10, 200, 50, 3));
    ASSERT_EQ(s.train.size(), 200u);
    ASSERT_EQ(s.heldout.size(), 50u);
    std::set<std::string> train_prompts, ids;
    for (const auto& t : s.train) {
      train_prompts.insert(t.prompt);
      ids.insert(t.id);
      EXPECT_GE(t.difficulty, 1);
      EXPECT_LE(t.difficulty, 10);
      EXPECT_EQ(t.task, kind);
    }
    for (const auto& t : s.heldout) {
      EXPECT_EQ(train_prompts.count(t.prompt), 0u) << t.prompt;
      ids.insert(t.id);
    }
    EXPECT_EQ(train_prompts.size(), 200u);  // no duplicate within train either
    EXPECT_EQ(ids.size(), 250u);
  }
}

TEST(TaskGen, DifficultyRangeIsRespected) {
  TaskSet s = generate_tasks(spec_of("multiplication", 4, 6, 100, 0, 1));
  std::set<int> seen;
  for (const auto& t : s.train) seen.insert(t.difficulty);
  EXPECT_EQ(seen, (std::set<int>{4, 5, 6}));
}

TEST(TaskGen, EasyDefaultIsShortAddition) {
  // The RL default (inputs/tasks/add-easy.*): "12+7=" prompts, bare-number solutions.
  TaskSet s = generate_tasks(spec_of("addition", 1, 2, 500, 100, 1));
  for (const auto& t : s.train) {
    EXPECT_LE(t.prompt.size(), 6u) << t.prompt;
    EXPECT_EQ(t.prompt.back(), '=');
    EXPECT_EQ(t.solution, t.answer);
    EXPECT_LE(t.answer.size(), 3u);
  }
}

TEST(TaskGen, TooSmallPromptSpaceIsAnInputError) {
  EXPECT_THROW(generate_tasks(spec_of("addition", 1, 1, 150, 0, 1)), InputError);  // only 100
  EXPECT_THROW(generate_tasks(spec_of("addition", 0, 3, 1, 0, 1)), InputError);
  EXPECT_THROW(generate_tasks(spec_of("poetry", 1, 3, 1, 0, 1)), InputError);
}

TEST(TaskGen, CheckersAcceptAnswersAndBothSolutionStyles) {
  for (const auto& kind : {"addition", "multiplication", "linear", "countdown"}) {
    TaskSet s = generate_tasks(spec_of(kind, 1, 10, 300, 0, 11));
    for (const auto& t : s.train) {
      SCOPED_TRACE(t.prompt);
      auto check = [&](const std::string& text) {
        return t.task == "countdown" ? check_countdown(t, text) : check_numeric(t, text);
      };
      EXPECT_EQ(check("Answer: " + t.answer).score, 1.0);
      EXPECT_EQ(check(t.solution).score, 1.0) << t.solution;
      EXPECT_EQ(check(t.solution_long).score, 1.0) << t.solution_long;
      EXPECT_GT(t.solution_long.size(), t.solution.size());
      if (t.task == "addition") {  // the long one's working alone: shorter, still checked
        EXPECT_EQ(check(t.solution_concise).score, 1.0) << t.solution_concise;
        EXPECT_LT(t.solution_concise.size(), t.solution_long.size());
        EXPECT_GT(t.solution_concise.size(), t.solution.size());
        EXPECT_EQ(t.solution_concise.find("Check"), std::string::npos);
      }
      if (t.task != "countdown") {
        Rational one = *Rational::make(1, 1);
        EXPECT_EQ(check("Answer: " + rat_add(*parse_number(t.answer), one)->str()).score, 0.0);
      } else {
        EXPECT_EQ(check("Answer: " + t.answer + "+1").score, 0.0);
      }
    }
  }
}

TEST(TaskGen, JsonRoundTripAndFiles) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("k1rl-tasks-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  for (const auto& kind : task_kinds()) {
    TaskSet s = generate_tasks(spec_of(kind, 1, 10, 20, 5, 2));
    std::string path = dir + "/" + kind + ".jsonl";
    save_tasks(path, s.train);
    std::vector<Task> back = load_tasks(path);
    EXPECT_EQ(dump_all(back), dump_all(s.train));
  }
  // A broken line is an error naming the file and line.
  std::string bad = dir + "/bad.jsonl";
  write_jsonl(bad, {Json::parse("{\"id\":\"a\",\"task\":\"addition\",\"answer\":\"1\"}")});
  {
    FILE* f = std::fopen(bad.c_str(), "a");
    std::fputs("{\"id\": 3, \n", f);
    std::fclose(f);
  }
  try {
    load_tasks(bad);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(e.line().find("bad.jsonl:2"), std::string::npos) << e.line();
  }
  std::filesystem::remove_all(dir);
}

TEST(TaskGen, IndependentPythonCheckOfGeneratedFiles) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("k1rl-tasks-py-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> files;
  for (const auto& kind : task_kinds()) {
    TaskSet s =
        generate_tasks(spec_of(kind, 1, 10, kind == std::string("code") ? 120 : 300, 20, 5));
    for (auto* part : {&s.train, &s.heldout}) {
      std::string path = dir + "/" + kind + (part == &s.train ? ".train" : ".heldout") + ".jsonl";
      save_tasks(path, *part);
      files.push_back(path);
    }
  }
  std::string cmd = std::string(K1RL_PYTHON) + " " + K1RL_CHECK_TASKS_PY;
  for (const auto& f : files) cmd += " " + f;
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::filesystem::remove_all(dir);
}

}  // namespace
