// k1rl optim: AdamW (decoupled weight decay, PyTorch's formula) over one flat parameter buffer,
// global-norm gradient clipping, and warm-up + cosine or constant learning-rate schedules.
// Usage (one update, after gradients are complete and allreduced):
//   optim::AdamW opt(optim::OptimConfig::from_config(cfg), model.num_params(),
//   model.param_ranges()); optim::StepStats st = opt.step(model.params(), model.grads());
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/buffer.h"
#include "lib/core/core.h"

namespace k1rl::optim {

// The [optim] section.
void declare_optim_options(ConfigSpec& spec);

struct OptimConfig {
  double lr = 3e-4;  // peak learning rate
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;        // decoupled; only on ranges marked decay (matrices)
  double grad_clip = 1.0;           // max global L2 norm; <= 0 disables clipping
  std::string schedule = "cosine";  // "cosine" or "constant"
  int64_t warmup_steps = 0;         // linear warm-up from lr/warmup_steps to lr
  int64_t total_steps = 1000;       // cosine: steps until lr reaches lr·lr_final_frac
  double lr_final_frac = 0.1;
  static OptimConfig from_config(const Config& cfg);  // throws ConfigError on bad values
  void validate() const;
};
// The [optim] options, each bound to its OptimConfig member.
const OptionTable<OptimConfig>& optim_options();

// Learning rate of update number `step` (0 for the first update).
double lr_at(const OptimConfig& c, int64_t step);

// sqrt(Σ g²) over n floats (accumulated in double).
double global_norm(const float* g, int64_t n);
// The factor that brings a gradient of norm `norm` down to at most max_norm (PyTorch's
// clip_grad_norm_: min(1, max_norm / (norm + 1e-6))); 1 when max_norm <= 0.
double clip_factor(double norm, double max_norm);

// A contiguous range of the flat parameter buffer and whether weight decay applies to it.
struct ParamRange {
  int64_t offset = 0, size = 0;
  bool decay = true;
};

struct StepStats {
  double lr = 0, grad_norm = 0, clip_scale = 1;
};

class AdamW {
 public:
  // n: parameters in the flat buffer; ranges cover [0, n) (decay flags per range); an empty
  // list means one range with decay.
  AdamW(const OptimConfig& cfg, int64_t n, std::vector<ParamRange> ranges = {});
  // One update: global norm, clipping factor, scheduled lr, AdamW on every range. The gradient
  // is left untouched (the clipping factor is applied inside the update). Throws NumericError
  // (and changes nothing) when the gradient norm is not finite.
  StepStats step(float* params, const float* grads);
  // Same with a given learning rate (no schedule).
  StepStats step_with_lr(float* params, const float* grads, double lr);
  int64_t step_count() const { return step_; }  // updates done so far
  void set_step_count(int64_t s) { step_ = s; }
  float* m() { return m_.data(); }
  float* v() { return v_.data(); }
  const float* m() const { return m_.data(); }
  const float* v() const { return v_.data(); }
  int64_t size() const { return static_cast<int64_t>(m_.size()); }
  void reset();  // zero moments and step count (k1.5 resets the optimizer every iteration)
  const OptimConfig& config() const { return cfg_; }

 private:
  OptimConfig cfg_;
  std::vector<ParamRange> ranges_;
  ops::Buffer<float, ops::Memory::optimizer> m_, v_;  // the backend's memory
  int64_t step_ = 0;
};

}  // namespace k1rl::optim
