// The reward service under mpiexec: the lower half of the ranks act as rollout ranks (clients),
// the upper half serve as reward ranks, joined by an intercommunicator built here with
// MPI_Comm_split + MPI_Intercomm_create. 1,000 answers (numbers, countdown, code in the sandbox)
// come back with the right scores in the right order, with batches waited for out of order.
// main() is tests/support (MPI_Init around RUN_ALL_TESTS).
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>

#include "lib/reward/reward.h"

namespace {
using namespace k1rl;

constexpr int kAnswersPerClient = 1000;  // split over the client ranks below
constexpr int kBatch = 50;

std::vector<Task> all_tasks() {
  std::vector<Task> tasks;
  struct Part {
    const char* kind;
    int lo, hi;
    int64_t n;
  };
  for (const Part& p : {Part{"addition", 1, 4, 120}, Part{"countdown", 1, 6, 60},
                        Part{"linear", 1, 10, 60}, Part{"code", 1, 10, 8}}) {
    TaskSetSpec s;
    s.kind = p.kind;
    s.min_difficulty = p.lo;
    s.max_difficulty = p.hi;
    s.train_count = p.n;
    s.heldout_count = 0;
    s.seed = 99;
    TaskSet set = generate_tasks(s);
    tasks.insert(tasks.end(), set.train.begin(), set.train.end());
  }
  return tasks;
}

RewardOptions options() {
  RewardOptions o;
  o.workers = 2;
  o.length_penalty_weight = 0.5;
  o.length_penalty_warmup = 3;
  o.repetition_penalty_weight = 0.1;
  o.sandbox.limits.wall_s = 5.0;
  return o;
}

// What the client sends for answer i, and whether it is right.
Answer make_answer(const Task& t, int i, bool* right) {
  *right = i % 3 != 0;
  Answer a;
  a.task_id = t.id;
  a.group = t.id + "#" + std::to_string(i / 4);
  a.length = 3 * (i % 4 + 1);
  if (t.task == "code") {
    a.text = "```python\n" + (*right ? t.answer : std::string("print('nope')\n")) + "```";
  } else if (t.task == "countdown") {
    a.text = "Let me think.\nAnswer: " + t.answer + (*right ? "" : "+1");
  } else {
    Rational v = *parse_number(t.answer);
    a.text = "Answer: " + (*right ? v : *rat_add(v, *Rational::make(1, 1))).str();
  }
  return a;
}

// The reason a wrong answer from make_answer gets.
std::string wrong_reason(const Task& t) {
  return t.task == "code" ? "wrong_output" : t.task == "countdown" ? "wrong_numbers" : "wrong";
}

TEST(RewardMpi, ThousandAnswersComeBackRightAndInOrder) {
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  ASSERT_GE(size, 2) << "run under mpiexec -n 3 or more";
  int n_clients = std::max(1, size / 2);
  bool client = rank < n_clients;
  MPI_Comm local = MPI_COMM_NULL, inter = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, client ? 0 : 1, rank, &local);
  MPI_Intercomm_create(local, 0, MPI_COMM_WORLD, client ? n_clients : 0, 4242, &inter);
  std::vector<Task> tasks = all_tasks();
  const int64_t iteration = 5;  // batches 0-4: iteration 5, then 6...; past the warm-up
  long long mismatches = 0, served = 0, scored = 0;

  if (client) {
    int my_count = kAnswersPerClient / n_clients + (rank < kAnswersPerClient % n_clients ? 1 : 0);
    std::vector<Answer> answers;
    std::vector<bool> right;
    std::vector<const Task*> task_of;
    for (int i = 0; i < my_count; ++i) {
      // Mostly numbers and countdown; every 25th answer is a program.
      const Task* t = &tasks[static_cast<size_t>((rank * 7919 + i * 31) % 240)];
      if (i % 25 == 0) t = &tasks[240 + static_cast<size_t>((i / 25 + rank) % 8)];
      bool ok = false;
      answers.push_back(make_answer(*t, i, &ok));
      right.push_back(ok);
      task_of.push_back(t);
    }
    RewardClient rc(inter);
    std::vector<uint64_t> tickets;
    for (size_t b = 0; b < answers.size(); b += kBatch) {
      std::vector<Answer> batch(
          answers.begin() + static_cast<long>(b),
          answers.begin() + static_cast<long>(std::min(answers.size(), b + kBatch)));
      tickets.push_back(rc.submit(batch, iteration + static_cast<int64_t>(b / kBatch) / 5));
    }
    RewardOptions opt = options();
    for (size_t k = tickets.size(); k-- > 0;) {  // wait in reverse: results arrive in any order
      std::vector<Score> got = rc.wait(tickets[k]);
      size_t b0 = k * kBatch;
      ASSERT_EQ(got.size(), std::min<size_t>(kBatch, answers.size() - b0));
      // Expected: the checker result we know, the length reward per group within the batch.
      std::map<std::string, std::vector<size_t>> groups;
      for (size_t j = 0; j < got.size(); ++j) groups[answers[b0 + j].group].push_back(j);
      std::vector<double> len(got.size(), 0.0);
      for (const auto& [g, idx] : groups) {
        std::vector<int64_t> l;
        std::vector<bool> c;
        for (size_t j : idx) {
          l.push_back(answers[b0 + j].length);
          c.push_back(right[b0 + j]);
        }
        auto r = length_rewards(l, c);
        for (size_t q = 0; q < idx.size(); ++q) len[idx[q]] = r[q];
      }
      for (size_t j = 0; j < got.size(); ++j) {
        size_t i = b0 + j;
        double want = (right[i] ? 1.0 : 0.0) + opt.length_penalty_weight * len[j];
        bool ok = got[j].total == want && got[j].correct == (right[i] ? 1.0 : 0.0) &&
                  got[j].reason == (right[i] ? "correct" : wrong_reason(*task_of[i]));
        if (!ok) {
          ++mismatches;
          ADD_FAILURE() << "rank " << rank << " answer " << i << " (" << task_of[i]->id << "): got "
                        << got[j].total << " " << got[j].reason << ", want " << want;
        }
        ++scored;
      }
    }
    rc.stop();
  } else {
    Scorer scorer(options(), tasks);
    std::vector<IterationStats> its;
    ServeStats st = reward_serve(inter, scorer, [&](const IterationStats& s) { its.push_back(s); });
    served = st.answers;
    int64_t per_iteration = 0;
    for (size_t k = 0; k < its.size(); ++k) {
      per_iteration += its[k].answers;
      if (k > 0) EXPECT_GT(its[k].iteration, its[k - 1].iteration);  // once each, in order
      EXPECT_GE(its[k].iteration, iteration);
      EXPECT_NEAR(its[k].correct_sum, std::round(its[k].correct_sum), 1e-9);
    }
    EXPECT_EQ(per_iteration, st.answers);
    EXPECT_GE(its.size(), 2u);
    EXPECT_EQ(st.reasons["unknown_task"], 0);
    EXPECT_GT(st.sandbox_runs, 0);
  }
  long long totals[3] = {mismatches, served, scored}, sums[3] = {0, 0, 0};
  MPI_Allreduce(totals, sums, 3, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(sums[0], 0);
  EXPECT_EQ(sums[1], kAnswersPerClient);
  EXPECT_EQ(sums[2], kAnswersPerClient);
  MPI_Comm_free(&inter);
  MPI_Comm_free(&local);
}

}  // namespace
