// k1rl-bench-byom's RL row (rl-row.h).
#include "tools/bench/byom/rl-row.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "lib/io/io.h"

extern char** environ;

namespace k1rl::bench {

RlRun run_rl_iterations(const std::string& app, const std::string& cwd, const std::string& config,
                        int iterations, const std::string& dir,
                        const std::vector<std::string>& extra) {
  RlRun run;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  run.log = dir + "/app.log";
  std::vector<std::string> args = {app,
                                   "--local",
                                   "--config",
                                   config,
                                   "--run.iterations=" + std::to_string(iterations),
                                   "--run.dir=" + dir};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, run.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = -1;
  const int err = posix_spawn(&pid, app.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) return run;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  run.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (run.rc != 0) return run;
  const std::string metrics = dir + "/metrics.h5";
  auto it = io::read_table(metrics, "iteration");
  auto ro = io::read_table(metrics, "rollout");
  auto col = [](std::map<std::string, std::vector<double>>& t, const char* k, size_t i) {
    auto c = t.find(k);
    return c != t.end() && i < c->second.size() ? c->second[i] : 0.0;
  };
  const size_t n = it["iteration"].size();
  for (size_t i = 0; i < n; ++i) {
    RlIteration r;
    r.wall_s = col(it, "iteration_s", i);
    r.user_s = col(it, "proc_user_s", i);
    r.sys_s = col(it, "proc_sys_s", i);
    r.minflt = col(it, "proc_minflt", i);
    r.majflt = col(it, "proc_majflt", i);
    r.maxrss_mb = col(it, "proc_maxrss_mb", i);
    r.train_s = col(it, "train_s", i);
    r.rollout_s = col(it, "rollout_s", i);
    r.ckpt_s = col(it, "ckpt_s", i);
    r.kv_mb = col(ro, "kv_cache_mb", i);
    run.iterations.push_back(r);
  }
  return run;
}

JsonLine report_rl(const RlRun& rl, int64_t num_params) {
  std::printf(
      "\nRL iterations of inputs/configs/smollm2-135m.ini (k1rl-train --local, as "
      "users run it; the app's own /iteration columns):\n%4s %8s %8s %8s %8s %6s "
      "%10s %9s %10s %7s\n",
      "it", "wall s", "train s", "ckpt s", "user s", "sys %", "minor flt", "major flt", "peak RSS",
      "KV MB");
  for (size_t i = 0; i < rl.iterations.size(); ++i) {
    const auto& r = rl.iterations[i];
    std::printf("%4zu %8.1f %8.1f %8.1f %8.1f %5.1f%% %10.0f %9.0f %7.0f MB %7.0f\n", i, r.wall_s,
                r.train_s, r.ckpt_s, r.user_s, 100 * r.sys_frac(), r.minflt, r.majflt, r.maxrss_mb,
                r.kv_mb);
  }
  const RlIteration& st = rl.iterations.back();
  const double mb = 1024.0 * 1024.0, params = double(num_params);
  const double weights = 4 * params / mb, adam = 8 * params / mb, grads = 4 * params / mb;
  const double budget = weights + adam + st.kv_mb;
  std::printf(
      "steady state (the last iteration): the kernel has %.1f%% of its CPU time (goal < "
      "10%%), %.0f page faults; peak RSS %.0f MB = %.2fx weights %.0f + AdamW moments %.0f + "
      "KV cache %.0f MB (goal <= 2x; gradients %.0f MB and activations come on top)\n",
      100 * st.sys_frac(), st.minflt, st.maxrss_mb, st.maxrss_mb / budget, weights, adam, st.kv_mb,
      grads);
  JsonLine j;
  j.integer("rl_iterations", int64_t(rl.iterations.size()))
      .num("rl_iteration_s", st.wall_s, 2)
      .num("rl_sys_frac", st.sys_frac(), 4)
      .num("rl_minflt", st.minflt, 0)
      .num("rl_rss_mb", st.maxrss_mb, 0)
      .num("rl_rss_budget_mb", budget, 0)
      .num("rl_rss_ratio", st.maxrss_mb / budget, 3);
  return j;
}

}  // namespace k1rl::bench
