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

// One answer to one prompt, with everything needed to continue it or train on it.
struct Trajectory {
  int64_t prompt_id = 0;   // index of the prompt in the run's task file
  int32_t sample = 0;      // which of the group's k answers (0..k-1)
  int64_t group_id = 0;    // answers with the same group_id form one group (one prompt draw)
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
// Every row of the shards of `iteration` (all ranks) that `keep` accepts.
std::vector<Trajectory> select(const std::string& dir, int64_t iteration,
                               const std::function<bool(const Trajectory&)>& keep);

}  // namespace k1rl::buffer
