// k1rl-bench-reward: checker answers/s (numbers and countdown, one thread), and sandboxed code
// runs/s per core with the sandbox's start-up overhead against a bare fork/exec of the same
// ~10 ms Python program in the same run. Every run's output is verified. Prints a table and a
// final JSON line {checks_per_s, sandbox_runs_per_s, sandbox_overhead_ratio, ...}.
// Usage: k1rl-bench-reward [--runs N] [--checks N] [--threads T]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "lib/reward/reward.h"

namespace {
using namespace k1rl;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "k1rl-bench-reward: error: %s\n", why.c_str());
  std::exit(2);
}

// Checker throughput over a mix of numeric and countdown answers, half of them right.
double bench_checks(int n, double* right_frac) {
  std::vector<Task> tasks;
  for (const char* kind : {"addition", "multiplication", "linear", "countdown"}) {
    TaskSetSpec s;
    s.kind = kind;
    s.min_difficulty = 1;
    s.max_difficulty = 10;
    s.train_count = 200;
    s.heldout_count = 0;
    TaskSet set = generate_tasks(s);
    tasks.insert(tasks.end(), set.train.begin(), set.train.end());
  }
  std::vector<std::pair<const Task*, std::string>> answers;
  for (int i = 0; i < n; ++i) {
    const Task& t = tasks[static_cast<size_t>(i) % tasks.size()];
    bool right = i % 2 == 0;
    std::string text = i % 4 < 2 ? t.solution_long : "The answer is \\boxed{" + t.answer + "}";
    if (!right) text = "Answer: " + t.answer + (t.task == "countdown" ? "+1" : "1");
    answers.emplace_back(&t, text);
  }
  RewardOptions opt;
  int correct = 0;
  auto t0 = Clock::now();
  for (const auto& [t, text] : answers)
    correct += check_answer(*t, text, nullptr, 0, opt).score == 1.0;
  double s = since(t0);
  *right_frac = static_cast<double>(correct) / n;
  if (correct != (n + 1) / 2)
    die(strfmt("checker verification failed: %d of %d right, want %d", correct, n, (n + 1) / 2));
  return n / s;
}

const char* kProgram = "import sys\nprint(sum(int(x) for x in sys.stdin.read().split()))\n";

SandboxRun program_run() {
  return SandboxRun{{"/usr/bin/python3", "-I", "-S", "main.py"},
                    {{"main.py", kProgram}},
                    "1 2 3 4 5 6 7 8 9 10\n"};
}

void verify(const SandboxResult& r, const char* what) {
  if (r.status != SandboxStatus::ok || r.out != "55\n")
    die(strfmt("%s run failed: %s %s %s", what, sandbox_status_name(r.status), r.detail.c_str(),
               r.err.c_str()));
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 40, checks = 20000;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--runs"))
      runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--checks"))
      checks = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads"))
      threads = std::atoi(argv[i + 1]);
    else
      die(std::string("unknown option ") + argv[i] +
          "; usage: k1rl-bench-reward [--runs N] [--checks N] [--threads T]");
  }
  if (runs < 3 || checks < 2 || threads < 1) die("--runs >= 3, --checks >= 2, --threads >= 1");
  try {
    double right = 0;
    double checks_per_s = bench_checks(checks, &right);

    SandboxOptions so;
    Sandbox sb(so);
    SandboxRun run = program_run();
    SandboxRun trivial{{"/usr/bin/true"}, {}, ""};
    verify(sb.run(run, 0), "warm-up sandbox");
    verify(run_bare(run, so.limits), "warm-up bare");
    // Interleaved so that both see the same machine load.
    std::vector<double> t_sb, t_bare, t_sb_true, t_bare_true;
    for (int i = 0; i < runs; ++i) {
      auto t0 = Clock::now();
      verify(sb.run(run, 0), "sandbox");
      t_sb.push_back(since(t0));
      t0 = Clock::now();
      verify(run_bare(run, so.limits), "bare");
      t_bare.push_back(since(t0));
      t0 = Clock::now();
      if (sb.run(trivial, 0).status != SandboxStatus::ok) die("sandboxed /usr/bin/true failed");
      t_sb_true.push_back(since(t0));
      t0 = Clock::now();
      if (run_bare(trivial, so.limits).status != SandboxStatus::ok)
        die("bare /usr/bin/true failed");
      t_bare_true.push_back(since(t0));
    }
    double sb_ms = median(t_sb) * 1e3, bare_ms = median(t_bare) * 1e3;
    double overhead_ms = median(t_sb_true) * 1e3 - median(t_bare_true) * 1e3;

    // Throughput: `threads` workers, each in its own slot, all cores busy.
    std::atomic<int> done{0}, failed{0};
    auto t0 = Clock::now();
    std::vector<std::thread> pool;
    for (int w = 0; w < threads; ++w)
      pool.emplace_back([&, w] {
        for (int i = 0; i < runs; ++i) {
          SandboxResult r = sb.run(run, w);
          if (r.status == SandboxStatus::ok && r.out == "55\n")
            ++done;
          else
            ++failed;
        }
      });
    for (auto& t : pool) t.join();
    double wall = since(t0);
    if (failed) die(strfmt("%d sandboxed runs failed under load", failed.load()));
    double cores = static_cast<double>(std::min<unsigned>(
        static_cast<unsigned>(threads), std::max(1u, std::thread::hardware_concurrency())));
    double runs_per_s_core = done / wall / cores;

    std::printf("%-44s %12s\n", "measure", "value");
    std::printf("%-44s %12.0f\n", "checker answers/s (1 thread)", checks_per_s);
    std::printf("%-44s %12s\n", "sandbox isolation", isolation_name(sb.isolation()));
    std::printf("%-44s %12.2f\n", "bare fork/exec of the program, ms (median)", bare_ms);
    std::printf("%-44s %12.2f\n", "sandboxed run of the program, ms (median)", sb_ms);
    std::printf("%-44s %12.2f\n", "sandbox / bare (target < 2)", sb_ms / bare_ms);
    std::printf("%-44s %12.2f\n", "start-up overhead (/usr/bin/true), ms", overhead_ms);
    std::printf("%-44s %12.1f\n", "sandboxed runs/s per core (all cores busy)", runs_per_s_core);
    std::printf(
        "{\"checks_per_s\": %.0f, \"sandbox_runs_per_s\": %.2f, \"sandbox_overhead_ratio\": %.3f, "
        "\"sandbox_overhead_ms\": %.2f, \"bare_ms\": %.2f, \"sandbox_ms\": %.2f, \"threads\": %d, "
        "\"isolation\": \"%s\"}\n",
        checks_per_s, runs_per_s_core, sb_ms / bare_ms, overhead_ms, bare_ms, sb_ms, threads,
        isolation_name(sb.isolation()));
  } catch (const Error& e) {
    die(e.line());
  }
  return 0;
}
