// k1rl train: the trainer behind k1rl-train. SFT warm-up on worked solutions (long-CoT style),
// and one RL update per iteration from the buffer's ready groups with the k1.5 / GRPO /
// PPO-clip / REINFORCE losses of lib/rl, data-parallel over the ranks of `comm` (gradients are
// summed with MPI_Allreduce). Checkpoints in checkpoint/1 under <run>/ckpt with `latest`.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/buffer/buffer.h"
#include "lib/core/core.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "lib/optim/optim.h"
#include "lib/policy/policy.h"
#include "lib/rundir/rundir.h"
#include "lib/tasks/tasks.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::train {

void declare_train_options(ConfigSpec& spec);  // [train] (the loss keys are lib/rl's)

struct TrainConfig {
  std::string mode = "rl";            // sft | rl | dpo | shortest_rejection
  int64_t groups_per_step = 8;        // rl: prompt groups per optimizer step (all ranks)
  int64_t micro_batch_tokens = 4096;  // tokens per forward/backward pass on one rank
  bool recompute = false;             // keep block inputs only; recompute in the backward
  int64_t epochs = 1;                 // rl: passes over one iteration's groups
  bool reset_optimizer = true;        // rl: fresh AdamW moments every iteration (k1.5)
  double rl_lr = 1e-4;                // rl: constant learning rate
  int64_t sft_steps = 200;            // SFT warm-up steps before the first RL iteration
  int64_t sft_batch = 32;             // sequences per SFT step (all ranks)
  std::string sft_style = "short";    // short | long solutions
  double sft_long_frac = 1.0;         // long style: share of solution_long, else the concise one
  // rl: log π_θ is that of softmax(logits/T) with T the rollout's sampling temperature
  // (rollout.temperature; 1 for greedy rollouts): the convention of the stored log-probs
  // (docs/rl.md "Sampling and the loss").
  double sample_temperature = 1.0;
  static TrainConfig from(const Config& cfg);
};
// The [train] options (the loss keys are lib/rl's), each bound to its TrainConfig member.
const OptionTable<TrainConfig>& train_options();

// The SFT target of one drawn task: sft_style = short: `solution`; long: `solution_long` with
// probability sft_long_frac, else `solution_concise` (`solution` when a task has none). A draw
// from `rng` only when 0 < sft_long_frac < 1 (every rank makes it, so ranks stay in step); a task
// without the chosen text falls back to the other, then to `answer`.
const std::string& sft_solution(const TrainConfig& tc, const Task& t, Rng& rng);

// The iteration named by <run>/ckpt/latest, or -1 when there is none (names: lib/rundir).
int64_t latest_checkpoint(const RunDir& run);

// One DPO pair as the trainer sees it (lib/long2short owns the data): prompt + answer sequences
// and Σ log π_ref over each answer's tokens.
struct DpoPairRef {
  const std::vector<int32_t>* chosen = nullptr;
  const std::vector<int32_t>* rejected = nullptr;
  int32_t prompt_len = 0;
  double ref_chosen = 0, ref_rejected = 0;
};

// Throws NumericError naming the first tensor of `model` (and of `opt`'s moments, when given)
// that holds a NaN or an infinity: nothing non-finite is ever published as a checkpoint.
void check_finite(const model::Model& model, const optim::AdamW* opt, const std::string& what);

class Trainer {
 public:
  // Builds the model of [model] and the tokenizer of [tokenizer]; parameters are seeded from
  // run.seed (call load() to start from a checkpoint instead). comm: the train ranks
  // (MPI_COMM_NULL or a 1-rank communicator: no allreduce).
  Trainer(const Config& cfg, MPI_Comm comm);
  model::Model& model() { return *model_; }
  const Tokenizer& tokenizer() const { return *tok_; }
  policy::PromptFormat prompt_format() const { return format_; }

  // SFT on worked solutions: `steps` updates of sft_batch sequences; one metrics row per step.
  std::vector<io::Row> sft(const std::vector<Task>& tasks, int64_t steps);
  // One RL iteration on the ready trajectories of `iteration` (every rank passes the same list;
  // each takes its share of the groups). One metrics row per optimizer step.
  std::vector<io::Row> rl_iteration(const std::vector<buffer::Trajectory>& trajs,
                                    int64_t iteration);

  // DPO (train.mode = dpo; lib/rl/rl-dpo.cpp): `steps` updates of `batch` pairs drawn from
  // `pairs` (every rank passes the same list); one metrics row per step.
  std::vector<io::Row> dpo(const std::vector<DpoPairRef>& pairs, int64_t steps, int64_t batch);

  // Seconds in the gradient allreduce and its payload bytes (4 per parameter per step), summed
  // since construction; 0 on one rank.
  double allreduce_s() const { return allreduce_s_; }
  double allreduce_bytes() const { return allreduce_bytes_; }

  // ckpt/it_<iteration>.h5 and latest (rank 0 writes). Every rank first checks its weights and
  // optimizer state finite (NumericError, nothing published otherwise), so `latest` only ever
  // names a finite checkpoint. The AdamW moments are stored only when a later step uses them
  // (keeps_optimizer): with train.reset_optimizer (k1.5's default) every RL iteration starts
  // them afresh, and SFT, DPO and shortest-rejection runs end at their checkpoint, so writing
  // them would triple each checkpoint (SmolLM2: 0.54 instead of 1.9 GB) for nothing.
  void save(int64_t iteration);
  bool keeps_optimizer() const { return tc_.mode == "rl" && !tc_.reset_optimizer; }
  // Loads the checkpoint `latest` names; when that one is corrupt, truncated or not finite, the
  // newest older intact one (a warning names the bad file; rank 0 points latest at the one
  // loaded). Returns its iteration, -1 when ckpt/ holds no checkpoint; IoError when none loads.
  int64_t resume(const RunDir& run);
  void load(const std::string& path);  // parameters, optimizer state (keeps_optimizer), step, RNG
  void load_weights(const std::string& path);  // parameters only (a fresh run's starting point)
  int64_t step() const { return step_; }

 private:
  void allreduce(float* data, int64_t n) const;
  void allreduce(double* data, int n) const;
  int rank_ = 0, size_ = 1;
  MPI_Comm comm_;
  const Config& cfg_;
  TrainConfig tc_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<optim::AdamW> opt_;
  std::unique_ptr<Tokenizer> tok_;
  policy::PromptFormat format_;
  Rng rng_;
  int64_t step_ = 0;
  mutable double allreduce_s_ = 0, allreduce_bytes_ = 0;
};

}  // namespace k1rl::train
