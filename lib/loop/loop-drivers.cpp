// The rollout and train drivers shared by the MPMD roles and the in-process loop.
#include <algorithm>
#include <cmath>

#include "lib/loop/loop.h"

namespace k1rl::loop {

void declare_loop_options(ConfigSpec& s) {
  s.add_int("run.iterations", 1, "RL iterations per job (k1rl-train; a later job resumes)");
  declare_retention_options(s);
}

std::string buffer_dir(const Config& cfg) {
  return cfg.get_string("run.dir") + "/buffer";
}
std::string metrics_path(const Config& cfg) {
  return cfg.get_string("run.dir") + "/metrics.h5";
}
std::string sampler_path(const Config& cfg) {
  return cfg.get_string("run.dir") + "/sampler.h5";
}

void write_run_config(const Config& cfg) {
  const std::string dir = cfg.get_string("run.dir");
  io::make_dirs(dir);
  const std::string path = dir + "/config.ini";
  if (!io::file_exists(path))
    io::publish_text(path, cfg.to_ini());
  else if (io::read_text(path) != cfg.to_ini())
    K1RL_LOG_WARN("%s differs from this job's config; it keeps the run's first config",
                  path.c_str());
}

// --- rollout ------------------------------------------------------------------------------

RolloutDriver::RolloutDriver(const Config& cfg, MPI_Comm comm)
    : cfg_(cfg),
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
    if (io::file_exists(sampler_path(cfg))) sampler_->load(sampler_path(cfg));
  }
}

io::Row RolloutDriver::iteration(const model::Model& model, int64_t it,
                                 const rollout::ScoreFn& score) {
  // The master draws the prompts; every rank takes every size_-th one.
  std::vector<int64_t> prompts;
  if (rank_ == 0) prompts = sampler_->sample(worker_->config().prompts_per_iteration, it);
  if (size_ > 1) {
    int64_t n = static_cast<int64_t>(prompts.size());
    K1RL_MPI_CHECK(MPI_Bcast(&n, 1, MPI_INT64_T, 0, comm_));
    prompts.resize(static_cast<size_t>(n));
    K1RL_MPI_CHECK(MPI_Bcast(prompts.data(), static_cast<int>(n), MPI_INT64_T, 0, comm_));
  }
  std::vector<int64_t> mine;
  for (size_t i = 0; i < prompts.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(size_)) == rank_) mine.push_back(prompts[i]);
  // Pending answers of the previous iteration (parked open, or ended and waiting for their group).
  std::vector<buffer::Trajectory> pending;
  const std::string dir = buffer_dir(cfg_);
  for (const auto& ref : buffer::list_shards(dir))
    if (ref.iteration == it - 1 && ref.rank % size_ == rank_)
      for (auto& t : buffer::read_shard(ref.path).rows)
        if (!t.ready) pending.push_back(std::move(t));
  rollout::IterationResult res =
      worker_->run(model, it, rank_, std::move(pending), mine, it * 1000000 + rank_ * 10000, score);
  buffer::write_shard(dir, res.shard);
  io::append_rows(metrics_path(cfg_), "metrics/1", "rollout", {res.metrics});
  // Success rates back to the master's sampler.
  std::vector<double> flat;
  for (const auto& [p, s] : res.prompt_success)
    flat.insert(flat.end(), {static_cast<double>(p), s});
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
    sampler_->save(sampler_path(cfg_));
  }
  return res.metrics;
}

// --- train --------------------------------------------------------------------------------

TrainDriver::TrainDriver(const Config& cfg, MPI_Comm comm) : cfg_(cfg), trainer_(cfg, comm) {
  if (comm != MPI_COMM_NULL) MPI_Comm_rank(comm, &rank_);
}

int64_t TrainDriver::start() {
  if (rank_ == 0) {
    for (const std::string& dir :
         {train::ckpt_dir(cfg_), buffer_dir(cfg_), cfg_.get_string("run.dir")})
      if (io::file_exists(dir)) {
        int n = io::remove_stale_temps(dir, 60.0);
        if (n > 0)
          K1RL_LOG_WARN("removed %d temporary file(s) left in %s by a killed writer", n,
                        dir.c_str());
      }
  }
  int64_t latest = train::latest_checkpoint(cfg_);
  if (latest >= 0) {
    trainer_.load(train::ckpt_path(cfg_, latest));
    K1RL_LOG_INFO("resuming from %s", train::ckpt_path(cfg_, latest).c_str());
    return latest;
  }
  const std::string& init = cfg_.get_string("train.init_checkpoint");
  if (!init.empty()) {
    trainer_.load_weights(init);
    K1RL_LOG_INFO("fresh run: starting from the weights of %s", init.c_str());
  }
  const int64_t steps = cfg_.get_int("train.sft_steps");
  if (steps > 0) {
    K1RL_LOG_INFO("no checkpoint in %s: SFT warm-up, %lld steps", train::ckpt_dir(cfg_).c_str(),
                  static_cast<long long>(steps));
    auto rows = trainer_.sft(load_tasks(cfg_.get_string("tasks.train_file")), steps);
    if (rank_ == 0) io::append_rows(metrics_path(cfg_), "metrics/1", "train", rows);
  }
  trainer_.save(0);
  return 0;
}

io::Row TrainDriver::iteration(int64_t it) {
  double t0 = seconds_since_start();
  std::vector<buffer::Trajectory> trajs = buffer::select(
      buffer_dir(cfg_), it, [](const buffer::Trajectory& t) { return t.ready && t.ended(); });
  std::vector<io::Row> rows = trainer_.rl_iteration(trajs, it);
  if (rank_ == 0 && !rows.empty()) io::append_rows(metrics_path(cfg_), "metrics/1", "train", rows);
  trainer_.save(it + 1);
  if (rank_ == 0) prune_run(cfg_);  // after ckpt/latest names θ_{it+1}
  double reward = 0, correct = 0, len = 0, loss = 0, kl = 0;
  for (const auto& t : trajs) {
    reward += t.reward;
    correct += t.components.empty() ? 0.0 : t.components[0];
    len += static_cast<double>(t.answer_len());
  }
  for (const auto& r : rows) loss += r.at("loss"), kl += r.at("kl");
  const double n = std::max<double>(1.0, static_cast<double>(trajs.size()));
  const double steps = std::max<double>(1.0, static_cast<double>(rows.size()));
  return {{"iteration", static_cast<double>(it)},
          {"answers", static_cast<double>(trajs.size())},
          {"reward_mean", reward / n},
          {"accuracy", correct / n},
          {"answer_len_mean", len / n},
          {"loss", loss / steps},
          {"kl", kl / steps},
          {"steps", static_cast<double>(rows.size())},
          {"train_s", seconds_since_start() - t0}};
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
