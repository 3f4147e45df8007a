// k1rl reward: scores answers. Checker dispatch by task kind (numbers, countdown, code in the
// sandbox), the k1.5 length penalty and a repetition penalty as separate components, a worker
// pool so a slow program never stalls other answers, offline scoring of JSON Lines files, and the
// reward service spoken over the rollout<->reward intercommunicator (docs/reward.md).
//
//   Scorer scorer(reward_options_from_config(cfg), load_tasks(path));
//   std::vector<Score> s = scorer.score_batch(answers, iteration);   // in request order
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "lib/core/core.h"
#include "lib/sandbox/sandbox.h"
#include "lib/tasks/tasks.h"

namespace k1rl {

// [reward] config section (checkers, penalties, workers, sandbox limits).
void declare_reward_options(ConfigSpec& spec);

struct RewardOptions {
  std::vector<std::string>
      task_files;             // reward.tasks (comma list); empty: tasks.train_file + heldout_file
  int workers = 0;            // code-checking threads per reward rank; 0: hardware threads
  bool code_partial = false;  // code reward = fraction of tests passed (else all-or-nothing)
  std::string python = "/usr/bin/python3";
  double length_penalty_weight = 1.0;
  int64_t length_penalty_warmup = 10;  // iterations without the length penalty
  double repetition_penalty_weight = 0.2;
  int repetition_ngram = 4;           // word n-grams
  double repetition_threshold = 0.5;  // repeated n-gram fraction below this costs nothing
  SandboxOptions sandbox;
};
// The [reward] options (sandbox limits included), each bound to its RewardOptions member.
const OptionTable<RewardOptions>& reward_options();
RewardOptions reward_options_from_config(const Config& cfg);  // + the reward.tasks fallback

// One answer to score. The task is found by id in the Scorer's table, or given inline.
struct Answer {
  std::string task_id;
  std::shared_ptr<const Task> task;  // inline task (wins over task_id)
  std::string text;                  // the model's answer (UTF-8 text; any bytes survive)
  int64_t length = 0;                // answer length in tokens (length penalty)
  std::string group;                 // the k answers of one prompt share a group; "": task id
  bool repeated = false;             // rollout stopped it on an n-gram loop
};

// Reward components, recorded separately (DESIGN.md "Rewards", "Length penalty").
//   total = correct + [iteration >= warmup] * length_penalty_weight * length
//           + repetition_penalty_weight * repetition
struct Score {
  double total = 0.0;
  double correct = 0.0;     // checker: 1 / 0 (code: fraction passed when configured)
  double length = 0.0;      // k1.5 length reward of the answer within its group, in [-0.5, 0.5]
  double repetition = 0.0;  // in [-1, 0]
  std::string reason;       // correct | wrong | no_answer | ... | <sandbox status> | unknown_task
  std::string extracted;    // the answer text the checker used
};

// k1.5 length reward for the k answers of one prompt (DESIGN.md):
//   λ_i = 0.5 − (len_i − min_len)/(max_len − min_len)  (0 when all lengths are equal)
//   len_reward_i = λ_i if answer i is correct, min(0, λ_i) if not.
std::vector<double> length_rewards(const std::vector<int64_t>& lengths,
                                   const std::vector<bool>& correct);

// Repetition penalty of one text: with f the fraction of its word n-grams already seen earlier
// in it, −(f − threshold)/(1 − threshold) when f > threshold, else 0; −1 when `repeated`.
double repetition_penalty(const std::string& text, int ngram, double threshold, bool repeated);

// Checks one answer against its task (code: runs the sandbox in `slot`, adding the number of
// runs to *sandbox_runs). Never throws for anything the answer contains.
CheckResult check_answer(const Task& task, const std::string& text, const Sandbox* sandbox,
                         int slot, const RewardOptions& opt, int* sandbox_runs = nullptr);

// Scores batches of answers. Cheap checks run on the calling thread; code answers go to a pool
// of worker threads, each with its own sandbox slot, so a slow program holds one worker only.
class Scorer {
 public:
  Scorer(RewardOptions opt, std::vector<Task> tasks);
  ~Scorer();
  Scorer(const Scorer&) = delete;
  Scorer& operator=(const Scorer&) = delete;

  const RewardOptions& options() const { return opt_; }
  const Sandbox& sandbox() const { return *sandbox_; }
  const Task* find_task(const std::string& id) const;
  size_t task_count() const { return tasks_.size(); }

  // Starts scoring a batch; returns a ticket. Penalties are computed per group within the batch.
  uint64_t submit(std::vector<Answer> answers, int64_t iteration);
  // The scores of a ticket in request order (blocks until they are ready).
  std::vector<Score> wait(uint64_t ticket);
  // Any one finished batch, without blocking (nullopt when none is finished).
  std::optional<std::pair<uint64_t, std::vector<Score>>> poll();
  // Blocks until some batch finishes or `timeout_s` passes; true when one is ready.
  bool wait_any(double timeout_s);
  // Convenience: submit + wait.
  std::vector<Score> score_batch(std::vector<Answer> answers, int64_t iteration);
  int64_t sandbox_runs() const;

 private:
  struct Batch;
  void worker_loop(int slot);
  void finish(Batch& b);  // penalties and totals (called with mu_ held, when all are checked)
  void check_some_task_known(const Batch& b) const;  // InputError when no answer's task is known

  RewardOptions opt_;
  std::unordered_map<std::string, Task> tasks_;
  std::unique_ptr<Sandbox> sandbox_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::pair<uint64_t, size_t>> queue_;  // (ticket, answer index)
  std::map<uint64_t, std::unique_ptr<Batch>> batches_;
  std::vector<std::thread> workers_;
  uint64_t next_ticket_ = 1;
  int64_t sandbox_runs_ = 0;
  bool stopping_ = false;
};

// Answers and scores as JSON (offline files and the wire format).
Answer answer_from_json(const Json& j);  // id, text|response, len|length, group, repeated, task
Json answer_to_json(const Answer& a);
Json score_to_json(const Score& s);
Score score_from_json(const Json& j);

// Offline: scores a JSON Lines file of answers, writes one JSON line of scores per answer (same
// order, each with the answer's id). Returns the number of answers.
int64_t score_file(Scorer& scorer, const std::string& in_path, const std::string& out_path,
                   int64_t iteration);

// ---------------------------------------------------------------------------------------------
// The reward service over an intercommunicator whose remote group is the rollout ranks
// (docs/reward.md). Message tags:
inline constexpr int kTagRewardRequest = 7101;  // rollout -> reward: a batch of answers
inline constexpr int kTagRewardResult = 7102;   // reward -> rollout: its scores, in order
inline constexpr int kTagRewardStop = 7103;     // rollout -> reward: this rank sends no more

struct ServeStats {
  int64_t requests = 0, answers = 0, sandbox_runs = 0;
  double reward_sum = 0.0, correct_sum = 0.0;
  std::map<std::string, int64_t> reasons;
};

// Per-iteration totals of one reward rank (the iteration is the one the requests carry).
struct IterationStats {
  int64_t iteration = -1;
  int64_t requests = 0, answers = 0, no_answer = 0;
  int64_t sandbox_runs = 0;  // runs finished while this iteration's batches finished (approximate
                             // when iterations overlap)
  double reward_sum = 0.0, correct_sum = 0.0, length_sum = 0.0, repetition_sum = 0.0;
  double first_s = 0.0, last_s = 0.0;  // seconds_since_start(): first request, last result
};
using IterationCallback = std::function<void(const IterationStats&)>;

// Reward side: answers requests from any remote rank until every remote rank has sent STOP and
// every answered batch is sent back. Batches are answered as they finish (a slow batch never
// holds back another); within a batch scores keep the request order. `on_iteration` (optional)
// gets each iteration's totals once every rollout rank has asked for a later iteration (or
// stopped) and all of its batches are answered; the rest at the end; in iteration order.
ServeStats reward_serve(MPI_Comm inter, Scorer& scorer, const IterationCallback& on_iteration = {});

// Rollout side. Each rollout rank talks to one reward rank: remote rank (my rank % remote size)
// unless `server` is given. Not thread-safe (one thread per rank calls it, as MPI is FUNNELED).
class RewardClient {
 public:
  explicit RewardClient(MPI_Comm inter, int server = -1);
  ~RewardClient();
  uint64_t submit(const std::vector<Answer>& answers, int64_t iteration);  // non-blocking send
  std::vector<Score> wait(uint64_t ticket);                                // request order
  std::vector<Score> score(const std::vector<Answer>& answers, int64_t iteration) {
    return wait(submit(answers, iteration));
  }
  void stop();  // once per rank, after its last wait: tells every reward rank it is done

 private:
  struct Pending;
  MPI_Comm inter_;
  int server_;
  uint64_t next_seq_ = 1;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  bool stopped_ = false;
};

// Wire encoding (exposed for tests): a header line then one JSON line per answer / score.
std::string encode_request(uint64_t seq, int64_t iteration, const std::vector<Answer>& answers);
void decode_request(const std::string& msg, uint64_t* seq, int64_t* iteration,
                    std::vector<Answer>* answers);
std::string encode_result(uint64_t seq, const std::vector<Score>& scores);
void decode_result(const std::string& msg, uint64_t* seq, std::vector<Score>* scores);

}  // namespace k1rl
