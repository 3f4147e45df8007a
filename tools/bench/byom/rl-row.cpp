// k1rl-bench-byom's RL row (rl-row.h).
#include "tools/bench/byom/rl-row.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

}  // namespace k1rl::bench
