// k1rl rundir: the layout of a run directory (DESIGN.md), spelled in one place. Every module that
// reads or writes under run.dir asks a RunDir for the path instead of joining strings:
//   <run>/config.ini  metrics.h5  sampler.h5  eval.h5  .lock
//         dpo_pairs.h5  shortest_rejection.jsonl   (long2short train modes)
//         ckpt/it_000012.h5  ckpt/latest
//         buffer/it_000012.r0003.h5
// A RunDir only names paths; lib/io publishes the files, lib/buffer and lib/train read them.
#pragma once

#include <cstdint>
#include <string>

#include "lib/core/core.h"

namespace k1rl {

class RunDir {
 public:
  explicit RunDir(std::string root);
  static RunDir from(const Config& cfg);  // run.dir
  const std::string& root() const { return root_; }

  std::string config_ini() const;  // the resolved config, written once by the first job
  std::string metrics() const;     // metrics.h5: /train /rollout /reward /iteration tables
  std::string sampler() const;     // sampler.h5: the prompt sampler's state
  std::string eval() const;        // eval.h5: k1rl-eval's results
  std::string lock() const;        // .lock: one job per run directory (lib/loop's RunLock)
  std::string dpo_pairs() const;   // dpo_pairs.h5: train.mode = dpo's pairs (lib/long2short)
  std::string shortest_rejection() const;  // shortest_rejection.jsonl: its SFT data

  std::string ckpt_dir() const;               // ckpt
  std::string ckpt(int64_t iteration) const;  // ckpt/it_000012.h5 holds θ_12
  std::string ckpt_latest() const;            // ckpt/latest: the text "it_000012.h5\n"
  std::string buffer_dir() const;             // buffer
  std::string shard(int64_t iteration, int32_t rank) const;  // buffer/it_000012.r0003.h5

  // The file names inside ckpt/ and buffer/, and their inverses (false for any other name).
  static std::string ckpt_name(int64_t iteration);  // "it_000012.h5"
  static bool parse_ckpt_name(const std::string& name, int64_t& iteration);
  static std::string shard_name(int64_t iteration, int32_t rank);  // "it_000012.r0003.h5"
  static bool parse_shard_name(const std::string& name, int64_t& iteration, int32_t& rank);
  // A checkpoint path as a user gives it: a pointer file like ckpt/latest (a short text naming
  // a checkpoint beside it) becomes that checkpoint's path; any other path is returned as is.
  static std::string resolve_checkpoint(const std::string& path);

 private:
  std::string root_;
};

}  // namespace k1rl
