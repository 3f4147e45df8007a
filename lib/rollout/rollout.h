// k1rl rollout: one rollout rank's work in one iteration. Parked (open) answers first, then k
// fresh answers per new prompt, generated with continuous batching under a token budget
// (partial rollouts: an answer that reaches segment_tokens or the budget is parked open with its
// tokens, behaviour log-probs, iteration tags and RNG state, and continues next iteration with
// the new policy); repeat detection; a group is scored (through the reward service or in
// process) once all k answers ended, and becomes `ready` for training in that iteration's shard.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lib/buffer/buffer.h"
#include "lib/core/core.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "lib/policy/policy.h"
#include "lib/reward/reward.h"
#include "lib/tasks/tasks.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::rollout {

void declare_rollout_options(ConfigSpec& spec);  // [rollout] (sampler keys are lib/rl's)

// What a parked answer continues from next iteration (docs/rl.md, "Stale keys and values").
enum class ParkedCache {
  exact,  // its kept keys and values only while the weights are unchanged; else re-prefill
  stale,  // its kept keys and values even after a training step (no re-prefill)
};

struct RolloutConfig {
  int64_t prompts_per_iteration = 16;  // new prompts per iteration, all ranks together
  int64_t samples_per_prompt = 8;      // k
  bool partial = true;                 // partial rollouts (else: every answer runs to its end)
  int64_t segment_tokens = 64;         // partial: new tokens per answer per iteration
  int64_t token_budget = -1;           // partial: new tokens per rank per iteration; -1: none
  int64_t refill_prompts = 0;  // partial: extra prompts whose groups fill freed slots (docs/rl.md)
  ParkedCache parked_cache = ParkedCache::exact;  // partial: see ParkedCache
  int64_t max_answer_tokens = 128;                // answers end as truncated here
  int64_t max_batch = 64;                         // sequences generated together
  model::KvType kv_cache = model::KvType::bf24;   // KV-cache precision (docs/rl.md)
  double temperature = 1.0, top_p = 1.0;
  int64_t top_k = 0;
  int64_t repeat_max_period = 16;  // repeat detection: loops of up to this many tokens ...
  int64_t repeat_min_tokens = 48;  // ... covering at least this many final tokens
  static RolloutConfig from(const Config& cfg);
};
const OptionTable<RolloutConfig>& rollout_options();  // [rollout], bound to RolloutConfig

// True when the last tokens of `answer` are one block of at most max_period tokens repeated
// over at least min_tokens tokens.
bool detect_repeat(const std::vector<int32_t>& answer, int64_t max_period, int64_t min_tokens);

// Scores groups of answers (k answers of one prompt in one call, so the length penalty sees
// the group). The reward service client and an in-process Scorer both fit.
using ScoreFn = std::function<std::vector<Score>(const std::vector<Answer>&, int64_t iteration)>;

struct IterationResult {
  buffer::Shard shard;  // everything to publish for this rank and iteration
  io::Row metrics;      // one /rollout metrics row
  std::vector<std::pair<int64_t, double>>
      prompt_success;  // (prompt, mean correctness) per ready group
};

// What the generation step of one iteration did (the /rollout row's generation columns).
struct GenerateStats {
  int64_t tokens = 0;          // new answer tokens
  int64_t ended = 0;           // answers that ended in this iteration
  int64_t prefill_tokens = 0;  // context tokens prefilled (new prompts, re-prefilled answers)
  int64_t kept_tokens = 0;     // context tokens continued from a kept cache instead
  double seconds = 0;          // inside Generator::generate
  double slot_util = 0;        // decode slots used over slots available
  int64_t kv_bytes = 0;        // the generator's KV cache (keys and values, all layers)
};

// What the scoring step did: the ready answers' rewards (the /rollout row's reward columns).
struct ScoreStats {
  buffer::AnswerStats answers;
  std::vector<std::pair<int64_t, double>> prompt_success;  // (prompt, mean correctness) per group
};

class RolloutWorker {
 public:
  RolloutWorker(const Config& cfg, const Tokenizer& tok, const std::vector<Task>& tasks);
  const RolloutConfig& config() const { return rc_; }
  // One iteration: trajectories from `pending` (open, or ended but waiting for their group)
  // continue first; each new prompt i gets k fresh answers in the group
  // GroupKey{iteration, rank, i}. Reads top to bottom: start groups, generate, score.
  // With partial rollouts a parked answer continues from the keys and values its last segment
  // left in the model's KV-cache memory when the weights have not changed since (the same
  // Model, same weights_version: e.g. no training step in between); otherwise, and always after
  // the policy was updated, prompt + answer so far are prefilled again with the new weights
  // (with rollout.parked_cache = stale they continue from the kept ones then too).
  // Partial rollouts only: the groups of `refill` prompts (GroupKey indices after new_prompts')
  // take slots that free up while the iteration's own answers (pending and new) still run, and
  // are parked open when the last of those ends its segment; a refill prompt none of whose
  // answers started is dropped (it was never generated: the sampler hears nothing of it).
  IterationResult run(const model::Model& model, int64_t iteration, int32_t rank,
                      std::vector<buffer::Trajectory> pending,
                      const std::vector<int64_t>& new_prompts, const ScoreFn& score,
                      const std::vector<int64_t>& refill = {});
  std::vector<int32_t> prompt_tokens(int64_t prompt) const;
  // A prompt fits when it leaves room for a whole answer (rollout.max_answer_tokens) in
  // model.max_seq; run() skips one that does not (counted in `prompts_too_long`, logged), and the
  // rollout driver excludes such prompts from the sampler before the first draw.
  bool prompt_fits(int64_t prompt, int64_t max_seq) const;

 private:
  // Appends k fresh trajectories per new prompt to `rows`, prompt i in group index first + i.
  // Returns how many prompts it skipped as too long for max_seq.
  int64_t start_groups(const std::vector<int64_t>& new_prompts, int64_t first, int64_t iteration,
                       int32_t rank, int64_t max_seq, std::vector<buffer::Trajectory>& rows) const;
  // Continues every open trajectory of `rows` by one segment (or to its end), in place; rows
  // from `first_fill` on only fill free slots (GenRequest::fill).
  GenerateStats generate(const model::Model& model, int64_t iteration,
                         std::vector<buffer::Trajectory>& rows, size_t first_fill);
  // Scores every group whose k answers have all ended and marks them ready.
  ScoreStats score_groups(std::vector<buffer::Trajectory>& rows, int64_t iteration,
                          const ScoreFn& score) const;
  model::SamplingParams sampling_params() const;

  const Config& cfg_;
  RolloutConfig rc_;
  const Tokenizer& tok_;
  const std::vector<Task>& tasks_;
  policy::PromptFormat format_;
  uint64_t seed_;
  // The KV cache's capacity, only grown: a parked answer's kept keys and values survive only
  // in the same layout (same slots and capacity).
  int64_t capacity_ = 0;
};

}  // namespace k1rl::rollout
