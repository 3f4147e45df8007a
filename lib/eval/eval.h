// k1rl eval: accuracy of a policy on a held-out task file. Greedy accuracy (temperature 0),
// sampled pass@1 and pass@k (k samples per prompt, the unbiased estimator of the Codex paper),
// mean answer length; written to HDF5 (eval/1) and printed as a table by k1rl-eval. Every answer
// can also be kept (EvalRecord) and written as JSON Lines (k1rl-eval --dump) to be read.
#pragma once

#include <string>
#include <vector>

#include "lib/core/core.h"
#include "lib/model/model.h"
#include "lib/policy/policy.h"
#include "lib/reward/reward.h"
#include "lib/tasks/tasks.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::eval {

void declare_eval_options(ConfigSpec& spec);  // [eval]

struct EvalConfig {
  int64_t max_prompts = 200;  // evaluate at most this many held-out prompts (0: all)
  int64_t samples = 4;        // k for sampled pass@1 / pass@k (0: greedy only)
  double temperature = 1.0;   // sampled evaluation temperature
  int64_t max_answer_tokens = 128;
  int64_t max_batch = 64;
  static EvalConfig from(const Config& cfg);
};
const OptionTable<EvalConfig>& eval_options();  // [eval], bound to EvalConfig

// One generated answer: what the model saw, what it wrote, and how the checker read it.
struct EvalRecord {
  int64_t prompt = 0;   // index in the task file
  int64_t sample = -1;  // -1: the greedy answer; 0..k-1: the sampled ones
  std::string task_id;
  std::string prompt_text;  // the prompt exactly as the model saw it (special tokens included)
  std::string answer_text;  // the answer decoded without special tokens
  std::string extracted;    // the answer the checker read ("" when none)
  std::string reason;       // correct | wrong | no_answer | ...
  double reward = 0, correct = 0;
  int64_t tokens = 0;  // answer tokens
  std::string finish;  // stop | length
};

struct EvalResult {
  int64_t prompts = 0;
  double greedy_accuracy = 0;   // fraction of prompts answered correctly at temperature 0
  double pass1 = 0, passk = 0;  // sampled; NaN when samples == 0
  int64_t k = 0;
  double answer_len_mean = 0;  // greedy answers, tokens
  double truncated_frac = 0;   // greedy answers that hit max_answer_tokens
  double seconds = 0;
  std::vector<EvalRecord> records;  // every answer, greedy ones first
};

// pass@k for one prompt with n samples of which c are correct: 1 − C(n−c, k)/C(n, k).
double pass_at_k(int64_t n, int64_t c, int64_t k);

EvalResult evaluate(const model::Model& model, const Tokenizer& tok,
                    const policy::PromptFormat& format, const std::vector<Task>& tasks,
                    Scorer& scorer, const EvalConfig& ec, uint64_t seed);

// eval/1 file: one row per evaluation in table /eval (appended).
void append_eval(const std::string& path, const EvalResult& r, const std::string& checkpoint,
                 int64_t iteration);
// The records as JSON Lines (one object per answer, keys as in EvalRecord), published
// atomically (a temporary name, then a rename).
void write_dump(const std::string& path, const std::vector<EvalRecord>& records);
std::string format_table(const std::vector<std::pair<std::string, EvalResult>>& rows);

}  // namespace k1rl::eval
