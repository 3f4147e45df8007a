// `k1rl-inspect summary`: a run directory at a glance, from its published files only.
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "lib/inspect/inspect-impl.h"
#include "lib/io/io.h"

namespace fs = std::filesystem;

namespace k1rl::inspect {

namespace {

using Table = std::map<std::string, std::vector<double>>;

// The job holding <run>/.lock (lib/loop's RunLock), or "" when none does.
std::string lock_holder(const RunDir& run) {
  const std::string path = run.lock();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  std::string who;
  if (::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
    who.resize(256);
    who.resize(static_cast<size_t>(std::max<ssize_t>(0, ::pread(fd, who.data(), who.size(), 0))));
    while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
    if (who.empty()) who = strfmt("pid %d", static_cast<int>(fl.l_pid));
  }
  ::close(fd);
  return who;
}

// Iterations named it_NNNNNN.h5 in ckpt/.
std::vector<int64_t> checkpoints(const std::string& dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    int64_t it = 0;
    if (RunDir::parse_ckpt_name(e.path().filename().string(), it)) out.push_back(it);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string list_text(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v.size() > 12 && i == 5) {
      s += strfmt(", ... (%zu more)", v.size() - 10);
      i = v.size() - 5;
    }
    s += (s.empty() ? "" : ", ") + std::to_string(static_cast<long long>(v[i]));
  }
  return s;
}

bool read_table_if(const std::string& path, const std::string& table, Table& t) {
  io::H5Reader r(path, "metrics", 1);  // a foreign or newer file is an IoError naming it
  if (!io::has_link(r.root(), table)) return false;
  t = io::read_table(path, table);
  return true;
}

// "first (it) last (it) min (it) max (it)" of a column, NaN rows skipped.
void metric_line(std::ostream& out, const std::string& label, const Table& t,
                 const std::string& col) {
  auto c = t.find(col);
  auto its = t.find("iteration");
  if (c == t.end()) return;
  int first = -1, last = -1, lo = -1, hi = -1;
  const auto& v = c->second;
  for (int i = 0; i < static_cast<int>(v.size()); ++i) {
    if (std::isnan(v[i])) continue;
    if (first < 0) first = i;
    last = i;
    if (lo < 0 || v[i] < v[lo]) lo = i;
    if (hi < 0 || v[i] > v[hi]) hi = i;
  }
  if (first < 0) return;
  auto it_of = [&](int i) {
    const double x =
        its != t.end() && i < static_cast<int>(its->second.size()) ? its->second[i] : NAN;
    return std::isnan(x) ? std::string("-") : std::to_string(static_cast<long long>(x));
  };
  out << strfmt("  %-26s %10.4g %6s %10.4g %6s %10.4g %6s %10.4g %6s\n", label.c_str(), v[first],
                it_of(first).c_str(), v[last], it_of(last).c_str(), v[lo], it_of(lo).c_str(), v[hi],
                it_of(hi).c_str());
}

// Mean and total of a timing column over rows where `use` holds (every row when empty).
void time_line(std::ostream& out, const std::string& label, const Table& t, const std::string& col,
               const std::string& use = "") {
  auto c = t.find(col);
  if (c == t.end()) return;
  auto u = use.empty() ? t.end() : t.find(use);
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 0; i < c->second.size(); ++i) {
    if (std::isnan(c->second[i])) continue;
    if (!use.empty() && (u == t.end() || i >= u->second.size() || !(u->second[i] == 1.0))) continue;
    sum += c->second[i], ++n;
  }
  if (n > 0)
    out << strfmt("  %-26s %9.3f s mean %10.1f s total over %lld row(s)\n", label.c_str(),
                  sum / static_cast<double>(n), sum, static_cast<long long>(n));
}

void config_lines(const RunDir& run, std::ostream& out) {
  const std::string ini = run.config_ini();
  if (!io::file_exists(ini)) {
    out << "config: no config.ini yet\n";
    return;
  }
  Config c = load_run_config(ini);
  out << "config: model";
  for (const char* k : {"vocab", "dim", "layers", "heads", "kv_heads", "ffn_dim", "max_seq"})
    out << " " << k << "=" << config_value_text(c.get(std::string("model.") + k));
  out << " | tokenizer " << c.get_string("tokenizer.kind") << " | train.algorithm "
      << c.get_string("train.algorithm") << " | run.staleness " << c.get_int("run.staleness")
      << " | tasks " << c.get_string("tasks.train_file") << "\n";
}

void files_lines(const RunDir& run, std::ostream& out) {
  const std::string holder = lock_holder(run);
  out << "state: "
      << (holder.empty() ? "no job holds " + run.lock() + " (not running)"
                         : "running: " + holder + " holds " + run.lock())
      << "\n";
  const std::vector<int64_t> cks = checkpoints(run.ckpt_dir());
  int64_t latest = -1;  // shown as it stands; a bad pointer is "none yet" here, resume says why
  if (io::file_exists(run.ckpt_latest()) &&
      !RunDir::parse_ckpt_name(io::read_text(run.ckpt_latest()), latest))
    latest = -1;
  out << strfmt("checkpoints: %zu in ckpt/ (iterations %s); latest %s\n", cks.size(),
                cks.empty() ? "-" : list_text(cks).c_str(),
                latest < 0 ? "none yet" : RunDir::ckpt_name(latest).c_str());
  std::map<int64_t, int> shards;
  for (const auto& ref : buffer::list_shards(run.buffer_dir())) ++shards[ref.iteration];
  std::vector<int64_t> its;
  for (const auto& [i, n] : shards) its.push_back(i);
  size_t n_shards = 0;
  for (const auto& [i, n] : shards) n_shards += static_cast<size_t>(n);
  out << strfmt("buffer: %zu shard(s) of %zu iteration(s) (%s)\n", n_shards, its.size(),
                its.empty() ? "-" : list_text(its).c_str());
  std::vector<std::string> temps;
  for (const std::string& d : {run.root(), run.ckpt_dir(), run.buffer_dir()})
    for (const auto& t : temporaries(d))
      temps.push_back(fs::path(t).lexically_relative(run.root()));
  if (!temps.empty()) {
    out << strfmt("being written (temporary names%s):",
                  holder.empty() ? ", left by a killed writer" : "");
    for (const auto& t : temps) out << " " << t;
    out << "\n";
  }
  if (!holder.empty() && latest >= 0) {
    // Train publishes it_{N+1} after training N; shards of N (and N+1 with staleness 1) may exist.
    std::string fl;
    for (const auto& [i, n] : shards)
      if (i >= latest) fl += strfmt(" %lld (%d shard(s) published)", static_cast<long long>(i), n);
    out << strfmt("in flight: the policy is θ_%lld; rollout iteration(s)%s\n",
                  static_cast<long long>(latest),
                  fl.empty() ? strfmt(" %lld generating", static_cast<long long>(latest)).c_str()
                             : fl.c_str());
  }
}

void metrics_lines(const RunDir& run, std::ostream& out) {
  const std::string path = run.metrics();
  if (!io::file_exists(path)) {
    out << "\nmetrics: no metrics.h5 yet\n";
    return;
  }
  Table iter, train, reward;
  const bool has_iter = read_table_if(path, "iteration", iter);
  const bool has_train = read_table_if(path, "train", train);
  const bool has_reward = read_table_if(path, "reward", reward);
  size_t n_it = has_iter && iter.count("iteration") ? iter["iteration"].size() : 0;
  out << "\n";
  if (n_it > 0)
    out << strfmt("iterations: %zu trained (%lld..%lld)\n", n_it,
                  static_cast<long long>(iter["iteration"].front()),
                  static_cast<long long>(iter["iteration"].back()));
  else
    out << "iterations: none trained yet\n";
  out << "time per phase:\n";
  if (has_train) time_line(out, "SFT warm-up step", train, "time_s", "sft");
  if (has_iter) {
    time_line(out, "rollout per iteration", iter, "rollout_s");
    time_line(out, "train per iteration", iter, "train_s");
    time_line(out, "whole iteration", iter, "iteration_s");
  }
  if (has_reward) time_line(out, "reward serve per iteration", reward, "serve_s");
  out << strfmt("\n  %-26s %10s %6s %10s %6s %10s %6s %10s %6s\n", "metric (table)", "first",
                "(it)", "last", "(it)", "min", "(it)", "max", "(it)");
  if (has_iter) {
    metric_line(out, "reward_mean (/iteration)", iter, "reward_mean");
    metric_line(out, "accuracy (/iteration)", iter, "accuracy");
    metric_line(out, "answer_len_mean (/iter.)", iter, "answer_len_mean");
    metric_line(out, "kl (/iteration)", iter, "kl");
    metric_line(out, "loss (/iteration)", iter, "loss");
    metric_line(out, "tokens_per_s (/iteration)", iter, "tokens_per_s");
  }
  if (has_train) {
    // RL rows only (SFT rows have sft = 1 and no iteration).
    Table rl;
    const auto& sft = train["sft"];
    for (const auto& [k, v] : train)
      for (size_t i = 0; i < v.size(); ++i)
        if (sft.size() <= i || !(sft[i] == 1.0)) rl[k].push_back(v[i]);
    metric_line(out, "entropy (/train)", rl, "entropy");
    metric_line(out, "grad_norm (/train)", rl, "grad_norm");
  }
  const std::string eval = run.eval();
  if (io::file_exists(eval)) {
    io::H5Reader r(eval, "eval", 1);
    if (io::has_link(r.root(), "eval")) {
      Table e = io::read_table(eval, "eval");
      out << strfmt("\neval (eval.h5):\n  %9s %7s %8s %8s %8s %3s %9s %8s %8s\n", "iteration",
                    "prompts", "greedy", "pass@1", "pass@k", "k", "len(tok)", "trunc", "seconds");
      for (size_t i = 0; i < e["iteration"].size(); ++i) {
        auto g = [&](const char* k) { return i < e[k].size() ? e[k][i] : NAN; };
        out << strfmt("  %9.0f %7.0f %8.3f %8.3f %8.3f %3.0f %9.1f %8.3f %8.1f\n", g("iteration"),
                      g("prompts"), g("greedy_accuracy"), g("pass1"), g("passk"), g("k"),
                      g("answer_len_mean"), g("truncated_frac"), g("seconds"));
      }
    }
  }
}

}  // namespace

void summary(const std::string& run_dir, std::ostream& out) {
  require_run_dir(run_dir);
  out << "run " << run_dir << "\n";
  const RunDir run(run_dir);
  config_lines(run, out);
  files_lines(run, out);
  metrics_lines(run, out);
}

}  // namespace k1rl::inspect
