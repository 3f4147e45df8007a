// The whole iteration in one process: train, rollout and an in-process reward Scorer.
#include "lib/loop/loop.h"

namespace k1rl::loop {

std::vector<io::Row> run_local(const Config& cfg) {
  write_run_config(cfg);
  TrainDriver td(cfg, MPI_COMM_NULL);
  RolloutDriver rd(cfg, MPI_COMM_NULL);
  RewardOptions ro = reward_options_from_config(cfg);
  std::vector<Task> tasks;
  for (const auto& f : ro.task_files) {
    auto t = load_tasks(f);
    tasks.insert(tasks.end(), t.begin(), t.end());
  }
  Scorer scorer(ro, std::move(tasks));
  rollout::ScoreFn score = [&](const std::vector<Answer>& a, int64_t it) { return scorer.score_batch(a, it); };
  int64_t it = td.start();
  std::vector<io::Row> out;
  for (int64_t n = 0; n < cfg.get_int("run.iterations"); ++n, ++it) {
    const double t0 = seconds_since_start();
    io::Row r = rd.iteration(td.trainer().model(), it, score);
    io::Row row = td.iteration(it);
    row["rollout_s"] = r["time_s"];
    row["tokens_per_s"] = r["tokens_per_s"];
    row["iteration_s"] = seconds_since_start() - t0;
    io::append_rows(metrics_path(cfg), "metrics/1", "iteration", {row});
    K1RL_LOG_INFO("%s", summary_line(row).c_str());
    out.push_back(row);
  }
  return out;
}

}  // namespace k1rl::loop
