// k1rl buffer: the replay buffer on a shared folder. Each rollout rank publishes one shard per
// iteration (buffer/it_000012.r0003.h5, format buffer/1) holding the trajectories it finished in
// that iteration and the ones still open (parked for the next iteration, partial rollouts).
// Readers select by iteration, status and readiness.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lib/core/core.h"

namespace k1rl::buffer {

enum class Status : int32_t { open = 0, finished = 1, truncated = 2, repeated = 3 };
const char* status_name(Status s);

// Which prompt draw a group is: the k answers that rollout rank `rank` generated for its
// `index`-th new prompt of `iteration`. Trajectory::group_id (and the shard's group_id column)
// holds it packed into one int64, each field in its own bits (iteration 23, rank 20, index 20):
// pack() throws InputError when a field does not fit, so two draws never share an id. Shards
// written before this key (ids it*1000000 + rank*10000 + i) stay readable: readers only compare
// ids.
struct GroupKey {
  static constexpr int kIterationBits = 23, kRankBits = 20, kIndexBits = 20;
  int64_t iteration = 0;
  int32_t rank = 0;
  int64_t index = 0;
  int64_t pack() const;
  static GroupKey unpack(int64_t id);
  auto operator<=>(const GroupKey&) const = default;
};

// One answer to one prompt, with everything needed to continue it or train on it.
struct Trajectory {
  int64_t prompt_id = 0;   // index of the prompt in the run's task file
  int32_t sample = 0;      // which of the group's k answers (0..k-1)
  int64_t group_id = 0;    // GroupKey::pack(): answers with the same id form one group
  int32_t group_size = 1;  // k
  std::string task;        // task kind ("addition", "countdown", ...)
  Status status = Status::open;
  bool ready = false;  // scored, and every answer of its group has ended: trainable
  int64_t iteration_started = 0;
  int32_t prompt_len = 0;             // tokens[0 .. prompt_len) is the prompt
  int32_t n_segments = 0;             // iterations that generated part of the answer
  double reward = 0.0;                // total reward (components summed with their weights)
  std::vector<double> components;     // one per Shard::component_names
  std::vector<int32_t> tokens;        // prompt + answer so far
  std::vector<float> logprobs;        // behaviour log-prob of each answer token
  std::vector<int32_t> segment_iter;  // iteration that generated each answer token
  std::vector<uint64_t> rng;          // sampling RNG state to continue with (4 words, or empty)

  int64_t answer_len() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  bool ended() const { return status != Status::open; }
};

struct Shard {
  int64_t iteration = 0;
  int32_t rank = 0;
  std::vector<std::string> component_names;  // e.g. correct, length, repetition
  std::vector<Trajectory> rows;
};

// "<dir>/it_000012.r0003.h5"
std::string shard_path(const std::string& dir, int64_t iteration, int32_t rank);
// Publishes the shard atomically. Throws InputError when a row is inconsistent.
void write_shard(const std::string& dir, const Shard& shard);
// Reads and validates a shard; a corrupt one is an IoError naming the file.
Shard read_shard(const std::string& path);

struct ShardRef {
  int64_t iteration;
  int32_t rank;
  std::string path;
};
// Published shards in `dir` (temporaries ignored), sorted by iteration then rank.
std::vector<ShardRef> list_shards(const std::string& dir);
// The newest iteration that has at least one shard, or -1.
int64_t latest_iteration(const std::string& dir);
// Every row of the shards of `iteration` (all ranks) that `keep` accepts. With
// `component_names`, also the shards' reward component names (InputError when shards disagree).
std::vector<Trajectory> select(const std::string& dir, int64_t iteration,
                               const std::function<bool(const Trajectory&)>& keep,
                               std::vector<std::string>* component_names = nullptr);

// Answer statistics of the metrics rows, computed here only (rollout's /rollout row, the
// trainer's /train rows and the /iteration summary): reward mean, accuracy (the "correct"
// reward component, looked up by name) and mean answer length. Means are 0 over no answers.
struct AnswerStats {
  double answers = 0, reward_sum = 0, correct_sum = 0, length_sum = 0;
  void add(double reward, double correct, int64_t answer_len);
  double reward_mean() const;
  double accuracy() const;
  double answer_len_mean() const;
};
// The index of the component called `name` in `names`, or -1.
int component_index(const std::vector<std::string>& names, const std::string& name);
// AnswerStats of trajectories whose components are named `names` (no "correct": accuracy 0).
AnswerStats answer_stats(const std::vector<Trajectory>& rows,
                         const std::vector<std::string>& names);

}  // namespace k1rl::buffer
