// k1rl-train: SFT warm-up and the RL update. In a run it is the train app of an MPMD job
// (mpiexec -n R k1rl-rollout : -n 1 k1rl-reward : -n T k1rl-train, or slurm/rl_iter.sh);
// --local runs rollout, reward and training in this one process (laptops, benchmarks).
#include "lib/app/app.h"
#include "lib/long2short/long2short.h"
#include "lib/loop/loop.h"

namespace {
int run(k1rl::AppContext& ctx) {
  if (const std::string& m = ctx.cfg.get_string("train.mode");
      m == "dpo" || m == "shortest_rejection") {  // long2short: every rank trains
    k1rl::long2short::run_train_mode(ctx.cfg, MPI_COMM_WORLD);
    return k1rl::kExitOk;
  }
  if (ctx.cfg.get_string("train.mode") == "sft") {
    // SFT only: every rank of the world trains; publishes ckpt/it_000000.h5.
    const k1rl::RunDir run = k1rl::RunDir::from(ctx.cfg);
    if (k1rl::train::latest_checkpoint(run) >= 0)
      throw k1rl::ConfigError("run directory " + run.root() + " already has checkpoints",
                              "train.mode = sft starts a run", "use a fresh --run.dir");
    if (ctx.rank == 0) k1rl::loop::write_run_config(ctx.cfg);
    k1rl::loop::TrainDriver td(ctx.cfg, MPI_COMM_WORLD);
    td.start();
    return k1rl::kExitOk;
  }
  if (ctx.flag("local") == "1") {
    if (ctx.size > 1)
      throw k1rl::ConfigError("--local runs in one process",
                              k1rl::strfmt("started with %d ranks", ctx.size),
                              "drop --local to run as the train app of an MPMD job");
    k1rl::loop::run_local(ctx.cfg);
    return k1rl::loop::stop_requested().empty() ? k1rl::kExitOk : k1rl::kExitStoppedEarly;
  }
  return k1rl::loop::run_train_role(ctx.cfg);
}
}  // namespace

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "train";
  info.summary = "SFT warm-up and RL updates (k1.5, GRPO, PPO-clip, REINFORCE); data-parallel";
  info.use_mpi = true;
  info.flags = {{"local", "run rollout, reward and training in this process", "", false}};
  return k1rl::app_main(argc, argv, info, run);
}
