// Scoring one answer: checker dispatch by task kind (code runs every test in the sandbox), the
// k1.5 length reward of a group, the repetition penalty, and the [reward] config section.
#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "lib/reward/reward.h"

namespace k1rl {

std::vector<double> length_rewards(const std::vector<int64_t>& lengths,
                                   const std::vector<bool>& correct) {
  if (lengths.size() != correct.size())
    throw InputError("length penalty", "lengths and correctness differ in size",
                     "a bug: report it");
  std::vector<double> out(lengths.size(), 0.0);
  if (lengths.empty()) return out;
  auto [mn, mx] = std::minmax_element(lengths.begin(), lengths.end());
  if (*mn == *mx) return out;  // all equal: λ = 0
  double span = static_cast<double>(*mx - *mn);
  for (size_t i = 0; i < lengths.size(); ++i) {
    double lambda = 0.5 - static_cast<double>(lengths[i] - *mn) / span;
    out[i] = correct[i] ? lambda : std::min(0.0, lambda);
  }
  return out;
}

double repetition_penalty(const std::string& text, int ngram, double threshold, bool repeated) {
  if (repeated) return -1.0;
  if (ngram < 1) return 0.0;
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(std::move(w));
  if (static_cast<int>(words.size()) < ngram + 1) return 0.0;
  std::set<std::vector<std::string>> seen;
  size_t total = 0, again = 0;
  for (size_t i = 0; i + static_cast<size_t>(ngram) <= words.size(); ++i) {
    std::vector<std::string> g(words.begin() + static_cast<long>(i),
                               words.begin() + static_cast<long>(i) + ngram);
    ++total;
    if (!seen.insert(std::move(g)).second) ++again;
  }
  double f = static_cast<double>(again) / static_cast<double>(total);
  if (f <= threshold || threshold >= 1.0) return 0.0;
  return -(f - threshold) / (1.0 - threshold);
}

namespace {
CheckResult check_code(const Task& task, const std::string& text, const Sandbox* sandbox, int slot,
                       const RewardOptions& opt, int* runs) {
  CheckResult r;
  std::string code = extract_code(text);
  if (code.find_first_not_of(" \t\r\n") == std::string::npos) {
    r.reason = "no_answer";
    return r;
  }
  r.extracted = code.substr(0, 200);
  if (!sandbox) {
    r.reason = "sandbox_error";
    return r;
  }
  size_t passed = 0;
  for (const auto& tc : task.tests) {
    SandboxRun run{{opt.python, "-I", "main.py"}, {{"main.py", code}}, tc.input};
    SandboxResult res = sandbox->run(run, slot);
    ++*runs;
    bool ok = res.status == SandboxStatus::ok && outputs_match(res.out, tc.output);
    if (ok) {
      ++passed;
      continue;
    }
    if (r.reason.empty())
      r.reason = res.status == SandboxStatus::ok ? "wrong_output" : sandbox_status_name(res.status);
    if (!opt.code_partial) break;
  }
  size_t n = task.tests.size();
  if (opt.code_partial)
    r.score = n ? static_cast<double>(passed) / static_cast<double>(n) : 0.0;
  else
    r.score = n && passed == n ? 1.0 : 0.0;
  if (n && passed == n) r.reason = "correct";
  if (r.reason.empty()) r.reason = "no_tests";
  return r;
}
}  // namespace

CheckResult check_answer(const Task& task, const std::string& text, const Sandbox* sandbox,
                         int slot, const RewardOptions& opt, int* sandbox_runs) {
  int runs = 0;
  try {
    if (task.task == "countdown") return check_countdown(task, text);
    if (task.task == "code") {
      CheckResult r = check_code(task, text, sandbox, slot, opt, &runs);
      if (sandbox_runs) *sandbox_runs += runs;
      return r;
    }
    if (task.task == "addition" || task.task == "multiplication" || task.task == "linear")
      return check_numeric(task, text);
    throw InputError("task '" + task.id + "'", "unknown task kind '" + task.task + "'",
                     "use one of addition, multiplication, linear, countdown, code");
  } catch (const Error& e) {  // a bad task, never the answer: score 0 with the reason
    CheckResult r;
    r.reason = "bad_task";
    r.extracted = e.line();
    return r;
  }
}

const OptionTable<RewardOptions>& reward_options() {
  using R = RewardOptions;
  auto sb = [](R& r) -> SandboxOptions& { return r.sandbox; };
  auto lim = [](R& r) -> SandboxLimits& { return r.sandbox.limits; };
  static const auto t =
      OptionTable<R>()
          .add("reward.tasks", &R::task_files,
               "task files the reward ranks load, comma-separated (empty: tasks.train_file and "
               "tasks.heldout_file)")
          .add("reward.workers", &R::workers,
               "code-checking worker threads per reward rank (0: one per core)",
               Check().ge(0).le(4096))
          .add("reward.code_partial", &R::code_partial,
               "code reward is the fraction of tests passed (false: 1 only when all pass)")
          .add("reward.python", &R::python, "Python that runs code answers in the sandbox")
          .add("reward.length_penalty_weight", &R::length_penalty_weight,
               "weight of the k1.5 length reward", Check().ge(0))
          .add("reward.length_penalty_warmup", &R::length_penalty_warmup,
               "iterations before the length reward counts", Check().ge(0))
          .add("reward.repetition_penalty_weight", &R::repetition_penalty_weight,
               "weight of the repetition penalty", Check().ge(0))
          .add("reward.repetition_ngram", &R::repetition_ngram,
               "word n-gram size of the repetition penalty", Check().ge(1))
          .add("reward.repetition_threshold", &R::repetition_threshold,
               "repeated n-gram fraction that is still free of penalty", Check().ge(0).le(1))
          .choice(
              "reward.sandbox", [](R & r) -> auto& { return r.sandbox.isolation; },
              {"auto", "bwrap", "unshare", "rlimits"},
              "sandbox isolation for code answers (auto: the strongest that works)")
          .add(
              "reward.sandbox_wall_s", [lim](R & r) -> auto& { return lim(r).wall_s; },
              "wall-clock limit of one test run (seconds)", Check().gt(0).le(86400))
          .add(
              "reward.sandbox_cpu_s", [lim](R & r) -> auto& { return lim(r).cpu_s; },
              "CPU limit of one test run (seconds)", Check().gt(0).le(86400))
          .scaled(
              "reward.sandbox_memory_mb", [lim](R & r) -> auto& { return lim(r).memory_bytes; },
              1 << 20, "address-space limit of one test run (MiB)", Check().ge(1).le(1 << 30))
          .add(
              "reward.sandbox_processes", [lim](R & r) -> auto& { return lim(r).processes; },
              "processes/threads a test run may have", Check().ge(1))
          .scaled(
              "reward.sandbox_file_mb", [lim](R & r) -> auto& { return lim(r).file_bytes; },
              1 << 20, "largest file a test run may write (MiB)", Check().ge(1).le(1 << 30))
          .add(
              "reward.sandbox_open_files", [lim](R & r) -> auto& { return lim(r).open_files; },
              "open files a test run may have", Check().ge(8))
          .scaled(
              "reward.sandbox_output_kb", [lim](R & r) -> auto& { return lim(r).output_bytes; },
              1 << 10, "output kept from a test run (KiB); more kills it",
              Check().ge(1).le(1 << 30))
          .add(
              "reward.sandbox_ro_paths", [sb](R & r) -> auto& { return sb(r).ro_paths; },
              "host folders shown read-only inside the bwrap sandbox (comma-separated)")
          .add(
              "reward.sandbox_tmp_dir", [sb](R & r) -> auto& { return sb(r).tmp_dir; },
              "host folder for working dirs of the unshare/rlimits levels (empty: $TMPDIR or "
              "/tmp)")
          .add(
              "reward.sandbox_uid_base", [sb](R & r) -> auto& { return sb(r).uid_base; },
              "first uid sandboxed programs run as when root (they use the 65536 above it)",
              Check().ge(1).le(std::numeric_limits<int32_t>::max() - 65536));
  return t;
}

void declare_reward_options(ConfigSpec& s) {
  reward_options().declare(s);
}

RewardOptions reward_options_from_config(const Config& cfg) {
  RewardOptions o = reward_options().read(cfg);
  if (o.task_files.empty()) {
    try {
      for (const char* k : {"tasks.train_file", "tasks.heldout_file"})
        if (!cfg.get_string(k).empty()) o.task_files.push_back(cfg.get_string(k));
    } catch (const ConfigError&) {  // a config without the [tasks] section
    }
  }
  return o;
}

}  // namespace k1rl
