// Trainer set-up, the [train] options, gradient allreduce and checkpoints.
#include <climits>
#include <filesystem>

#include "lib/train/train.h"

namespace k1rl::train {

const OptionTable<TrainConfig>& train_options() {
  using T = TrainConfig;
  static const auto t =
      OptionTable<T>()
          .choice("train.mode", &T::mode, {"sft", "rl", "dpo", "shortest_rejection"},
                  "sft: warm-up only; rl: warm-up (if no checkpoint) then RL; dpo, "
                  "shortest_rejection: long2short from train.init_checkpoint (docs/long2short.md)")
          .add("train.groups_per_step", &T::groups_per_step,
               "rl: prompt groups (k answers each) per optimizer step", Check().ge(1))
          .add("train.micro_batch_tokens", &T::micro_batch_tokens,
               "tokens per forward/backward pass on one rank", Check().ge(1))
          .add("train.recompute", &T::recompute,
               "keep only each block's input of a micro-batch and compute the rest again in "
               "the backward: activation memory ~16x smaller for ~25% more train time "
               "(docs/engine.md, Memory)")
          .add("train.epochs", &T::epochs, "rl: passes over one iteration's groups", Check().ge(1))
          .add("train.reset_optimizer", &T::reset_optimizer,
               "rl: reset AdamW moments every iteration (k1.5)")
          .add("train.rl_lr", &T::rl_lr, "rl: constant learning rate", Check().ge(0))
          .add("train.sft_steps", &T::sft_steps, "SFT warm-up steps before the first RL iteration",
               Check().ge(0))
          .add("train.sft_batch", &T::sft_batch, "sequences per SFT step (all ranks together)",
               Check().ge(1))
          .choice("train.sft_style", &T::sft_style, {"short", "long"},
                  "SFT solutions: short, or the long self-checking chain of thought")
          .add("train.sft_long_frac", &T::sft_long_frac,
               "sft_style = long: share of examples on solution_long; the rest use the task's "
               "concise solution (solution_concise, else solution): a long model that knows a "
               "length distribution (docs/long2short.md)",
               Check().ge(0).le(1));
  return t;
}

void declare_train_options(ConfigSpec& s) {
  train_options().declare(s);
  s.add_string("train.init_checkpoint", "",
               "a fresh run starts from this checkpoint's weights (e.g. an imported model) "
               "instead of seeded ones; the SFT warm-up still runs when sft_steps > 0");
}

TrainConfig TrainConfig::from(const Config& cfg) {
  TrainConfig t = train_options().read(cfg);  // every key was checked when cfg was read
  // The trainer applies the rollout's temperature to the logits (docs/rl.md, "Sampling and the
  // loss"); a greedy rollout (temperature 0) stores T = 1 log-probs.
  const double temp = cfg.get_double("rollout.temperature");
  t.sample_temperature = temp > 0 ? temp : 1.0;
  return t;
}

int64_t latest_checkpoint(const RunDir& run) {
  const std::string latest = run.ckpt_latest();
  if (!io::file_exists(latest)) return -1;
  const std::string name = io::read_text(latest);
  int64_t it = -1;
  if (!RunDir::parse_ckpt_name(name, it))
    throw IoError(
        "bad checkpoint pointer '" + latest + "'", "it holds '" + name + "'",
        "write the name of a checkpoint (it_000012.h5) into it, or delete it to start afresh");
  if (!io::file_exists(run.ckpt(it)))
    throw IoError("'" + latest + "' names a missing checkpoint", run.ckpt(it) + " does not exist",
                  "point latest at an existing checkpoint");
  return it;
}

Trainer::Trainer(const Config& cfg, MPI_Comm comm)
    : comm_(comm),
      cfg_(cfg),
      tc_(TrainConfig::from(cfg)),
      tok_(make_tokenizer(cfg)),
      rng_(static_cast<uint64_t>(cfg.get_int("run.seed")), 0x7a1) {
  if (comm_ != MPI_COMM_NULL) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  model::ModelConfig mc = model::ModelConfig::from_config(cfg);
  if (tok_->vocab_size() > mc.vocab)
    throw ConfigError("model.vocab is too small for the tokenizer",
                      strfmt("the tokenizer has %d ids, model.vocab = %lld", tok_->vocab_size(),
                             static_cast<long long>(mc.vocab)),
                      strfmt("set model.vocab = %d", tok_->vocab_size()));
  model_ = std::make_unique<model::Model>(mc);
  model_->init_params(static_cast<uint64_t>(cfg.get_int("run.seed")));
  model_->set_recompute(tc_.recompute);
  opt_ = std::make_unique<optim::AdamW>(optim::OptimConfig::from_config(cfg), model_->num_params(),
                                        model_->param_ranges());
  format_ = policy::prompt_format(cfg, *tok_);
}

void Trainer::allreduce(float* data, int64_t n) const {
  if (size_ <= 1) return;
  const double t0 = seconds_since_start();
  for (int64_t off = 0; off < n; off += INT_MAX / 2) {
    int count = static_cast<int>(std::min<int64_t>(n - off, INT_MAX / 2));
    K1RL_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, comm_));
  }
  allreduce_s_ += seconds_since_start() - t0;
  allreduce_bytes_ += static_cast<double>(n) * sizeof(float);
}

void Trainer::allreduce(double* data, int n) const {
  if (size_ <= 1) return;
  K1RL_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, n, MPI_DOUBLE, MPI_SUM, comm_));
}

void Trainer::save(int64_t iteration) {
  check_finite(*model_, opt_.get(), "checkpoint it_" + std::to_string(iteration));
  if (rank_ == 0) {
    const RunDir run = RunDir::from(cfg_);
    io::make_dirs(run.ckpt_dir());
    model::TrainState st{step_, iteration, rng_.state()};
    model::save_checkpoint(run.ckpt(iteration), *model_, keeps_optimizer() ? opt_.get() : nullptr,
                           st);
    io::publish_text(run.ckpt_latest(), RunDir::ckpt_name(iteration) + "\n");
  }
  if (size_ > 1) K1RL_MPI_CHECK(MPI_Barrier(comm_));
}

void Trainer::load_weights(const std::string& path) {
  model::load_checkpoint(RunDir::resolve_checkpoint(path), *model_, nullptr);
}

void Trainer::load(const std::string& path) {
  model::TrainState st =
      model::load_checkpoint(path, *model_, keeps_optimizer() ? opt_.get() : nullptr);
  step_ = st.step;
  if (st.rng_state.size() == 4) rng_.set_state(st.rng_state);
}

}  // namespace k1rl::train
