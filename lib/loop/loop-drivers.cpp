// The rollout and train drivers shared by the MPMD roles and the in-process loop, and the end of
// an iteration both loops share (record_iteration).
#include <algorithm>
#include <cmath>

#include "lib/loop/loop.h"

namespace k1rl::loop {

void declare_loop_options(ConfigSpec& s) {
  s.add_int("run.iterations", 1, "RL iterations per job (k1rl-train; a later job resumes)",
            Check().ge(0));
  declare_retention_options(s);
}

void write_run_config(const Config& cfg) {
  const RunDir run = RunDir::from(cfg);
  io::make_dirs(run.root());
  const std::string path = run.config_ini();
  if (!io::file_exists(path))
    io::publish_text(path, cfg.to_ini());
  else if (io::read_text(path) != cfg.to_ini())
    K1RL_LOG_WARN("%s differs from this job's config; it keeps the run's first config",
                  path.c_str());
}

// --- rollout ------------------------------------------------------------------------------

RolloutDriver::RolloutDriver(const Config& cfg, MPI_Comm comm)
    : cfg_(cfg),
      run_(RunDir::from(cfg)),
      comm_(comm),
      tok_(make_tokenizer(cfg)),
      tasks_(load_tasks(cfg.get_string("tasks.train_file"))) {
  if (comm_ != MPI_COMM_NULL) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  worker_ = std::make_unique<rollout::RolloutWorker>(cfg, *tok_, tasks_);
  if (rank_ == 0) {
    std::vector<int> difficulty;
    for (const auto& t : tasks_) difficulty.push_back(t.difficulty);
    sampler_ = std::make_unique<rl::PromptSampler>(rl::SamplerConfig::from(cfg), difficulty,
                                                   static_cast<uint64_t>(cfg.get_int("run.seed")));
    sampler_->set_tasks_digest(tasks_digest(tasks_));
    exclude_long_prompts();
  }
}

void RolloutDriver::exclude_long_prompts() {
  const int64_t max_seq = cfg_.get_int("model.max_seq");
  std::vector<int64_t> bad;
  for (size_t p = 0; p < tasks_.size(); ++p)
    if (!worker_->prompt_fits(static_cast<int64_t>(p), max_seq))
      bad.push_back(static_cast<int64_t>(p));
  if (bad.empty()) return;
  K1RL_LOG_WARN(
      "%zu of %zu prompts (the first: %s) leave no room for rollout.max_answer_tokens = %lld "
      "within model.max_seq = %lld: they are never drawn",
      bad.size(), tasks_.size(), tasks_[static_cast<size_t>(bad[0])].id.c_str(),
      static_cast<long long>(worker_->config().max_answer_tokens), static_cast<long long>(max_seq));
  for (int64_t p : bad) sampler_->exclude(p);
}

io::Row RolloutDriver::iteration(const model::Model& model, int64_t it,
                                 const rollout::ScoreFn& score, const io::Row& extra) {
  const auto [prompts, refill] = my_prompts(it);
  // Waiting for scores (the reward service's work and the round trip), timed around each call.
  double reward_wait = 0;
  rollout::ScoreFn timed = [&](const std::vector<Answer>& a, int64_t i) {
    const double t = seconds_since_start();
    std::vector<Score> s = score(a, i);
    reward_wait += seconds_since_start() - t;
    return s;
  };
  rollout::IterationResult res =
      worker_->run(model, it, rank_, pending_trajectories(it), prompts, timed, refill);
  const double p0 = seconds_since_start();
  buffer::write_shard(run_.buffer_dir(), res.shard);
  update_sampler(res.prompt_success, it);
  res.metrics["reward_wait_s"] = reward_wait;
  res.metrics["publish_s"] = seconds_since_start() - p0;  // shard, success-rate gather, sampler
  for (const auto& [k, v] : extra) res.metrics[k] = v;
  io::append_rows(run_.metrics(), "metrics/1", "rollout", {res.metrics});
  return res.metrics;
}

// The master draws the prompts (rollout.prompts_per_iteration, then with partial rollouts
// rollout.refill_prompts more, all distinct); every rank takes every size_-th of each kind.
std::pair<std::vector<int64_t>, std::vector<int64_t>> RolloutDriver::my_prompts(int64_t it) {
  const rollout::RolloutConfig& rc = worker_->config();
  const int64_t own = rc.prompts_per_iteration, refill = rc.partial ? rc.refill_prompts : 0;
  std::vector<int64_t> prompts;
  if (rank_ == 0 &&
      !sampler_loaded_) {  // the state after iteration it - 1 (rolled back if need be)
    if (io::file_exists(run_.sampler())) sampler_->load(run_.sampler(), it);
    sampler_loaded_ = true;
  }
  if (rank_ == 0) prompts = sampler_->sample(own + refill, it);
  if (size_ > 1) {
    int64_t n = static_cast<int64_t>(prompts.size());
    K1RL_MPI_CHECK(MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm_));
    prompts.resize(static_cast<size_t>(n));
    K1RL_MPI_CHECK(MPI_Bcast(prompts.data(), static_cast<int>(n), MPI_INT64_T, 0, comm_));
  }
  std::pair<std::vector<int64_t>, std::vector<int64_t>> mine;
  for (int64_t i = 0; i < static_cast<int64_t>(prompts.size()); ++i) {
    const int64_t j = i < own ? i : i - own;  // position among its kind
    if (j % size_ == rank_) (i < own ? mine.first : mine.second).push_back(prompts[i]);
  }
  return mine;
}

// Pending answers of the previous iteration (parked open, or ended and waiting for their group).
std::vector<buffer::Trajectory> RolloutDriver::pending_trajectories(int64_t it) const {
  std::vector<buffer::Trajectory> pending;
  for (const auto& ref : buffer::list_shards(run_.buffer_dir()))
    if (ref.iteration == it - 1 && ref.rank % size_ == rank_)
      for (auto& t : buffer::read_shard(ref.path).rows)
        if (!t.ready) pending.push_back(std::move(t));
  return pending;
}

// Success rates back to the master's sampler, which publishes sampler.h5.
void RolloutDriver::update_sampler(const std::vector<std::pair<int64_t, double>>& success,
                                   int64_t it) {
  std::vector<double> flat;
  for (const auto& [p, s] : success) flat.insert(flat.end(), {static_cast<double>(p), s});
  std::vector<double> all = flat;
  if (size_ > 1) {
    int n = static_cast<int>(flat.size());
    std::vector<int> counts(static_cast<size_t>(size_)), displs(static_cast<size_t>(size_));
    K1RL_MPI_CHECK(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_));
    int total = 0;
    for (int r = 0; r < size_; ++r)
      displs[static_cast<size_t>(r)] = total, total += counts[static_cast<size_t>(r)];
    all.resize(static_cast<size_t>(rank_ == 0 ? total : 0));
    K1RL_MPI_CHECK(MPI_Gatherv(flat.data(), n, MPI_DOUBLE, all.data(), counts.data(), displs.data(),
                               MPI_DOUBLE, 0, comm_));
  }
  if (rank_ == 0) {
    for (size_t i = 0; i + 1 < all.size(); i += 2)
      sampler_->observe(static_cast<int64_t>(all[i]), all[i + 1]);
    sampler_->save(run_.sampler(), it);
  }
}

// --- train --------------------------------------------------------------------------------

TrainDriver::TrainDriver(const Config& cfg, MPI_Comm comm)
    : cfg_(cfg), run_(RunDir::from(cfg)), trainer_(cfg, comm) {
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank_);
}

int64_t TrainDriver::start() {
  if (rank_ == 0) {
    for (const std::string& dir : {run_.ckpt_dir(), run_.buffer_dir(), run_.root()})
      if (io::file_exists(dir)) {
        int n = io::remove_stale_temps(dir, 60.0);
        if (n > 0)
          K1RL_LOG_WARN("removed %d temporary file(s) left in %s by a killed writer", n,
                        dir.c_str());
      }
  }
  const int64_t latest = trainer_.resume(run_);  // falls back past a corrupt checkpoint
  if (latest >= 0) {
    K1RL_LOG_INFO("resuming from %s", run_.ckpt(latest).c_str());
    return latest;
  }
  const std::string& init = cfg_.get_string("train.init_checkpoint");
  if (!init.empty()) {
    trainer_.load_weights(init);
    K1RL_LOG_INFO("fresh run: starting from the weights of %s", init.c_str());
  }
  const int64_t steps = cfg_.get_int("train.sft_steps");
  if (steps > 0) {
    K1RL_LOG_INFO("no checkpoint in %s: SFT warm-up, %lld steps", run_.ckpt_dir().c_str(),
                  static_cast<long long>(steps));
    auto rows = trainer_.sft(load_tasks(cfg_.get_string("tasks.train_file")), steps);
    if (rank_ == 0) io::append_rows(run_.metrics(), "metrics/1", "train", rows);
  }
  trainer_.save(0);
  return 0;
}

io::Row TrainDriver::iteration(int64_t it) {
  const double t0 = seconds_since_start();
  std::vector<std::string> components;
  std::vector<buffer::Trajectory> trajs = buffer::select(
      run_.buffer_dir(), it, [](const buffer::Trajectory& t) { return t.ready && t.ended(); },
      &components);
  const double t_read = seconds_since_start();
  const double ar0 = trainer_.allreduce_s(), arb0 = trainer_.allreduce_bytes();
  std::vector<io::Row> rows = trainer_.rl_iteration(trajs, it);
  const double t_rl = seconds_since_start(), ar = trainer_.allreduce_s() - ar0;
  if (rank_ == 0 && !rows.empty()) io::append_rows(run_.metrics(), "metrics/1", "train", rows);
  const double t_save = seconds_since_start();
  trainer_.save(it + 1);
  const double t_end = seconds_since_start();
  if (rank_ == 0) prune_run(run_, Retention::from(cfg_));  // after ckpt/latest names θ_{it+1}
  const buffer::AnswerStats a = buffer::answer_stats(trajs, components);
  double loss = 0, kl = 0;
  for (const auto& r : rows) loss += r.at("loss"), kl += r.at("kl");
  const double steps = std::max<double>(1.0, static_cast<double>(rows.size()));
  return {{"iteration", static_cast<double>(it)},
          {"answers", a.answers},
          {"reward_mean", a.reward_mean()},
          {"accuracy", a.accuracy()},
          {"answer_len_mean", a.answer_len_mean()},
          {"loss", loss / steps},
          {"kl", kl / steps},
          {"steps", static_cast<double>(rows.size())},
          {"train_s", t_end - t0},
          {"train_read_s", t_read - t0},
          {"train_compute_s", t_rl - t_read - ar},
          {"allreduce_s", ar},
          {"allreduce_bytes", trainer_.allreduce_bytes() - arb0},
          {"ckpt_s", t_end - t_save}};
}

// --- the end of an iteration --------------------------------------------------------------

io::Row record_iteration(const RunDir& run, io::Row row, const RolloutTimes& rollout,
                         double iteration_s, int64_t iteration, int64_t policy) {
  row["rollout_s"] = rollout.seconds;
  row["tokens_per_s"] = rollout.tokens_per_s;
  row["iteration_s"] = iteration_s;
  row["policy_iteration"] = static_cast<double>(policy);
  const std::pair<const char*, double> parts[] = {{"gen_s", rollout.gen_s},
                                                  {"reward_wait_s", rollout.reward_wait_s},
                                                  {"rollout_publish_s", rollout.publish_s},
                                                  {"rollout_wait_s", rollout.wait_s}};
  for (const auto& [k, v] : parts)
    if (std::isfinite(v)) row[k] = v;
  // This process's resource use since its previous iteration row (local: the whole loop).
  static ProcessUsage last;
  const ProcessUsage u = process_usage();
  row["proc_user_s"] = u.user_s - last.user_s;
  row["proc_sys_s"] = u.sys_s - last.sys_s;
  row["proc_minflt"] = static_cast<double>(u.minflt - last.minflt);
  row["proc_majflt"] = static_cast<double>(u.majflt - last.majflt);
  row["proc_maxrss_mb"] = static_cast<double>(u.maxrss_kb) / 1024.0;
  last = u;
  io::append_rows(run.metrics(), "metrics/1", "iteration", {row});
  K1RL_LOG_INFO("%s%s", summary_line(row).c_str(),
                policy == iteration
                    ? ""
                    : strfmt(" | generated with θ_%lld", static_cast<long long>(policy)).c_str());
  return row;
}

std::string summary_line(const io::Row& r) {
  auto g = [&](const char* k) {
    auto it = r.find(k);
    return it == r.end() ? std::nan("") : it->second;
  };
  return strfmt(
      "iteration %.0f | answers %.0f reward %.3f accuracy %.3f length %.1f | loss %.4f kl %.4f | "
      "rollout %.1f s (%.0f tok/s) train %.1f s",
      g("iteration"), g("answers"), g("reward_mean"), g("accuracy"), g("answer_len_mean"),
      g("loss"), g("kl"), g("rollout_s"), g("tokens_per_s"), g("train_s"));
}

}  // namespace k1rl::loop
