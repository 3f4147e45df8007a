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
      excluded_(difficulty_.size(), 0),
      rng_(seed, 0x5a3) {
  if (difficulty_.empty())
    throw InputError("no prompts to sample", "the task file is empty",
                     "generate tasks with k1rl-tasks");
  saved_ = state();  // the state before iteration 0, should the first iteration run again
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
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += excluded_[i] ? (w[i] = 0.0) : w[i];
  if (total <= 0)  // curriculum: every allowed prompt excluded; take the usable ones
    for (size_t i = 0; i < n; ++i) w[i] = excluded_[i] ? 0.0 : 1.0;
  return w;
}

void PromptSampler::exclude(int64_t prompt) {
  excluded_.at(static_cast<size_t>(prompt)) = 1;
  if (std::all_of(excluded_.begin(), excluded_.end(), [](char e) { return e != 0; }))
    throw InputError("no usable prompt",
                     strfmt("all %zu prompts of the task file were excluded", excluded_.size()),
                     "see the warning above for why (e.g. longer than model.max_seq)");
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

namespace {
void write_state(hid_t g, const std::string& prefix, const std::vector<double>& success,
                 const std::vector<int64_t>& seen, const std::vector<uint64_t>& rng, int64_t it) {
  io::write_dataset(g, prefix + "success", success);
  io::write_dataset(g, prefix + "seen", seen);
  io::set_attr(g, prefix + "rng", rng);
  io::set_attr(g, prefix + "iteration", it);
}
}  // namespace

void PromptSampler::save(const std::string& path, int64_t iteration) {
  State now = state();
  now.iteration = iteration;
  io::AtomicH5 w(path, "sampler/1");
  write_state(w.root(), "", now.success, now.seen, now.rng, now.iteration);
  // The state this file held before (after the previous iteration): a resume that discards
  // `iteration`'s shard rolls back to it. Saving one iteration again keeps the older one.
  const State& prev = saved_.iteration >= 0 && saved_.iteration == iteration ? prev_ : saved_;
  if (!prev.success.empty())
    write_state(w.root(), "prev_", prev.success, prev.seen, prev.rng, prev.iteration);
  io::set_attr(w.root(), "n_prompts", static_cast<int64_t>(success_.size()));
  if (!digest_.empty()) io::set_attr(w.root(), "tasks_digest", digest_);
  w.publish();
  if (&prev != &prev_) prev_ = saved_;
  saved_ = std::move(now);
}

void PromptSampler::load(const std::string& path, int64_t resume) {
  io::H5Reader r(path, "sampler", 1);
  const hid_t root = r.root();
  int64_t n = io::get_attr_int(root, "n_prompts");
  if (n != static_cast<int64_t>(success_.size()))
    throw IoError("'" + path + "' holds the state of " + std::to_string(n) + " prompts",
                  strfmt("the task file has %zu", success_.size()),
                  "use the task file of this run, or delete sampler.h5 to start sampling afresh");
  if (!digest_.empty() && io::has_attr(root, "tasks_digest") &&
      io::get_attr_string(root, "tasks_digest") != digest_)
    throw IoError("'" + path + "' belongs to another task file",
                  "its task digest " + io::get_attr_string(root, "tasks_digest") +
                      " differs from this run's " + digest_ + " (same prompt count)",
                  "use the task file of this run, or delete sampler.h5 to start sampling afresh");
  auto read = [&](const std::string& prefix) {
    State st;
    st.success.resize(success_.size());
    st.seen.resize(seen_.size());
    io::read_dataset_into(root, prefix + "success", st.success.data(), st.success.size());
    io::read_dataset_into(root, prefix + "seen", st.seen.data(), st.seen.size());
    st.rng = io::get_attr_u64s(root, prefix + "rng");
    if (io::has_attr(root, prefix + "iteration"))
      st.iteration = io::get_attr_int(root, prefix + "iteration");
    return st;
  };
  State st = read("");
  if (resume >= 0 && st.iteration >= resume) {
    if (!io::has_attr(root, "prev_iteration")) {
      K1RL_LOG_WARN(
          "%s holds iteration %lld and no earlier state: the successes of iterations "
          ">= %lld count twice",
          path.c_str(), static_cast<long long>(st.iteration), static_cast<long long>(resume));
    } else {
      K1RL_LOG_WARN(
          "%s: rolled back from iteration %lld to %lld (iteration %lld runs again: its prompt "
          "successes are not counted twice)",
          path.c_str(), static_cast<long long>(st.iteration),
          static_cast<long long>(io::get_attr_int(root, "prev_iteration")),
          static_cast<long long>(resume));
      st = read("prev_");
      if (st.iteration >= resume)
        K1RL_LOG_WARN(
            "%s: the oldest state kept is after iteration %lld: the successes of "
            "iterations %lld..%lld count twice",
            path.c_str(), static_cast<long long>(st.iteration), static_cast<long long>(resume),
            static_cast<long long>(st.iteration));
    }
  }
  success_ = st.success;
  seen_ = st.seen;
  rng_.set_state(st.rng);
  saved_ = st;  // the next save keeps it as the state before
  prev_ = {};
}

}  // namespace k1rl::rl
