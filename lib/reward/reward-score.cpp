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

void declare_reward_options(ConfigSpec& s) {
  s.add_string("reward.tasks", "",
               "task files the reward ranks load, comma-separated (empty: tasks.train_file and "
               "tasks.heldout_file)")
      .add_int("reward.workers", 0,
               "code-checking worker threads per reward rank (0: one per core)")
      .add_bool("reward.code_partial", false,
                "code reward is the fraction of tests passed (false: 1 only when all pass)")
      .add_string("reward.python", "/usr/bin/python3",
                  "Python that runs code answers in the sandbox")
      .add_double("reward.length_penalty_weight", 1.0, "weight of the k1.5 length reward")
      .add_int("reward.length_penalty_warmup", 10, "iterations before the length reward counts")
      .add_double("reward.repetition_penalty_weight", 0.2, "weight of the repetition penalty")
      .add_int("reward.repetition_ngram", 4, "word n-gram size of the repetition penalty")
      .add_double("reward.repetition_threshold", 0.5,
                  "repeated n-gram fraction that is still free of penalty")
      .add_choice("reward.sandbox", "auto", {"auto", "bwrap", "unshare", "rlimits"},
                  "sandbox isolation for code answers (auto: the strongest that works)")
      .add_double("reward.sandbox_wall_s", 2.0, "wall-clock limit of one test run (seconds)")
      .add_double("reward.sandbox_cpu_s", 2.0, "CPU limit of one test run (seconds)")
      .add_int("reward.sandbox_memory_mb", 512, "address-space limit of one test run (MiB)")
      .add_int("reward.sandbox_processes", 16, "processes/threads a test run may have")
      .add_int("reward.sandbox_file_mb", 16, "largest file a test run may write (MiB)")
      .add_int("reward.sandbox_open_files", 64, "open files a test run may have")
      .add_int("reward.sandbox_output_kb", 1024, "output kept from a test run (KiB); more kills it")
      .add_string("reward.sandbox_ro_paths", "/usr,/bin,/lib,/lib64,/sbin",
                  "host folders shown read-only inside the bwrap sandbox (comma-separated)")
      .add_string(
          "reward.sandbox_tmp_dir", "",
          "host folder for working dirs of the unshare/rlimits levels (empty: $TMPDIR or /tmp)")
      .add_int("reward.sandbox_uid_base", 61000, "first uid sandboxed programs run as when root");
}

namespace {
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      size_t a = cur.find_first_not_of(" \t"), b = cur.find_last_not_of(" \t");
      if (a != std::string::npos) out.push_back(cur.substr(a, b - a + 1));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}
}  // namespace

RewardOptions reward_options_from_config(const Config& cfg) {
  RewardOptions o;
  o.task_files = split_list(cfg.get_string("reward.tasks"));
  if (o.task_files.empty()) {
    try {
      for (const char* k : {"tasks.train_file", "tasks.heldout_file"})
        if (!cfg.get_string(k).empty()) o.task_files.push_back(cfg.get_string(k));
    } catch (const ConfigError&) {  // a config without the [tasks] section
    }
  }
  o.workers = static_cast<int>(cfg.get_int("reward.workers"));
  o.code_partial = cfg.get_bool("reward.code_partial");
  o.python = cfg.get_string("reward.python");
  o.length_penalty_weight = cfg.get_double("reward.length_penalty_weight");
  o.length_penalty_warmup = cfg.get_int("reward.length_penalty_warmup");
  o.repetition_penalty_weight = cfg.get_double("reward.repetition_penalty_weight");
  o.repetition_ngram = static_cast<int>(cfg.get_int("reward.repetition_ngram"));
  o.repetition_threshold = cfg.get_double("reward.repetition_threshold");
  SandboxOptions& sb = o.sandbox;
  sb.isolation = cfg.get_string("reward.sandbox");
  sb.ro_paths = split_list(cfg.get_string("reward.sandbox_ro_paths"));
  sb.tmp_dir = cfg.get_string("reward.sandbox_tmp_dir");
  sb.uid_base = cfg.get_int("reward.sandbox_uid_base");
  sb.limits.wall_s = cfg.get_double("reward.sandbox_wall_s");
  sb.limits.cpu_s = cfg.get_double("reward.sandbox_cpu_s");
  sb.limits.memory_bytes = cfg.get_int("reward.sandbox_memory_mb") << 20;
  sb.limits.processes = cfg.get_int("reward.sandbox_processes");
  sb.limits.file_bytes = cfg.get_int("reward.sandbox_file_mb") << 20;
  sb.limits.open_files = cfg.get_int("reward.sandbox_open_files");
  sb.limits.output_bytes = cfg.get_int("reward.sandbox_output_kb") << 10;
  if (sb.limits.wall_s <= 0 || sb.limits.cpu_s <= 0 || sb.limits.memory_bytes <= 0 ||
      sb.limits.processes < 1 || sb.limits.open_files < 8 || sb.limits.output_bytes <= 0)
    throw ConfigError("bad sandbox limits", "limits must be positive (open files at least 8)",
                      "check the reward.sandbox_* keys");
  return o;
}

}  // namespace k1rl
