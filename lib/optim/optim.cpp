// AdamW, clipping and schedules: the update maths is kernels' adamw_update; this file adds the
// config section, the schedule and the bookkeeping (step count, ranges with and without decay).
#include "lib/optim/optim.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace k1rl::optim {

const OptionTable<OptimConfig>& optim_options() {
  using O = OptimConfig;
  static const auto t =
      OptionTable<O>()
          .add("optim.lr", &O::lr, "peak learning rate", Check().ge(0))
          .add("optim.beta1", &O::beta1, "AdamW first-moment decay", Check().ge(0).lt(1))
          .add("optim.beta2", &O::beta2, "AdamW second-moment decay", Check().ge(0).lt(1))
          .add("optim.eps", &O::eps, "AdamW epsilon", Check().gt(0))
          .add("optim.weight_decay", &O::weight_decay,
               "decoupled weight decay on weight matrices (not on norms or biases)", Check().ge(0))
          .add("optim.grad_clip", &O::grad_clip,
               "clip the global gradient L2 norm to this; 0 = off", Check().ge(0))
          .choice("optim.schedule", &O::schedule, {"cosine", "constant"},
                  "learning-rate schedule after the warm-up")
          .add("optim.warmup_steps", &O::warmup_steps, "linear warm-up steps", Check().ge(0))
          .add("optim.total_steps", &O::total_steps,
               "cosine: steps until lr reaches lr*lr_final_frac", Check().ge(1))
          .add("optim.lr_final_frac", &O::lr_final_frac,
               "cosine: final learning rate as a fraction of lr", Check().ge(0).le(1));
  return t;
}

void declare_optim_options(ConfigSpec& s) {
  optim_options().declare(s);
}

OptimConfig OptimConfig::from_config(const Config& cfg) {
  return optim_options().read(cfg);  // every key was checked when cfg was read
}

void OptimConfig::validate() const {
  optim_options().check(*this);
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
