// k1rl-reward: scores answers. As the reward app of a run (mpiexec -n R k1rl-rollout : -n 1
// k1rl-reward : -n T k1rl-train) it serves the rollout ranks over the rollout<->reward
// intercommunicator until they all stop; with --score FILE it scores a JSON Lines file offline.
#include "lib/app/app.h"
#include "lib/loop/loop.h"

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "reward";
  info.summary = "score answers: checkers, sandboxed code tests, length and repetition penalties";
  info.use_mpi = true;
  info.flags = {
      {"score", "offline: score this JSON Lines file of answers (see docs/reward.md)", ""},
      {"out", "offline: where to write the scores (default: <input>.scores.jsonl)", ""},
      {"tasks",
       "task files, comma-separated (default: reward.tasks, else tasks.train_file "
       "and tasks.heldout_file)",
       ""},
      {"iteration",
       "offline: the iteration the answers belong to (length penalty "
       "warm-up; -1: after the warm-up)",
       "-1"}};
  return k1rl::app_main(argc, argv, info, [](k1rl::AppContext& ctx) {
    return k1rl::loop::run_reward_role(
        ctx.cfg, {ctx.flag("tasks"), ctx.flag("score"), ctx.flag("out"), ctx.flag("iteration")});
  });
}
