// k1rl-bench-reward: checker answers/s (numbers and countdown, one thread), and sandboxed code
// runs/s per core with the sandbox's start-up overhead against a bare fork/exec of the same
// ~10 ms Python program in the same run. Every run's output is verified. Prints a table and a
// final JSON line {checks_per_s, sandbox_runs_per_s, sandbox_overhead_ratio, ...} ("threads" is
// the number of sandbox workers), with each part's page faults and CPU time (this process and the
// sandboxed children) in the resource table.
// Usage: k1rl-bench-reward [--runs N] [--checks N] [--workers T] [--quick]
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "lib/reward/reward.h"
#include "tools/bench/common/bench.h"

namespace {
using namespace k1rl;
double since(double t0) {
  return bench::now() - t0;
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
  double t0 = bench::now();
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
  bench::Driver d("reward", "checker answers/s and sandboxed runs/s against a bare fork/exec");
  int runs = 40, checks = 20000;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  d.options().add_options()("runs", bench::po::value(&runs)->default_value(runs),
                            "sandboxed runs per measurement (--quick: 3)")(
      "checks", bench::po::value(&checks)->default_value(checks), "checker answers (--quick: 100)")(
      "workers", bench::po::value(&threads)->default_value(threads),
      "sandbox workers for the throughput (default: the cores)");
  if (!d.parse(argc, argv)) return d.exit_code();
  if (d.quick() && !d.given("runs")) runs = 3;
  if (d.quick() && !d.given("checks")) checks = 100;
  if (runs < 3 || checks < 2 || threads < 1) die("--runs >= 3, --checks >= 2, --workers >= 1");
  try {
    d.print_header();
    double right = 0;
    bench::Meter m_checks;
    double checks_per_s = bench_checks(checks, &right);
    d.record(m_checks.stop("checker answers"));

    SandboxOptions so;
    Sandbox sb(so);
    SandboxRun run = program_run();
    SandboxRun trivial{{"/usr/bin/true"}, {}, ""};
    verify(sb.run(run, 0), "warm-up sandbox");
    verify(run_bare(run, so.limits), "warm-up bare");
    bench::Meter m_lat(true);
    // Interleaved so that both see the same machine load.
    std::vector<double> t_sb, t_bare, t_sb_true, t_bare_true;
    for (int i = 0; i < runs; ++i) {
      double t0 = bench::now();
      verify(sb.run(run, 0), "sandbox");
      t_sb.push_back(since(t0));
      t0 = bench::now();
      verify(run_bare(run, so.limits), "bare");
      t_bare.push_back(since(t0));
      t0 = bench::now();
      if (sb.run(trivial, 0).status != SandboxStatus::ok) die("sandboxed /usr/bin/true failed");
      t_sb_true.push_back(since(t0));
      t0 = bench::now();
      if (run_bare(trivial, so.limits).status != SandboxStatus::ok)
        die("bare /usr/bin/true failed");
      t_bare_true.push_back(since(t0));
    }
    d.record(m_lat.stop("sandboxed and bare runs, interleaved"));
    double sb_ms = median(t_sb) * 1e3, bare_ms = median(t_bare) * 1e3;
    double overhead_ms = median(t_sb_true) * 1e3 - median(t_bare_true) * 1e3;

    // Throughput: `threads` workers, each in its own slot, all cores busy.
    bench::Meter m_tput(true);
    std::atomic<int> done{0}, failed{0};
    double t0 = bench::now();
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
    d.record(m_tput.stop("sandboxed runs, all workers"));
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
    d.json()
        .num("checks_per_s", checks_per_s, 0)
        .num("sandbox_runs_per_s", runs_per_s_core, 2)
        .num("sandbox_overhead_ratio", bench::ratio(sb_ms, bare_ms), 3)
        .num("sandbox_overhead_ms", overhead_ms, 2)
        .num("bare_ms", bare_ms, 2)
        .num("sandbox_ms", sb_ms, 2)
        .integer("threads", threads)
        .str("isolation", isolation_name(sb.isolation()));
    d.finish();
  } catch (const Error& e) {
    die(e.line());
  }
  return 0;
}
