// k1rl-rollout: samples k answers per prompt from the policy (KV cache, partial rollouts, repeat
// detection, prompt sampling) as the rollout app of an MPMD job with k1rl-reward and k1rl-train.
#include "lib/app/app.h"
#include "lib/loop/loop.h"

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "rollout";
  info.summary = "sample answers from the policy with partial rollouts; publish buffer shards";
  info.use_mpi = true;
  return k1rl::app_main(argc, argv, info, [](k1rl::AppContext& ctx) {
    return k1rl::loop::run_rollout_role(ctx.cfg);
  });
}
