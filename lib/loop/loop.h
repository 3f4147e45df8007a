// k1rl loop: the RL iteration of DESIGN.md, as the three roles of an MPMD job (k1rl-rollout,
// k1rl-reward, k1rl-train talking over lib/comm's intercommunicators) and as one in-process loop
// (benchmarks, tests, laptops). Both run the same drivers:
//   RolloutDriver: sampler on the master, pending trajectories from the last shard, one
//                  RolloutWorker iteration, shard + sampler.h5 + /rollout metrics;
//   TrainDriver:   resume from ckpt/latest or warm up with SFT, one RL update per iteration
//                  on the iteration's ready groups, checkpoint + latest + /train metrics.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/comm/comm.h"
#include "lib/rl/rl.h"
#include "lib/rollout/rollout.h"
#include "lib/train/train.h"

namespace k1rl::loop {

void declare_loop_options(ConfigSpec& spec);  // run.iterations

std::string buffer_dir(const Config& cfg);    // <run>/buffer
std::string metrics_path(const Config& cfg);  // <run>/metrics.h5
std::string sampler_path(const Config& cfg);  // <run>/sampler.h5
// Writes <run>/config.ini once (the resolved config); later jobs keep the first one.
void write_run_config(const Config& cfg);

class RolloutDriver {
 public:
  // comm: the rollout ranks (MPI_COMM_NULL: a single rank).
  RolloutDriver(const Config& cfg, MPI_Comm comm);
  const Tokenizer& tokenizer() const { return *tok_; }
  // One iteration with the policy `model`; scores through `score`. Returns this rank's metrics.
  io::Row iteration(const model::Model& model, int64_t iteration, const rollout::ScoreFn& score);

 private:
  const Config& cfg_;
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  std::unique_ptr<Tokenizer> tok_;
  std::vector<Task> tasks_;
  std::unique_ptr<rollout::RolloutWorker> worker_;
  std::unique_ptr<rl::PromptSampler> sampler_;  // master only
};

class TrainDriver {
 public:
  TrainDriver(const Config& cfg, MPI_Comm comm);
  train::Trainer& trainer() { return trainer_; }
  // The iteration to run next: from ckpt/latest, or 0 after an SFT warm-up that publishes
  // ckpt/it_000000.h5 (train.sft_steps, may be 0).
  int64_t start();
  // Train on the ready groups of `iteration`, publish θ_{iteration+1}. Returns a summary row.
  io::Row iteration(int64_t iteration);

 private:
  const Config& cfg_;
  int rank_ = 0;
  train::Trainer trainer_;
};

// The roles of an MPMD run (mpiexec -n R k1rl-rollout : -n 1 k1rl-reward : -n T k1rl-train);
// k1rl-reward serves with lib/reward's reward_serve. Train rank 0 leads: per iteration it
// broadcasts (iteration, stop, policy) and θ to the rollout ranks, which answer "done" when every
// shard of the iteration is published; after run.iterations it broadcasts stop. With run.staleness
// = 1, train announces iteration N+1 as soon as rollout reports N done, so rollout generates N+1
// with θ_N while train trains on N; θ_{N+1} goes out with N+2's header. A job's first iteration
// always uses the newest checkpoint. run_train_role returns kExitStoppedEarly (75) when a stop
// request (below) ended the job before run.iterations.
int run_rollout_role(const Config& cfg);
int run_train_role(const Config& cfg);
inline constexpr int kTagRolloutDone = 6201;
// = lib/app's kExitRequeue (lib/app depends on lib/loop, not the other way).
inline constexpr int kExitStoppedEarly = 75;
void declare_loop_role_options(ConfigSpec& spec);  // run.staleness

// Stop requests (docs/running.md): SIGUSR1 to this process, or the file named by the environment
// variable K1RL_STOP_FILE existing. stop_requested() says why ("" when none); train checks it
// between iterations, finishes the iteration whose rollout is done and abandons one announced
// ahead (staleness 1), then stops every app.
void install_stop_handler();  // SIGUSR1 sets the flag instead of ending the process
std::string stop_requested();
void clear_stop_request();

// One job per run directory: holds an fcntl lock on <run>/.lock (with the owner's host, pid and
// Slurm job written in it) while it lives; a second holder gets a ConfigError naming the first.
// The lock goes with the process, so a killed job never leaves it behind. Train rank 0 takes it.
class RunLock {
 public:
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the buffer shards of iterations >= `from` (untrained: the iteration in flight when a job
// stopped or died); train rank 0 calls it before the first iteration of a job. Returns how many.
int discard_untrained_shards(const Config& cfg, int64_t from);

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
int prune_run(const Config& cfg);

// Everything in this process: run.iterations iterations from where the run directory stands.
// Returns the summary row of each iteration.
std::vector<io::Row> run_local(const Config& cfg);

// "it 3 | reward 0.61 acc 0.58 len 12.1 | loss 0.021 kl 0.003 | 812 tok/s | 14.2 s"
std::string summary_line(const io::Row& r);

}  // namespace k1rl::loop
