// k1rl long2short: the data steps of the Kimi k1.5 report's long2short methods (docs/long2short.md)
// and the k1rl-train modes built on them. From a (long-CoT) checkpoint:
//  - sample: n answers per prompt (long2short.samples, 8), each scored by the task's checker;
//  - shortest rejection sampling: the shortest correct answer of each prompt becomes its
//    `solution` (task JSON Lines), then SFT on it (train.mode = shortest_rejection);
//  - DPO pairs: chosen = the shortest correct answer, rejected = wrong answers and correct ones
//    ≥ train.dpo_long_ratio × longer (lib/rl dpo_pairs), with the reference policy's summed
//    answer log-probs computed once and stored with the pairs (dpo_pairs/1), then DPO
//    (train.mode = dpo, Trainer::dpo).
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/core.h"
#include "lib/model/model.h"
#include "lib/policy/policy.h"
#include "lib/reward/reward.h"
#include "lib/tasks/tasks.h"
#include "lib/tokenizer/tokenizer.h"
#include "lib/train/train.h"

namespace k1rl::long2short {

void declare_long2short_options(ConfigSpec& spec);  // [long2short] (sample_options)

struct SampleConfig {
  int64_t samples = 8;  // n answers per prompt
  double temperature = 1.0;
  int64_t max_answer_tokens = 256;
  int64_t max_prompts = 0;  // the first N prompts of the task file (0: all)
  int64_t max_batch = 64;
  uint64_t seed = 1;  // run.seed (not a [long2short] key)
  static SampleConfig from(const Config& cfg);
};
const OptionTable<SampleConfig>& sample_options();  // [long2short], bound to SampleConfig

// The scored samples of one prompt.
struct PromptSamples {
  size_t task = 0;  // index into the task list
  std::vector<int32_t> prompt;
  std::vector<std::vector<int32_t>> answers;  // answer tokens as generated (a final stop kept)
  std::vector<bool> correct;
};

std::vector<PromptSamples> sample_scored(const model::Model& model, const Tokenizer& tok,
                                         policy::PromptFormat format,
                                         const std::vector<Task>& tasks, Scorer& scorer,
                                         const SampleConfig& sc);

// Shortest rejection sampling: one task per prompt with a correct sample, its `solution` the
// shortest correct answer's text (the first of equal length); prompts without one are dropped.
std::vector<Task> shortest_rejection(const std::vector<PromptSamples>& samples,
                                     const std::vector<Task>& tasks, const Tokenizer& tok);

// A DPO pair as the trainer uses it: prompt + answer token sequences and the reference policy's
// Σ log π_ref over each answer's tokens.
struct DpoPair {
  int64_t task = 0;
  int32_t prompt_len = 0;
  std::vector<int32_t> chosen, rejected;  // prompt + answer
  double ref_chosen = 0, ref_rejected = 0;
};

// Pairs of every prompt (rl::dpo_pairs) with their reference sums from `ref` (forward passes of
// at most micro_batch_tokens tokens).
std::vector<DpoPair> build_dpo_pairs(const std::vector<PromptSamples>& samples, model::Model& ref,
                                     double long_ratio, int64_t micro_batch_tokens);
// Σ log π(answer) of each sequence seqs[i] (answer = tokens from prompt_len[i] on).
std::vector<double> answer_logprob_sums(model::Model& m,
                                        const std::vector<const std::vector<int32_t>*>& seqs,
                                        const std::vector<int32_t>& prompt_len,
                                        int64_t micro_batch_tokens);

// dpo_pairs/1: flat token arrays with offsets, prompt lengths, reference sums; published
// atomically. `source` (the reference checkpoint) is kept as an attribute.
void save_dpo_pairs(const std::string& path, const std::vector<DpoPair>& pairs,
                    const std::string& source);
std::vector<DpoPair> load_dpo_pairs(const std::string& path);

// The k1rl-train modes (a fresh run directory, starting from train.init_checkpoint):
//  shortest_rejection: sample the train tasks, write <run>/shortest_rejection.jsonl (rank 0),
//    SFT train.sft_steps steps on it, publish ckpt/it_000000.h5;
//  dpo: sample, build and store <run>/dpo_pairs.h5 (rank 0; reused when present), DPO
//    train.dpo_steps steps, publish ckpt/it_000000.h5.
// Every rank of `comm` trains (data parallel). Returns the metrics rows of the training.
void run_train_mode(const Config& cfg, MPI_Comm comm);

}  // namespace k1rl::long2short
