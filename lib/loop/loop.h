// k1rl loop: the RL iteration of DESIGN.md, as the three roles of an MPMD job (k1rl-rollout,
// k1rl-reward, k1rl-train talking over lib/comm's intercommunicators) and as one in-process loop
// (benchmarks, tests, laptops). Both run the same drivers:
//   RolloutDriver: sampler on the master, pending trajectories from the last shard, one
//                  RolloutWorker iteration, shard + sampler.h5 + /rollout metrics;
//   TrainDriver:   resume from ckpt/latest or warm up with SFT, one RL update per iteration
//                  on the iteration's ready groups, checkpoint + latest + /train metrics;
// and end an iteration the same way (record_iteration: the /iteration row and the log line).
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lib/comm/comm.h"
#include "lib/rl/rl.h"
#include "lib/rollout/rollout.h"
#include "lib/rundir/rundir.h"
#include "lib/train/train.h"

namespace k1rl::loop {

void declare_loop_options(ConfigSpec& spec);       // run.iterations
void declare_loop_role_options(ConfigSpec& spec);  // run.staleness

// Writes <run>/config.ini once (the resolved config); later jobs keep the first one.
void write_run_config(const Config& cfg);

class RolloutDriver {
 public:
  // comm: the rollout ranks (MPI_COMM_NULL: a single rank).
  RolloutDriver(const Config& cfg, MPI_Comm comm);
  const Tokenizer& tokenizer() const { return *tok_; }
  // Iteration `it` with the policy `model`; scores through `score`. Returns this rank's metrics
  // (its /rollout row, with `extra`'s columns: the role's timers, docs/metrics.md "Time split").
  io::Row iteration(const model::Model& model, int64_t it, const rollout::ScoreFn& score,
                    const io::Row& extra = {});
  // Parked answers continue from kept keys and values across training steps.
  bool keeps_stale_cache() const {
    const rollout::RolloutConfig& rc = worker_->config();
    return rc.partial && rc.parked_cache == rollout::ParkedCache::stale;
  }

 private:
  // This rank's new prompts and refill prompts, drawn by the master.
  std::pair<std::vector<int64_t>, std::vector<int64_t>> my_prompts(int64_t iteration);
  std::vector<buffer::Trajectory> pending_trajectories(int64_t iteration) const;
  void update_sampler(const std::vector<std::pair<int64_t, double>>& success, int64_t it);
  void exclude_long_prompts();  // master: prompts too long for model.max_seq are never drawn
  const Config& cfg_;
  RunDir run_;
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<Task> tasks_;
  std::unique_ptr<rollout::RolloutWorker> worker_;
  std::unique_ptr<rl::PromptSampler> sampler_;  // master only
  bool sampler_loaded_ = false;  // sampler.h5 is read at the first iteration (its resume point)
};

class TrainDriver {
 public:
  TrainDriver(const Config& cfg, MPI_Comm comm);
  train::Trainer& trainer() { return trainer_; }
  // The iteration to run next: from ckpt/latest, or 0 after an SFT warm-up that publishes
  // ckpt/it_000000.h5 (train.sft_steps, may be 0).
  int64_t start();
  // Train on the ready groups of iteration `it`, publish θ_{it+1}. Returns a summary row.
  io::Row iteration(int64_t it);

 private:
  const Config& cfg_;
  RunDir run_;
  int rank_ = 0;
  train::Trainer trainer_;
};

// How rollout's side of an iteration went, as train sees it.
struct RolloutTimes {
  double seconds = 0;       // from the announcement to the last shard published
  double tokens_per_s = 0;  // generated tokens over those seconds, all rollout ranks
  // The slowest rollout rank's gen_s, reward_wait_s, publish_s and wait_s (docs/metrics.md "Time
  // split"); NaN: not measured, not recorded.
  double gen_s = kNaN, reward_wait_s = kNaN, publish_s = kNaN, wait_s = kNaN;
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
};
// Ends an iteration, the same in both loops: completes train's summary row with rollout's times,
// the iteration's wall time and the policy that generated it (policy_iteration), appends it to
// /iteration of metrics.h5 and logs the summary line. Called by train rank 0 (or run_local).
io::Row record_iteration(const RunDir& run, io::Row row, const RolloutTimes& rollout,
                         double iteration_s, int64_t iteration, int64_t policy);

// "iteration 3 | answers 64 reward 0.61 ... | rollout 1.2 s (812 tok/s) train 3.4 s"
std::string summary_line(const io::Row& r);

// The order in which the MPMD train role announces iterations to rollout and trains them
// (run.staleness), as a pure state machine so that it is tested without MPI:
//   staleness 0: announce N with θ_N, wait for its shards, train N, announce N+1, ...;
//   staleness 1: as soon as rollout reports N done, announce N+1 with θ_N (what train holds),
//                then train N: rollout generates N+1 while train trains N; θ_{N+1} goes out
//                with N+2's announcement.
// A round: begin() (maybe an announcement; ended() when the run stops here), wait for rollout's
// done, abandon() (stopped while iteration() was generated ahead: it is not trained), ahead()
// (maybe the next announcement), train iteration(), next(). `stop` asks whether a stop request
// is agreed; the schedule asks it only where it may stop, as the role always did.
class StalenessSchedule {
 public:
  struct Announce {
    int64_t iteration = 0;
    int64_t policy = 0;         // the θ rollout generates it with
    bool send_weights = false;  // false: rollout already holds θ_policy
  };
  using StopFn = std::function<bool()>;
  // first: the job's first iteration; iterations: run.iterations; staleness 1 runs one ahead,
  // 0 does not (the option refuses other values).
  StalenessSchedule(int64_t staleness, int64_t first, int64_t iterations);
  std::optional<Announce> begin(const StopFn& stop);
  bool ended() const { return ended_; }
  bool abandon(const StopFn& stop);
  std::optional<Announce> ahead(const StopFn& stop);
  void next();
  int64_t iteration() const { return it_; }         // this round's iteration
  int64_t policy() const { return policy_; }        // the θ that generated iteration()
  int64_t trained() const { return it_ - first_; }  // iterations this job trained
  int64_t iterations() const { return K_; }

 private:
  Announce announce(int64_t iteration, int64_t policy);
  bool stale_;
  int64_t first_, K_, it_, n_ = 0;
  int64_t held_ = -1;    // the policy the rollout ranks hold
  int64_t policy_ = -1;  // this round's policy
  bool ahead_ = false;   // iteration() was announced in the previous round
  bool ended_ = false;
};

// The roles of an MPMD run (mpiexec -n R k1rl-rollout : -n 1 k1rl-reward : -n T k1rl-train).
// Train rank 0 leads: per iteration it broadcasts (iteration, stop, policy) and θ to the rollout
// ranks, which answer "done" when every shard of the iteration is published; the order is
// StalenessSchedule's; after run.iterations it broadcasts stop. A job's first iteration always
// uses the newest checkpoint. run_train_role returns kExitStoppedEarly (75) when a stop request
// (below) ended the job before run.iterations.
int run_rollout_role(const Config& cfg);
int run_train_role(const Config& cfg);
inline constexpr int kTagRolloutDone = 6201;

// k1rl-reward: serves the rollout ranks over the rollout<->reward intercommunicator (one /reward
// row per iteration and reward rank), or with `score_file` set scores a JSON Lines file offline.
struct RewardRoleOptions {
  std::string tasks;             // task files, comma-separated; empty: reward.tasks (lib/reward)
  std::string score_file;        // offline: the answers to score
  std::string out;               // offline: where the scores go (default <input>.scores.jsonl)
  std::string iteration = "-1";  // offline: the answers' iteration (length penalty warm-up)
};
int run_reward_role(const Config& cfg, const RewardRoleOptions& opt);

// Stop requests (docs/running.md): SIGUSR1 to this process, or the file named by the environment
// variable K1RL_STOP_FILE existing. stop_requested() says why ("" when none); train checks it
// between iterations, finishes the iteration whose rollout is done and abandons one announced
// ahead (staleness 1), then stops every app.
void install_stop_handler();  // SIGUSR1 sets the flag instead of ending the process
std::string stop_requested();
void clear_stop_request();

// Bounds a role's waits on its peers (run.peer_timeout_s, docs/running.md): between expect() and
// done() a watchdog thread ends the process after timeout_s seconds with the one-line error
// "no word from <silent>: waited N s for <what>" and exit 2, so that mpiexec ends the job instead
// of every rank waiting for ever on a stopped (SIGSTOP), hung or lost peer. timeout_s <= 0: off.
class PeerWatchdog {
 public:
  explicit PeerWatchdog(double timeout_s);
  ~PeerWatchdog();
  void expect(std::string silent, std::string what);
  void done();

 private:
  void watch();
  double timeout_s_, since_ = 0;
  bool armed_ = false, quit_ = false;
  std::string silent_, what_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

// One job per run directory: holds an fcntl lock on <run>/.lock (with the owner's host, pid and
// Slurm job written in it) while it lives; a second holder gets a ConfigError naming the first.
// The lock goes with the process, so a killed job never leaves it behind. Train rank 0 takes it.
class RunLock {
 public:
  explicit RunLock(const RunDir& run);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the buffer shards of iterations >= `from` (untrained: the iteration in flight when a job
// stopped or died); train rank 0 calls it before the first iteration of a job. Returns how many.
int discard_untrained_shards(const RunDir& run, int64_t from);

// Retention of ckpt/ and buffer/ (lib/loop/loop-retention.cpp, docs/post-processing.md): the
// newest run.keep_checkpoints checkpoints (0: all), every run.keep_every-th and it_000000.h5 for
// good; buffer shards of iterations below latest − 1 are deleted except every
// run.keep_shards_every-th (1: all kept). Train rank 0 prunes after publishing ckpt/latest.
void declare_retention_options(ConfigSpec& spec);
struct Retention {
  int64_t keep_checkpoints = 3, keep_every = 0, keep_shards_every = 10;
  static Retention from(const Config& cfg);
};
// Of the checkpoint / shard iterations present, those to delete once `latest` is published.
std::vector<int64_t> checkpoints_to_delete(std::vector<int64_t> present, int64_t latest,
                                           const Retention& r);
std::vector<int64_t> shard_iterations_to_delete(const std::vector<int64_t>& present, int64_t latest,
                                                const Retention& r);
// Deletes what the two above name, reading ckpt/latest from disk as a resume would. Returns the
// number of files deleted; a failed delete only warns.
int prune_run(const RunDir& run, const Retention& r);

// Everything in this process: run.iterations iterations from where the run directory stands.
// Returns the summary row of each iteration.
std::vector<io::Row> run_local(const Config& cfg);

}  // namespace k1rl::loop
