// The MPMD roles of one job: train leads, rollout follows (k1rl-reward serves: loop-reward.cpp).
// Per iteration train app rank 0 broadcasts a header {iteration, stop, policy} to the rollout
// ranks (policy >= 0: θ_policy follows as a weight broadcast; -1: keep the weights held), rollout
// generates, publishes its shards and answers "done", train trains and publishes the checkpoint.
// The order of announcements is StalenessSchedule's (loop-schedule.cpp).
#include <map>

#include "lib/loop/loop.h"

namespace k1rl::loop {

void declare_loop_role_options(ConfigSpec& s) {
  s.add_int(
      "run.staleness", 0,
      "0: rollout of iteration N uses θ_N; 1: rollout of N+1 overlaps training of N and uses θ_N "
      "(MPMD roles; --local ignores it)",
      Check().ge(0).le(1));

  s.add_double("run.peer_timeout_s", 3600,
               "MPMD roles: seconds train rank 0 waits for rollout (its done, the weight "
               "broadcast) and rollout for train's next header, before it ends the job naming the "
               "silent side (0: wait for ever)",
               Check().ge(0));
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

// The "done" message: iteration, rollout seconds, tokens/s, then the slowest rollout rank's
// gen_s, reward_wait_s, publish_s, wait_s.
constexpr int kDone = 7;

Comm join(Role role, std::vector<Role> required) {
  CommOptions opt;
  opt.role = role;
  opt.required = std::move(required);
  return Comm::create(opt);
}

// The train side of the job: announces iterations, waits for rollout, trains, records.
class TrainRole {
 public:
  TrainRole(const Config& cfg, Comm& comm)
      : cfg_(cfg),
        run_(RunDir::from(cfg)),
        comm_(comm),
        watchdog_(comm.app_rank() == 0 ? cfg.get_double("run.peer_timeout_s") : 0) {}

  int run() {
    if (comm_.app_rank() == 0) {
      lock_ = std::make_unique<RunLock>(run_);  // before any file of the run is touched
      write_run_config(cfg_);
    }
    TrainDriver td(cfg_, comm_.app());
    driver_ = &td;
    const int64_t first = td.start();
    if (comm_.app_rank() == 0) discard_untrained_shards(run_, first);
    StalenessSchedule plan(cfg_.get_int("run.staleness"), first, cfg_.get_int("run.iterations"));
    const auto stop = [this] { return stop_agreed(); };
    while (true) {
      if (auto a = plan.begin(stop)) announce(*a);
      if (plan.ended()) {
        send_stop(plan.iteration());
        break;
      }
      const double t0 = announced_at_;
      const double w0 = seconds_since_start();
      const RolloutTimes done = wait_rollout();
      const double wait_rollout_s = seconds_since_start() - w0;
      if (plan.abandon(stop)) {
        abandon(plan);
        break;
      }
      if (auto a = plan.ahead(stop)) announce(*a);
      io::Row row = td.iteration(plan.iteration());
      row["wait_rollout_s"] = wait_rollout_s;
      row["bcast_s"] = bcast_of_[plan.iteration()].seconds;
      row["bcast_bytes"] = bcast_of_[plan.iteration()].bytes;
      bcast_of_.erase(plan.iteration());
      if (comm_.app_rank() == 0)
        record_iteration(run_, row, done, seconds_since_start() - t0, plan.iteration(),
                         plan.policy());
      plan.next();
    }
    return finish(plan);
  }

 private:
  // Train rank 0 decides whether to stop; every train rank learns the same answer (once seen,
  // the answer stays yes without another broadcast).
  bool stop_agreed() {
    if (stopping_) return true;
    int stop = 0;
    if (comm_.app_rank() == 0) {
      why_ = stop_requested();
      stop = why_.empty() ? 0 : 1;
    }
    K1RL_MPI_CHECK(MPI_Bcast(&stop, 1, MPI_INT, 0, comm_.app()));
    return stopping_ = stop != 0;
  }

  // The header, then θ_policy unless rollout holds it.
  void announce(const StalenessSchedule::Announce& a) {
    const double t = seconds_since_start();
    Header h{a.iteration, 0, a.send_weights ? a.policy : -1};
    watchdog_.expect(rollout_ranks(), "the rollout ranks to take iteration " +
                                          std::to_string(a.iteration) + "'s header and weights");
    bcast_header(comm_, h);
    CommTimes& c = bcast_of_[a.iteration];
    if (a.send_weights) {
      model::Model& model = driver_->trainer().model();
      broadcast_weights(comm_, model.params(), static_cast<size_t>(model.num_params()),
                        bcast_chunk_floats(cfg_), &c);
    }
    watchdog_.done();
    announced_at_ = seconds_since_start();
    c.seconds = announced_at_ - t;  // the header and the weights
  }

  void send_stop(int64_t iteration) {
    Header h{iteration, 1, -1};
    bcast_header(comm_, h);
  }

  // Rollout's "done" of an iteration {iteration, rollout seconds, tokens/s, the slowest rollout
  // rank's gen, reward wait, publish and wait seconds}, on every train rank.
  RolloutTimes wait_rollout() {
    double done[kDone] = {};
    if (comm_.app_rank() == 0) {
      watchdog_.expect(rollout_ranks() + ", or the reward rank (world rank " +
                           std::to_string(comm_.leader_of(Role::reward)) + ") they wait for",
                       "rollout's done of the iteration announced");
      K1RL_MPI_CHECK(MPI_Recv(done, kDone, MPI_DOUBLE, 0, kTagRolloutDone, comm_.train_rollout(),
                              MPI_STATUS_IGNORE));
      watchdog_.done();
    }
    K1RL_MPI_CHECK(MPI_Bcast(done, kDone, MPI_DOUBLE, 0, comm_.app()));
    RolloutTimes t{done[1], done[2]};
    t.gen_s = done[3], t.reward_wait_s = done[4], t.publish_s = done[5], t.wait_s = done[6];
    return t;
  }

  // Stopped while rollout generated plan.iteration() ahead: it is not trained.
  void abandon(const StalenessSchedule& plan) {
    if (comm_.app_rank() == 0)
      K1RL_LOG_WARN(
          "abandoning iteration %lld (generated ahead with θ_%lld): its shards are removed "
          "when the run resumes",
          static_cast<long long>(plan.iteration()), static_cast<long long>(plan.policy()));
    send_stop(plan.iteration() + 1);
  }

  int finish(const StalenessSchedule& plan) {
    if (!stopping_ || plan.trained() >= plan.iterations()) return kExitOk;
    if (comm_.app_rank() == 0)
      K1RL_LOG_WARN(
          "stopped early on %s after %lld of %lld iteration(s); %s/latest is %s; "
          "resubmit to continue (exit %d)",
          why_.c_str(), static_cast<long long>(plan.trained()),
          static_cast<long long>(plan.iterations()), run_.ckpt_dir().c_str(),
          RunDir::ckpt_name(plan.iteration()).c_str(), static_cast<int>(kExitStoppedEarly));
    return kExitStoppedEarly;
  }

  std::string rollout_ranks() const {
    return strfmt("the rollout ranks (rollout rank 0 is world rank %d)",
                  comm_.leader_of(Role::rollout));
  }

  const Config& cfg_;
  const RunDir run_;
  Comm& comm_;
  PeerWatchdog watchdog_;  // train rank 0's waits on rollout
  std::unique_ptr<RunLock> lock_;
  TrainDriver* driver_ = nullptr;
  double announced_at_ = 0;                // when the last announcement went out
  std::map<int64_t, CommTimes> bcast_of_;  // announced iteration -> its header + weights
  bool stopping_ = false;                  // a stop request was agreed
  std::string why_;                        // its reason (train rank 0)
};
}  // namespace

int run_train_role(const Config& cfg) {
  Comm comm = join(Role::train, {Role::rollout, Role::train});
  install_stop_handler();
  K1RL_LOG_INFO("roles: %s", comm.describe().c_str());
  return TrainRole(cfg, comm).run();
}

int run_rollout_role(const Config& cfg) {
  Comm comm = join(Role::rollout, {Role::rollout, Role::reward, Role::train});
  install_stop_handler();  // a SIGUSR1 forwarded by mpiexec must not end a rollout rank
  // The run directory (sampler.h5, shards) is read only after train's first header: train sends it
  // once it holds the run lock, so a second job on a run in use never touches its files.
  std::unique_ptr<RolloutDriver> rd;
  model::Model model(model::ModelConfig::from_config(cfg));
  RewardClient client(comm.rollout_reward());
  rollout::ScoreFn score = [&](const std::vector<Answer>& a, int64_t it) {
    return client.score(a, it);
  };
  PeerWatchdog watchdog(cfg.get_double("run.peer_timeout_s"));
  while (true) {
    Header h;
    const double w0 = seconds_since_start();  // idle until train announces the next iteration
    if (rd)  // not before the first header: train may first run a long SFT warm-up
      watchdog.expect(strfmt("train rank 0 (world rank %d)", comm.leader_of(Role::train)),
                      "the next iteration's header and weights");
    bcast_header(comm, h);
    const double wait = seconds_since_start() - w0;
    if (h.stop) break;
    if (!rd) rd = std::make_unique<RolloutDriver>(cfg, comm.app());
    CommTimes bc;
    if (h.policy >= 0)
      broadcast_weights(comm, model.params(), static_cast<size_t>(model.num_params()),
                        bcast_chunk_floats(cfg), &bc);
    watchdog.done();
    const double t0 = seconds_since_start();
    io::Row row =
        rd->iteration(model, h.iteration, score, {{"wait_s", wait}, {"bcast_s", bc.seconds}});
    // Every shard of the iteration is published before train reads them.
    double mine = row["tokens"], sum = 0;
    K1RL_MPI_CHECK(MPI_Reduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, comm.app()));
    double slow[4] = {row["gen_s"], row["reward_wait_s"], row["publish_s"], wait}, slowest[4] = {};
    K1RL_MPI_CHECK(MPI_Reduce(slow, slowest, 4, MPI_DOUBLE, MPI_MAX, 0, comm.app()));
    if (comm.app_rank() == 0) {
      const double secs = seconds_since_start() - t0;
      double done[kDone] = {static_cast<double>(h.iteration),
                            secs,
                            secs > 0 ? sum / secs : 0.0,
                            slowest[0],
                            slowest[1],
                            slowest[2],
                            slowest[3]};
      K1RL_MPI_CHECK(MPI_Send(done, kDone, MPI_DOUBLE, 0, kTagRolloutDone, comm.train_rollout()));
    }
  }
  client.stop();
  return 0;
}

}  // namespace k1rl::loop
