// The MPMD roles of one job: train leads, rollout follows, reward serves (k1rl-reward).
// Per iteration train app rank 0 broadcasts a header {iteration, stop, policy} to the rollout
// ranks (policy >= 0: θ_policy follows as a weight broadcast; -1: keep the weights held), rollout
// generates, publishes its shards and answers "done", train trains and publishes the checkpoint.
// With run.staleness = 1 the next header goes out before training (rollout runs one ahead).
#include "lib/loop/loop.h"

namespace k1rl::loop {

void declare_loop_role_options(ConfigSpec& s) {
  s.add_int(
      "run.staleness", 0,
      "0: rollout of iteration N uses θ_N; 1: rollout of N+1 overlaps training of N and uses θ_N "
      "(MPMD roles; --local ignores it)");
}

namespace {
struct Header {
  int64_t iteration = 0, stop = 0, policy = -1;
};

// Intercommunicator broadcast of the header from train app rank 0 to every rollout rank.
void bcast_header(const Comm& comm, Header& h) {
  int64_t buf[3] = {h.iteration, h.stop, h.policy};
  MPI_Comm tr = comm.train_rollout();
  int root = comm.role() == Role::train ? (comm.app_rank() == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
  K1RL_MPI_CHECK(MPI_Bcast(buf, 3, MPI_INT64_T, root, tr));
  h = {buf[0], buf[1], buf[2]};
}

// Train rank 0 decides whether to stop; every train rank learns the same answer.
bool agree_stop(const Comm& comm, std::string& why) {
  int stop = 0;
  if (comm.app_rank() == 0) {
    why = stop_requested();
    stop = why.empty() ? 0 : 1;
  }
  K1RL_MPI_CHECK(MPI_Bcast(&stop, 1, MPI_INT, 0, comm.app()));
  return stop != 0;
}

// Waits for rollout's "done" of an iteration: {iteration, rollout seconds, tokens/s} on every train
// rank.
std::array<double, 3> recv_done(const Comm& comm) {
  std::array<double, 3> done{};
  if (comm.app_rank() == 0)
    K1RL_MPI_CHECK(MPI_Recv(done.data(), 3, MPI_DOUBLE, 0, kTagRolloutDone, comm.train_rollout(),
                            MPI_STATUS_IGNORE));
  K1RL_MPI_CHECK(MPI_Bcast(done.data(), 3, MPI_DOUBLE, 0, comm.app()));
  return done;
}
}  // namespace

int run_train_role(const Config& cfg) {
  CommOptions opt;
  opt.role = Role::train;
  opt.required = {Role::rollout, Role::train};
  Comm comm = Comm::create(opt);
  install_stop_handler();
  K1RL_LOG_INFO("roles: %s", comm.describe().c_str());
  std::unique_ptr<RunLock> lock;
  if (comm.app_rank() == 0) {
    lock = std::make_unique<RunLock>(cfg.get_string("run.dir"));
    write_run_config(cfg);
  }
  TrainDriver td(cfg, comm.app());
  int64_t it = td.start();
  if (comm.app_rank() == 0) discard_untrained_shards(cfg, it);
  const int64_t K = cfg.get_int("run.iterations");
  const bool stale = cfg.get_int("run.staleness") == 1;
  model::Model& model = td.trainer().model();
  const size_t n_params = static_cast<size_t>(model.num_params());
  const int64_t first = it;
  int64_t held = -1;      // the policy iteration the rollout ranks hold
  bool ahead = false;     // rollout already generates `it` (announced before `it - 1` was trained)
  double t_start = 0;     // when iteration `it` was announced
  bool stopping = false;  // a stop request was seen (every train rank agrees)
  std::string why;        // its reason (train rank 0)
  auto check_stop = [&] { return stopping || (stopping = agree_stop(comm, why)); };
  // Announce iteration `i` to rollout, with θ_i unless rollout holds the policy to use.
  auto announce = [&](int64_t i, int64_t policy) {
    Header h{i, 0, policy == held ? -1 : policy};
    bcast_header(comm, h);
    if (h.policy >= 0) broadcast_weights(comm, model.params(), n_params, bcast_chunk_floats(cfg));
    held = policy;
    t_start = seconds_since_start();
  };
  for (int64_t n = 0;; ++n, ++it) {
    if (!ahead) {
      if (n == K || check_stop()) {
        Header h{it, 1, -1};
        bcast_header(comm, h);
        break;
      }
      announce(it, it);
    }
    const int64_t policy = held;
    const double t0 = t_start;
    std::array<double, 3> done = recv_done(comm);
    if (ahead && check_stop()) {
      if (comm.app_rank() == 0)
        K1RL_LOG_WARN(
            "abandoning iteration %lld (generated ahead with θ_%lld): its shards are removed "
            "when the run resumes",
            static_cast<long long>(it), static_cast<long long>(policy));
      Header h{it + 1, 1, -1};
      bcast_header(comm, h);
      break;
    }
    // Staleness 1: rollout starts it+1 now with θ_it (what this process holds) while we train it.
    ahead = stale && n + 1 < K && !check_stop();
    if (ahead) announce(it + 1, it);
    io::Row row = td.iteration(it);
    row["rollout_s"] = done[1];
    row["tokens_per_s"] = done[2];
    row["iteration_s"] = seconds_since_start() - t0;
    row["policy_iteration"] = static_cast<double>(policy);
    if (comm.app_rank() == 0) {
      io::append_rows(metrics_path(cfg), "metrics/1", "iteration", {row});
      K1RL_LOG_INFO(
          "%s%s", summary_line(row).c_str(),
          policy == it
              ? ""
              : strfmt(" | generated with θ_%lld", static_cast<long long>(policy)).c_str());
    }
  }
  const int64_t trained = it - first;
  if (stopping && trained < K) {
    if (comm.app_rank() == 0)
      K1RL_LOG_WARN(
          "stopped early on %s after %lld of %lld iteration(s); %s/latest is it_%06lld.h5; "
          "resubmit to continue (exit %d)",
          why.c_str(), static_cast<long long>(trained), static_cast<long long>(K),
          train::ckpt_dir(cfg).c_str(), static_cast<long long>(it),
          static_cast<int>(kExitStoppedEarly));
    return kExitStoppedEarly;
  }
  return 0;
}

int run_rollout_role(const Config& cfg) {
  CommOptions opt;
  opt.role = Role::rollout;
  opt.required = {Role::rollout, Role::reward, Role::train};
  Comm comm = Comm::create(opt);
  install_stop_handler();  // a SIGUSR1 forwarded by mpiexec must not end a rollout rank
  // The run directory (sampler.h5, shards) is read only after train's first header: train sends it
  // once it holds the run lock, so a second job on a run in use never touches its files.
  std::unique_ptr<RolloutDriver> rd;
  model::Model model(model::ModelConfig::from_config(cfg));
  RewardClient client(comm.rollout_reward());
  rollout::ScoreFn score = [&](const std::vector<Answer>& a, int64_t it) {
    return client.score(a, it);
  };
  while (true) {
    Header h;
    bcast_header(comm, h);
    if (h.stop) break;
    if (!rd) rd = std::make_unique<RolloutDriver>(cfg, comm.app());
    if (h.policy >= 0)
      broadcast_weights(comm, model.params(), static_cast<size_t>(model.num_params()),
                        bcast_chunk_floats(cfg));
    const double t0 = seconds_since_start();
    io::Row row = rd->iteration(model, h.iteration, score);
    // Every shard of the iteration is published before train reads them.
    double mine[2] = {row["tokens"], row["gen_s"]}, sum[2] = {0, 0};
    K1RL_MPI_CHECK(MPI_Reduce(mine, sum, 2, MPI_DOUBLE, MPI_SUM, 0, comm.app()));
    if (comm.app_rank() == 0) {
      const double secs = seconds_since_start() - t0;
      double done[3] = {static_cast<double>(h.iteration), secs, secs > 0 ? sum[0] / secs : 0.0};
      K1RL_MPI_CHECK(MPI_Send(done, 3, MPI_DOUBLE, 0, kTagRolloutDone, comm.train_rollout()));
    }
  }
  client.stop();
  return 0;
}

}  // namespace k1rl::loop
