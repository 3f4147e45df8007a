// Prompt samplers of the rollout master: uniform; curriculum (the hardest allowed difficulty
// rises linearly with the iteration, easy first); prioritized (p_i ∝ (1 − s_i) + floor, s_i an
// exponential moving average of prompt i's success, so solved prompts fade but never starve).
#include <algorithm>
#include <cmath>

#include "lib/io/io.h"
#include "lib/rl/rl.h"

namespace k1rl::rl {

PromptSampler::PromptSampler(SamplerConfig cfg, std::vector<int> difficulty, uint64_t seed)
    : cfg_(cfg),
      difficulty_(std::move(difficulty)),
      success_(difficulty_.size(), 0.0),
      seen_(difficulty_.size(), 0),
      rng_(seed, 0x5a3) {
  if (difficulty_.empty())
    throw InputError("no prompts to sample", "the task file is empty",
                     "generate tasks with k1rl-tasks");
}

std::vector<double> PromptSampler::weights(int64_t iteration) const {
  const size_t n = difficulty_.size();
  std::vector<double> w(n, 1.0);
  if (cfg_.mode == SamplerMode::prioritized) {
    for (size_t i = 0; i < n; ++i) w[i] = (1.0 - success_[i]) + cfg_.priority_floor;
  } else if (cfg_.mode == SamplerMode::curriculum) {
    auto [lo, hi] = std::minmax_element(difficulty_.begin(), difficulty_.end());
    double progress = cfg_.curriculum_iterations > 0
                          ? std::min(1.0, static_cast<double>(iteration) /
                                              static_cast<double>(cfg_.curriculum_iterations))
                          : 1.0;
    double allowed = *lo + progress * (*hi - *lo);
    for (size_t i = 0; i < n; ++i) w[i] = difficulty_[i] <= allowed + 1e-9 ? 1.0 : 0.0;
  }
  return w;
}

double PromptSampler::probability(int64_t prompt, int64_t iteration) const {
  std::vector<double> w = weights(iteration);
  double total = 0;
  for (double x : w) total += x;
  return w.at(static_cast<size_t>(prompt)) / total;
}

std::vector<int64_t> PromptSampler::sample(int64_t n, int64_t iteration) {
  std::vector<double> w = weights(iteration);
  std::vector<int64_t> out;
  std::vector<double> left = w;
  for (int64_t s = 0; s < n; ++s) {
    double total = 0;
    for (double x : left) total += x;
    if (total <= 0) {  // every eligible prompt drawn once: draw again from all eligible
      left = w;
      for (double x : left) total += x;
    }
    double u = rng_.uniform() * total;
    size_t pick = 0;
    for (size_t i = 0; i < left.size(); ++i) {
      if (left[i] <= 0) continue;
      pick = i;
      u -= left[i];
      if (u < 0) break;
    }
    out.push_back(static_cast<int64_t>(pick));
    left[pick] = 0.0;
  }
  return out;
}

void PromptSampler::observe(int64_t prompt, double success) {
  size_t i = static_cast<size_t>(prompt);
  if (i >= success_.size())
    throw InputError("sampler feedback for an unknown prompt",
                     strfmt("prompt %lld", static_cast<long long>(prompt)),
                     "the task file changed during the run");
  success_[i] =
      seen_[i] == 0 ? success : (1 - cfg_.success_ema) * success_[i] + cfg_.success_ema * success;
  ++seen_[i];
}

void PromptSampler::save(const std::string& path) const {
  io::AtomicH5 w(path, "sampler/1");
  io::write_dataset(w.root(), "success", success_);
  io::write_dataset(w.root(), "seen", seen_);
  io::set_attr(w.root(), "rng", rng_.state());
  io::set_attr(w.root(), "n_prompts", static_cast<int64_t>(success_.size()));
  w.publish();
}

void PromptSampler::load(const std::string& path) {
  io::H5Reader r(path, "sampler", 1);
  int64_t n = io::get_attr_int(r.root(), "n_prompts");
  if (n != static_cast<int64_t>(success_.size()))
    throw IoError("'" + path + "' holds the state of " + std::to_string(n) + " prompts",
                  strfmt("the task file has %zu", success_.size()),
                  "use the task file of this run, or delete sampler.h5 to start sampling afresh");
  io::read_dataset_into(r.root(), "success", success_.data(), success_.size());
  io::read_dataset_into(r.root(), "seen", seen_.data(), seen_.size());
  rng_.set_state(io::get_attr_u64s(r.root(), "rng"));
}

}  // namespace k1rl::rl
