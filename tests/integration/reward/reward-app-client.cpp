// A rollout-side client for the real k1rl-reward executable under MPMD mpiexec
//   mpiexec -n 2 test-reward-app-client : -n 1 k1rl-reward --tasks add-easy.train.jsonl
// (roles from MPI_APPNUM via lib/comm): two iterations of answers to the committed default
// tasks come back scored right and in order; check-metrics.py then reads the /reward rows.
#include <gtest/gtest.h>
#include <mpi.h>

#include "lib/comm/comm.h"
#include "lib/reward/reward.h"

namespace {
using namespace k1rl;

TEST(RewardApp, ServesScoresForTwoIterations) {
  CommOptions opt;
  opt.required = {Role::rollout, Role::reward};
  Comm comm = Comm::create(opt);
  ASSERT_EQ(comm.role(), Role::rollout);
  std::vector<Task> tasks = load_tasks(K1RL_TASKS_FILE);
  ASSERT_GE(tasks.size(), 100u);
  RewardClient client(comm.rollout_reward());
  for (int64_t it = 0; it < 2; ++it) {
    std::vector<Answer> batch;
    std::vector<bool> right;
    for (int i = 0; i < 100; ++i) {
      const Task& t = tasks[static_cast<size_t>(comm.app_rank() * 100 + i)];
      Answer a;
      a.task_id = t.id;
      bool ok = (i + it) % 2 == 0;
      a.text =
          ok ? t.solution
             : std::to_string(std::stoll(t.answer) + 1);  // bare numbers, as a tiny model answers
      a.length = static_cast<int64_t>(a.text.size());
      batch.push_back(a);
      right.push_back(ok);
    }
    std::vector<Score> s = client.score(batch, it);
    ASSERT_EQ(s.size(), batch.size());
    for (size_t i = 0; i < s.size(); ++i) {
      EXPECT_EQ(s[i].correct, right[i] ? 1.0 : 0.0) << batch[i].task_id << " " << batch[i].text;
      EXPECT_EQ(s[i].reason, right[i] ? "correct" : "wrong");
    }
  }
  client.stop();
}

}  // namespace

// Not tests/support's main: its closing MPI_Allreduce over the world would wait for k1rl-reward.
int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  ::testing::InitGoogleTest(&argc, argv);
  int rc = RUN_ALL_TESTS();
  MPI_Finalize();
  return rc;  // mpiexec fails when any process does
}
