// k1rl-bench-byom's RL row: the product's own memory behaviour. It runs the real app, as users
// do (`k1rl-train --local --config inputs/configs/smollm2-135m.ini`, the benchmark's environment
// and nothing more), for a few iterations in a temporary run folder, and reads back what the app
// itself recorded per iteration (docs/metrics.md: /iteration proc_*, /rollout kv_cache_mb):
// CPU time in user space and in the kernel, page faults, peak resident set. The last iteration
// is the steady state; the first one includes loading and first-touch of every buffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/common/bench.h"

namespace k1rl::bench {

struct RlIteration {
  double wall_s = 0, user_s = 0, sys_s = 0, minflt = 0, majflt = 0, maxrss_mb = 0, kv_mb = 0;
  double train_s = 0, rollout_s = 0, ckpt_s = 0;
  double sys_frac() const { return user_s + sys_s > 0 ? sys_s / (user_s + sys_s) : 0; }
};

struct RlRun {
  int rc = -1;      // the app's exit status (0 when it ran)
  std::string log;  // its output, in the run folder
  std::vector<RlIteration> iterations;
};

// Runs `app` (a path) in the folder `cwd` (the config's relative paths start there) with
// --local --config `config` --run.iterations=N --run.dir=`dir` plus `extra` options; `dir` is
// removed first.
RlRun run_rl_iterations(const std::string& app, const std::string& cwd, const std::string& config,
                        int iterations, const std::string& dir,
                        const std::vector<std::string>& extra = {});

// Prints the per-iteration table and the steady-state line (the last iteration against the
// budget of issue 13: weights + AdamW moments + KV cache, num_params float32 parameters) and
// returns the JSON keys (rl_iterations, rl_iteration_s, rl_sys_frac, rl_minflt, rl_rss_mb,
// rl_rss_budget_mb, rl_rss_ratio). rl must hold at least one iteration.
JsonLine report_rl(const RlRun& rl, int64_t num_params);

}  // namespace k1rl::bench
