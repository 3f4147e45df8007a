// The MPMD roles of one job: train leads, rollout follows, reward serves (k1rl-reward).
#include "lib/loop/loop.h"

namespace k1rl::loop {

namespace {
// Intercommunicator broadcast of a small header from train app rank 0 to every rollout rank.
void bcast_header(const Comm& comm, int64_t hdr[2]) {
  MPI_Comm tr = comm.train_rollout();
  int root = comm.role() == Role::train ? (comm.app_rank() == 0 ? MPI_ROOT : MPI_PROC_NULL) : 0;
  K1RL_MPI_CHECK(MPI_Bcast(hdr, 2, MPI_INT64_T, root, tr));
}
}  // namespace

int run_train_role(const Config& cfg) {
  CommOptions opt;
  opt.role = Role::train;
  opt.required = {Role::rollout, Role::train};
  Comm comm = Comm::create(opt);
  K1RL_LOG_INFO("roles: %s", comm.describe().c_str());
  if (comm.app_rank() == 0) write_run_config(cfg);
  TrainDriver td(cfg, comm.app());
  int64_t it = td.start();
  const int64_t K = cfg.get_int("run.iterations");
  model::Model& model = td.trainer().model();
  for (int64_t n = 0;; ++n) {
    int64_t hdr[2] = {it, n == K ? 1 : 0};
    bcast_header(comm, hdr);
    if (hdr[1]) break;
    const double t0 = seconds_since_start();
    broadcast_weights(comm, model.params(), static_cast<size_t>(model.num_params()), bcast_chunk_floats(cfg));
    double done[3] = {0, 0, 0};  // iteration, rollout seconds, tokens/s
    if (comm.app_rank() == 0)
      K1RL_MPI_CHECK(MPI_Recv(done, 3, MPI_DOUBLE, 0, kTagRolloutDone, comm.train_rollout(), MPI_STATUS_IGNORE));
    K1RL_MPI_CHECK(MPI_Bcast(done, 3, MPI_DOUBLE, 0, comm.app()));
    io::Row row = td.iteration(it);
    row["rollout_s"] = done[1];
    row["tokens_per_s"] = done[2];
    row["iteration_s"] = seconds_since_start() - t0;
    if (comm.app_rank() == 0) {
      io::append_rows(metrics_path(cfg), "metrics/1", "iteration", {row});
      K1RL_LOG_INFO("%s", summary_line(row).c_str());
    }
    ++it;
  }
  return 0;
}

int run_rollout_role(const Config& cfg) {
  CommOptions opt;
  opt.role = Role::rollout;
  opt.required = {Role::rollout, Role::reward, Role::train};
  Comm comm = Comm::create(opt);
  RolloutDriver rd(cfg, comm.app());
  model::Model model(model::ModelConfig::from_config(cfg));
  RewardClient client(comm.rollout_reward());
  rollout::ScoreFn score = [&](const std::vector<Answer>& a, int64_t it) { return client.score(a, it); };
  while (true) {
    int64_t hdr[2] = {0, 0};
    bcast_header(comm, hdr);
    if (hdr[1]) break;
    broadcast_weights(comm, model.params(), static_cast<size_t>(model.num_params()), bcast_chunk_floats(cfg));
    const double t0 = seconds_since_start();
    io::Row row = rd.iteration(model, hdr[0], score);
    // Every shard of the iteration is published before train reads them.
    double mine[2] = {row["tokens"], row["gen_s"]}, sum[2] = {0, 0};
    K1RL_MPI_CHECK(MPI_Reduce(mine, sum, 2, MPI_DOUBLE, MPI_SUM, 0, comm.app()));
    if (comm.app_rank() == 0) {
      const double secs = seconds_since_start() - t0;
      double done[3] = {static_cast<double>(hdr[0]), secs, secs > 0 ? sum[0] / secs : 0.0};
      K1RL_MPI_CHECK(MPI_Send(done, 3, MPI_DOUBLE, 0, kTagRolloutDone, comm.train_rollout()));
    }
  }
  client.stop();
  return 0;
}

}  // namespace k1rl::loop
