// The whole iteration in one process: train, rollout and an in-process reward Scorer. Each
// iteration reads top to bottom: generate and score (rollout), advantages and update (train),
// then the /iteration row.
#include "lib/loop/loop.h"

namespace k1rl::loop {

std::vector<io::Row> run_local(const Config& cfg) {
  const RunDir run = RunDir::from(cfg);
  RunLock lock(run);
  install_stop_handler();
  write_run_config(cfg);
  TrainDriver td(cfg, MPI_COMM_NULL);
  RolloutDriver rd(cfg, MPI_COMM_NULL);
  RewardOptions ro = reward_options_from_config(cfg);
  Scorer scorer(ro, load_task_files(ro.task_files));
  rollout::ScoreFn score = [&](const std::vector<Answer>& a, int64_t it) {
    return scorer.score_batch(a, it);
  };
  int64_t it = td.start();
  discard_untrained_shards(run, it);
  std::vector<io::Row> out;
  for (int64_t n = 0; n < cfg.get_int("run.iterations"); ++n, ++it) {
    if (std::string why = stop_requested(); !why.empty()) {
      K1RL_LOG_WARN("stopping before iteration %lld: %s; ckpt/latest is it_%06lld.h5",
                    static_cast<long long>(it), why.c_str(), static_cast<long long>(it));
      break;  // the caller sees stop_requested() and exits with kExitStoppedEarly
    }
    const double t0 = seconds_since_start();
    io::Row r = rd.iteration(td.trainer().model(), it, score);
    // Training changes the weights, which makes the packed copy and kept sequences stale: free
    // them, so that generation's memory and training's do not add up; with
    // rollout.parked_cache = stale the parked answers' keys and values stay (they continue
    // from them next iteration).
    td.trainer().model().release_generation_memory(rd.keeps_stale_cache());
    io::Row row = td.iteration(it);
    td.trainer().model().release_training_memory();  // and the other way round
    RolloutTimes rt{r["time_s"], r["tokens_per_s"]};
    rt.gen_s = r["gen_s"], rt.reward_wait_s = r["reward_wait_s"], rt.publish_s = r["publish_s"];
    out.push_back(record_iteration(run, row, rt, seconds_since_start() - t0, it, it));
  }
  return out;
}

}  // namespace k1rl::loop
