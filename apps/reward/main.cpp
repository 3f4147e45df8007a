// k1rl-reward: scores answers. As the reward app of a run (mpiexec -n R k1rl-rollout : -n 1
// k1rl-reward : -n T k1rl-train) it serves the rollout ranks over the rollout<->reward
// intercommunicator until they all stop; with --score FILE it scores a JSON Lines file offline.
#include <filesystem>

#include "lib/app/app.h"
#include "lib/comm/comm.h"
#include "lib/io/io.h"
#include "lib/reward/reward.h"

namespace {

int run(k1rl::AppContext& ctx) {
  k1rl::RewardOptions opt = k1rl::reward_options_from_config(ctx.cfg);
  if (!ctx.flag("tasks").empty()) {
    opt.task_files.clear();
    std::string s = ctx.flag("tasks") + ",";
    for (size_t p = 0, e; (e = s.find(',', p)) != std::string::npos; p = e + 1)
      if (e > p) opt.task_files.push_back(s.substr(p, e - p));
  }
  k1rl::Scorer scorer(opt, k1rl::load_task_files(opt.task_files));
  K1RL_LOG_INFO("sandbox isolation: %s", k1rl::isolation_name(scorer.sandbox().isolation()));
  const std::string& in = ctx.flag("score");
  if (!in.empty()) {
    std::string out = ctx.flag("out");
    if (out.empty())
      out = (in.size() > 6 && in.ends_with(".jsonl") ? in.substr(0, in.size() - 6) : in) +
            ".scores.jsonl";
    int64_t n = k1rl::score_file(scorer, in, out, std::stoll(ctx.flag("iteration")));
    K1RL_LOG_INFO("scored %lld answers -> %s (%lld sandbox runs)", (long long)n, out.c_str(),
                  (long long)scorer.sandbox_runs());
    return k1rl::kExitOk;
  }
  k1rl::CommOptions copt;
  copt.role = k1rl::Role::reward;
  copt.required = {k1rl::Role::rollout, k1rl::Role::reward};
  k1rl::Comm comm = k1rl::Comm::create(copt);
  if (comm.rollout_reward() == MPI_COMM_NULL)
    throw k1rl::ConfigError("k1rl-reward has no rollout ranks to serve", comm.describe(),
                            "start it in one job with k1rl-rollout, or use --score FILE");
  K1RL_LOG_INFO("serving %d rollout rank(s): %s", comm.size_of(k1rl::Role::rollout),
                comm.describe().c_str());
  // One /reward row per iteration and reward rank in <run.dir>/metrics.h5 (docs/reward.md).
  std::string metrics = ctx.cfg.get_string("run.dir") + "/metrics.h5";
  std::filesystem::create_directories(ctx.cfg.get_string("run.dir"));
  int rank = comm.app_rank();
  auto on_iteration = [&](const k1rl::IterationStats& s) {
    double n = s.answers > 0 ? static_cast<double>(s.answers) : 1.0;
    k1rl::io::Row row = {{"iteration", static_cast<double>(s.iteration)},
                         {"rank", static_cast<double>(rank)},
                         {"requests", static_cast<double>(s.requests)},
                         {"answers", static_cast<double>(s.answers)},
                         {"reward_mean", s.reward_sum / n},
                         {"correct_mean", s.correct_sum / n},
                         {"length_mean", s.length_sum / n},
                         {"repetition_mean", s.repetition_sum / n},
                         {"no_answer_frac", static_cast<double>(s.no_answer) / n},
                         {"sandbox_runs", static_cast<double>(s.sandbox_runs)},
                         {"serve_s", s.last_s - s.first_s}};
    k1rl::io::append_rows(metrics, "metrics/1", "reward", {row});
  };
  k1rl::ServeStats st = k1rl::reward_serve(comm.rollout_reward(), scorer, on_iteration);
  K1RL_LOG_INFO("served %lld requests, %lld answers, mean reward %.4f, %lld sandbox runs",
                (long long)st.requests, (long long)st.answers,
                st.answers ? st.reward_sum / static_cast<double>(st.answers) : 0.0,
                (long long)st.sandbox_runs);
  return k1rl::kExitOk;
}

}  // namespace

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
  return k1rl::app_main(argc, argv, info, run);
}
