// AdamW, clipping and schedules: the update maths is kernels' adamw_update; this file adds the
// config section, the schedule and the bookkeeping (step count, ranges with and without decay).
#include "lib/optim/optim.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace k1rl::optim {

void declare_optim_options(ConfigSpec& s) {
  s.add_double("optim.lr", 3e-4, "peak learning rate")
      .add_double("optim.beta1", 0.9, "AdamW first-moment decay")
      .add_double("optim.beta2", 0.95, "AdamW second-moment decay")
      .add_double("optim.eps", 1e-8, "AdamW epsilon")
      .add_double("optim.weight_decay", 0.1,
                  "decoupled weight decay on weight matrices (not on norms or biases)")
      .add_double("optim.grad_clip", 1.0, "clip the global gradient L2 norm to this; 0 = off")
      .add_choice("optim.schedule", "cosine", {"cosine", "constant"},
                  "learning-rate schedule after the warm-up")
      .add_int("optim.warmup_steps", 0, "linear warm-up steps")
      .add_int("optim.total_steps", 1000, "cosine: steps until lr reaches lr*lr_final_frac")
      .add_double("optim.lr_final_frac", 0.1, "cosine: final learning rate as a fraction of lr");
}

OptimConfig OptimConfig::from_config(const Config& cfg) {
  OptimConfig c;
  c.lr = cfg.get_double("optim.lr");
  c.beta1 = cfg.get_double("optim.beta1");
  c.beta2 = cfg.get_double("optim.beta2");
  c.eps = cfg.get_double("optim.eps");
  c.weight_decay = cfg.get_double("optim.weight_decay");
  c.grad_clip = cfg.get_double("optim.grad_clip");
  c.schedule = cfg.get_string("optim.schedule");
  c.warmup_steps = cfg.get_int("optim.warmup_steps");
  c.total_steps = cfg.get_int("optim.total_steps");
  c.lr_final_frac = cfg.get_double("optim.lr_final_frac");
  c.validate();
  return c;
}

void OptimConfig::validate() const {
  auto bad = [](const char* key, const std::string& why) {
    throw ConfigError(std::string("bad value for optim.") + key, why,
                      "fix it in the [optim] section or with --optim." + std::string(key) + "=...");
  };
  if (!(lr >= 0)) bad("lr", "must be >= 0");
  if (!(beta1 >= 0 && beta1 < 1)) bad("beta1", "must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) bad("beta2", "must be in [0, 1)");
  if (!(eps > 0)) bad("eps", "must be > 0");
  if (!(weight_decay >= 0)) bad("weight_decay", "must be >= 0");
  if (schedule != "cosine" && schedule != "constant") bad("schedule", "cosine or constant");
  if (warmup_steps < 0) bad("warmup_steps", "must be >= 0");
  if (total_steps < 1) bad("total_steps", "must be >= 1");
  if (!(lr_final_frac >= 0 && lr_final_frac <= 1)) bad("lr_final_frac", "must be in [0, 1]");
}

double lr_at(const OptimConfig& c, int64_t step) {
  if (step < c.warmup_steps)
    return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  if (c.schedule == "constant") return c.lr;
  const double span = static_cast<double>(std::max<int64_t>(1, c.total_steps - c.warmup_steps));
  double progress = static_cast<double>(step - c.warmup_steps) / span;
  progress = std::min(1.0, std::max(0.0, progress));
  const double lo = c.lr * c.lr_final_frac;
  return lo + 0.5 * (c.lr - lo) * (1.0 + std::cos(M_PI * progress));
}

double global_norm(const float* g, int64_t n) {
  return std::sqrt(ops::sum_squares(g, n));
}

double clip_factor(double norm, double max_norm) {
  if (max_norm <= 0) return 1.0;
  return std::min(1.0, max_norm / (norm + 1e-6));
}

AdamW::AdamW(const OptimConfig& cfg, int64_t n, std::vector<ParamRange> ranges)
    : cfg_(cfg), ranges_(std::move(ranges)), m_(n, 0.f), v_(n, 0.f) {
  cfg_.validate();
  if (ranges_.empty()) ranges_.push_back({0, n, true});
  int64_t covered = 0;
  for (const auto& r : ranges_) {
    if (r.offset < 0 || r.size < 0 || r.offset + r.size > n)
      throw InputError("bad AdamW parameter range",
                       strfmt("[%lld, %lld) is outside [0, %lld)", static_cast<long long>(r.offset),
                              static_cast<long long>(r.offset + r.size), static_cast<long long>(n)),
                       "this is a bug in the caller");
    covered += r.size;
  }
  if (covered != n)
    throw InputError("bad AdamW parameter ranges",
                     strfmt("they cover %lld of %lld parameters", static_cast<long long>(covered),
                            static_cast<long long>(n)),
                     "this is a bug in the caller");
  // Neighbouring ranges with the same decay flag become one (fewer, longer kernel calls).
  std::sort(ranges_.begin(), ranges_.end(),
            [](const ParamRange& a, const ParamRange& b) { return a.offset < b.offset; });
  std::vector<ParamRange> merged;
  for (const auto& r : ranges_) {
    if (!merged.empty() && merged.back().decay == r.decay &&
        merged.back().offset + merged.back().size == r.offset)
      merged.back().size += r.size;
    else
      merged.push_back(r);
  }
  ranges_ = std::move(merged);
}

StepStats AdamW::step(float* params, const float* grads) {
  return step_with_lr(params, grads, lr_at(cfg_, step_));
}

StepStats AdamW::step_with_lr(float* params, const float* grads, double lr) {
  StepStats st;
  st.lr = lr;
  st.grad_norm = global_norm(grads, size());
  if (!std::isfinite(st.grad_norm))
    throw NumericError(
        "gradient is not finite",
        strfmt("global norm %g at step %lld", st.grad_norm, static_cast<long long>(step_ + 1)),
        "lower optim.lr, raise optim.warmup_steps or check the data");
  st.clip_scale = clip_factor(st.grad_norm, cfg_.grad_clip);
  ++step_;
  ops::AdamWArgs a;
  a.lr = static_cast<float>(lr);
  a.beta1 = static_cast<float>(cfg_.beta1);
  a.beta2 = static_cast<float>(cfg_.beta2);
  a.eps = static_cast<float>(cfg_.eps);
  a.bias_corr1 = static_cast<float>(1.0 - std::pow(cfg_.beta1, static_cast<double>(step_)));
  a.bias_corr2 = static_cast<float>(1.0 - std::pow(cfg_.beta2, static_cast<double>(step_)));
  a.grad_scale = static_cast<float>(st.clip_scale);
  for (const auto& r : ranges_) {
    a.weight_decay = r.decay ? static_cast<float>(cfg_.weight_decay) : 0.f;
    ops::adamw_update(params + r.offset, grads + r.offset, m_.data() + r.offset,
                      v_.data() + r.offset, r.size, a);
  }
  return st;
}

void AdamW::reset() {
  std::fill(m_.begin(), m_.end(), 0.f);
  std::fill(v_.begin(), v_.end(), 0.f);
  step_ = 0;
}

}  // namespace k1rl::optim
