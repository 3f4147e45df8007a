// The reward role of an MPMD job (k1rl-reward): serves the rollout ranks' score requests over the
// rollout<->reward intercommunicator until they all stop, one /reward metrics row per iteration
// and reward rank (docs/reward.md); or, offline, scores a JSON Lines file of answers.
#include "lib/loop/loop.h"

namespace k1rl::loop {

namespace {
std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  const std::string s = list + ",";
  for (size_t p = 0, e; (e = s.find(',', p)) != std::string::npos; p = e + 1)
    if (e > p) out.push_back(s.substr(p, e - p));
  return out;
}

int64_t parse_iteration(const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw ConfigError("bad --iteration '" + text + "'", "it is not an integer",
                    "give the answers' iteration, or -1 for after the length-penalty warm-up");
}

int score_offline(Scorer& scorer, const RewardRoleOptions& opt) {
  const std::string& in = opt.score_file;
  std::string out = opt.out;
  if (out.empty())
    out = (in.size() > 6 && in.ends_with(".jsonl") ? in.substr(0, in.size() - 6) : in) +
          ".scores.jsonl";
  const int64_t n = score_file(scorer, in, out, parse_iteration(opt.iteration));
  K1RL_LOG_INFO("scored %lld answers -> %s (%lld sandbox runs)", static_cast<long long>(n),
                out.c_str(), static_cast<long long>(scorer.sandbox_runs()));
  return kExitOk;
}

io::Row reward_row(const IterationStats& s, int rank) {
  const double n = s.answers > 0 ? static_cast<double>(s.answers) : 1.0;
  return {{"iteration", static_cast<double>(s.iteration)},
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
}

int serve(const Config& cfg, Scorer& scorer) {
  CommOptions copt;
  copt.role = Role::reward;
  copt.required = {Role::rollout, Role::reward};
  Comm comm = Comm::create(copt);
  if (comm.rollout_reward() == MPI_COMM_NULL)
    throw ConfigError("k1rl-reward has no rollout ranks to serve", comm.describe(),
                      "start it in one job with k1rl-rollout, or use --score FILE");
  K1RL_LOG_INFO("serving %d rollout rank(s): %s", comm.size_of(Role::rollout),
                comm.describe().c_str());
  const RunDir run = RunDir::from(cfg);
  io::make_dirs(run.root());
  const int rank = comm.app_rank();
  ServeStats st = reward_serve(comm.rollout_reward(), scorer, [&](const IterationStats& s) {
    io::append_rows(run.metrics(), "metrics/1", "reward", {reward_row(s, rank)});
  });
  K1RL_LOG_INFO("served %lld requests, %lld answers, mean reward %.4f, %lld sandbox runs",
                static_cast<long long>(st.requests), static_cast<long long>(st.answers),
                st.answers ? st.reward_sum / static_cast<double>(st.answers) : 0.0,
                static_cast<long long>(st.sandbox_runs));
  return kExitOk;
}
}  // namespace

int run_reward_role(const Config& cfg, const RewardRoleOptions& opt) {
  RewardOptions ro = reward_options_from_config(cfg);
  if (!opt.tasks.empty()) ro.task_files = split_commas(opt.tasks);
  Scorer scorer(ro, load_task_files(ro.task_files));
  K1RL_LOG_INFO("sandbox isolation: %s", isolation_name(scorer.sandbox().isolation()));
  return opt.score_file.empty() ? serve(cfg, scorer) : score_offline(scorer, opt);
}

}  // namespace k1rl::loop
