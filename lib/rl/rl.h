// k1rl rl: the policy-optimisation losses (k1.5, GRPO, PPO-clip, REINFORCE, DPO) on per-token
// log-probabilities, and the prompt samplers of the rollout master (uniform, curriculum,
// prioritized) with their state in sampler.h5. The losses see only numbers: the trainer gets
// per-token log-probs from the model, asks for d(loss)/d(logprob_t), and backpropagates those.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lib/core/core.h"

namespace k1rl::rl {

void declare_rl_options(ConfigSpec& spec);  // the policy-loss keys of [train], sampler keys

// ---------------------------------------------------------------------------------------------
// Losses. One group = the k answers to one prompt, sampled from the reference policy π_θi whose
// per-token log-probs (behaviour log-probs) are stored in the buffer.
enum class Algorithm { k15, grpo, ppo_clip, reinforce };
Algorithm parse_algorithm(const std::string& name);  // throws ConfigError

struct LossConfig {
  Algorithm algorithm = Algorithm::k15;
  double tau = 0.05;         // k15: weight of the squared log-ratio (KL) term
  bool token_norm = false;   // k15/reinforce: divide log π(y|x) by the answer length
  double clip_eps = 0.2;     // grpo/ppo_clip: ratio clip
  double kl_coef = 0.0;      // grpo/ppo_clip: weight of the k3 KL estimate against π_θi
  bool latest_only = false;  // partial_loss = latest: only tokens of `iteration` enter the loss
  int64_t iteration = 0;     // the current iteration (for latest_only)
  static LossConfig from(const Config& cfg, int64_t iteration);
};

// One answer of a group: T answer tokens.
struct AnswerView {
  const float* logp = nullptr;        // [T] log π_θ(token) under the current parameters
  const float* logp_behav = nullptr;  // [T] stored behaviour log-probs (π_θi)
  const int32_t* seg_iter = nullptr;  // [T] iteration that generated each token (may be null)
  int64_t T = 0;
  double reward = 0.0;
};

struct LossStats {
  double loss = 0.0;       // the algorithm's loss for this group (k15: the squared surrogate)
  double kl = 0.0;         // mean per-token k3 estimate of KL(π_θ || π_θi) over counted tokens
  double clip_frac = 0.0;  // grpo/ppo_clip: fraction of counted tokens with the clip active
  double mean_reward = 0.0;
  int64_t tokens = 0;  // tokens that entered the loss
};

// Writes dlogp[j][t] = d(loss)/d(logp_j[t]) for every answer j of the group (tokens outside the
// loss get 0) and returns the group's statistics. The group's loss is the mean over its answers.
// Throws NumericError on a non-finite log-prob or reward.
LossStats group_loss(const LossConfig& cfg, const std::vector<AnswerView>& group,
                     const std::vector<float*>& dlogp);

// ---------------------------------------------------------------------------------------------
// DPO (long2short, train.mode = dpo; formula and pair rule in rl-dpo.cpp). A pair is a chosen
// answer y_w and a rejected one y_l of one prompt; the reference policy's summed answer
// log-probs ref_w, ref_l are computed once, before training, and stored with the pairs.
void declare_dpo_options(ConfigSpec& spec);  // train.dpo_* (dpo_options)

struct DpoConfig {
  double beta = 0.1;        // β
  double long_ratio = 1.5;  // a correct answer ≥ long_ratio × the chosen length is rejected
  int64_t steps = 200;      // optimizer steps of train.mode = dpo
  int64_t batch = 32;       // pairs per step (all ranks together)
  static DpoConfig from(const Config& cfg);
};
const OptionTable<DpoConfig>& dpo_options();  // [train] dpo_* keys, bound to DpoConfig

struct DpoPairView {
  const float* logp_w = nullptr;  // [T_w] log π_θ of the chosen answer's tokens
  int64_t T_w = 0;
  double ref_w = 0.0;             // Σ_t log π_ref(y_w,t)
  const float* logp_l = nullptr;  // [T_l] rejected
  int64_t T_l = 0;
  double ref_l = 0.0;
};

struct DpoStats {
  double loss = 0.0;                      // −log σ(β·m)
  double margin = 0.0;                    // β·m = β·[(S_w − ref_w) − (S_l − ref_l)]
  double reward_w = 0.0, reward_l = 0.0;  // the implicit rewards β·(S − ref)
};

// Writes dlogp_w[t] = d(loss)/d(logp_w[t]) and dlogp_l[t] (times `scale`, e.g. 1/pairs of the
// step) and returns the pair's loss. Throws NumericError on a non-finite input.
DpoStats dpo_loss(const DpoConfig& cfg, const DpoPairView& pair, float* dlogp_w, float* dlogp_l,
                  double scale = 1.0);

// The pairs of one prompt from its sampled answers: chosen = the shortest correct answer (the
// first of equal length), rejected = every wrong answer and every correct one at least
// long_ratio × as long as the chosen. No correct answer: no pairs. Returns (chosen, rejected)
// indices into `answers`.
struct DpoCandidate {
  int64_t length = 0;  // answer tokens
  bool correct = false;
};
std::vector<std::pair<size_t, size_t>> dpo_pairs(const std::vector<DpoCandidate>& answers,
                                                 double long_ratio = 1.5);

// ---------------------------------------------------------------------------------------------
// Prompt sampling (rollout master). Prompts are indices 0..n-1 with a difficulty 1..10.
enum class SamplerMode { uniform, curriculum, prioritized };

struct SamplerConfig {
  SamplerMode mode = SamplerMode::uniform;
  double success_ema = 0.3;            // prioritized: weight of the newest iteration in s_i
  double priority_floor = 0.05;        // prioritized: p_i ∝ (1 - s_i) + floor
  int64_t curriculum_iterations = 20;  // curriculum: iterations to go from easiest to hardest
  static SamplerConfig from(const Config& cfg);
};
// The option tables: each key bound to its member, declared once with its checks.
const OptionTable<LossConfig>& loss_options();        // [train] loss keys
const OptionTable<SamplerConfig>& sampler_options();  // [rollout] sampler keys

class PromptSampler {
 public:
  PromptSampler(SamplerConfig cfg, std::vector<int> difficulty, uint64_t seed);
  // n distinct prompts when n <= available ones (with replacement only beyond that).
  std::vector<int64_t> sample(int64_t n, int64_t iteration);
  // Feed back the rewards of one prompt's answers (mean taken as its success this iteration).
  void observe(int64_t prompt, double success);
  double success(int64_t prompt) const { return success_.at(static_cast<size_t>(prompt)); }
  double probability(int64_t prompt, int64_t iteration) const;  // current sampling probability
  // Never draw `prompt` again (it cannot be generated: e.g. longer than the model's context).
  // Not saved: the caller decides it again from the task file on every start.
  void exclude(int64_t prompt);
  bool excluded(int64_t prompt) const { return excluded_.at(static_cast<size_t>(prompt)) != 0; }
  // sampler.h5 (format sampler/1): success rates, counts and RNG state after `iteration`, the
  // state it replaced (the one before that iteration's observations), and the task set's digest.
  // load(path, resume) takes the state after iteration resume - 1: when the file already holds
  // iteration `resume` (its shard was discarded as untrained) it rolls back to the earlier state,
  // so that iteration's successes never count twice. Load refuses another prompt count or
  // another task set's digest (IoError); resume < 0 takes the newest state as it is.
  void set_tasks_digest(std::string digest) { digest_ = std::move(digest); }
  void save(const std::string& path, int64_t iteration = -1);
  void load(const std::string& path, int64_t resume = -1);

 private:
  std::vector<double> weights(int64_t iteration) const;
  SamplerConfig cfg_;
  std::vector<int> difficulty_;
  std::vector<double> success_;
  std::vector<int64_t> seen_;
  std::vector<char> excluded_;
  Rng rng_;
  struct State {
    std::vector<double> success;
    std::vector<int64_t> seen;
    std::vector<uint64_t> rng;
    int64_t iteration = -1;  // the last iteration observed; -1: none (or unknown)
  };
  State state() const { return {success_, seen_, rng_.state(), -1}; }
  State saved_;  // what sampler.h5 holds now (the `prev` state of the next save)
  State prev_;   // what it holds as the state before
  std::string digest_;
};

}  // namespace k1rl::rl
