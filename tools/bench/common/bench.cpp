// The benchmarks' common driver (bench.h): options, the thread count, clock, machine line, sgemm
// peak, resource use per phase, the final JSON line.
#include "tools/bench/common/bench.h"

#include <cblas.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "kernels/ops.h"
#include "lib/core/core.h"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace k1rl::bench {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
const double g_start = now();  // at program start (static initialisation)

Usage from_rusage(int who) {
  rusage r{};
  getrusage(who, &r);
  Usage u;
  u.user_s = double(r.ru_utime.tv_sec) + 1e-6 * double(r.ru_utime.tv_usec);
  u.sys_s = double(r.ru_stime.tv_sec) + 1e-6 * double(r.ru_stime.tv_usec);
  u.minflt = r.ru_minflt;
  u.majflt = r.ru_majflt;
  u.maxrss_kb = r.ru_maxrss;
  return u;
}

// "save_checkpoint (train)" -> "save_checkpoint_train".
std::string json_key(const std::string& name) {
  std::string k;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      k += c;
    else if (!k.empty() && k.back() != '_')
      k += '_';
  }
  while (!k.empty() && k.back() == '_') k.pop_back();
  return k;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(": ");
      return p == std::string::npos ? line : line.substr(p + 2);
    }
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one.empty() ? "?" : one;
}
}  // namespace

Coprocess::Coprocess(const std::vector<std::string>& argv) {
  int to[2], from[2];
  std::signal(SIGPIPE, SIG_IGN);  // a reference that died must not take us down when we write
  if (argv.empty() || pipe(to) != 0) return;
  if (pipe(from) != 0) {
    close(to[0]), close(to[1]);
    return;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[0]), close(to[1]), close(from[0]), close(from[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(to[0]), close(from[1]);
  if (pid < 0) {
    close(to[1]), close(from[0]);
    return;
  }
  pid_ = pid;
  in_ = fdopen(to[1], "w");
  out_ = fdopen(from[0], "r");
}

Coprocess::~Coprocess() {
  if (in_) std::fclose(in_);
  if (out_) std::fclose(out_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

std::string Coprocess::read_line() {
  if (!out_) return "";
  std::string line;
  int c;
  while ((c = std::fgetc(out_)) != EOF && c != '\n') line += static_cast<char>(c);
  if (c == EOF && line.empty()) {
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  return line;
}

std::string Coprocess::ask(const std::string& request) {
  if (!in_ || pid_ <= 0) return "";
  std::fprintf(in_, "%s\n", request.c_str());
  std::fflush(in_);
  return read_line();
}

Usage Usage::operator-(const Usage& o) const {
  Usage d = *this;
  d.user_s -= o.user_s, d.sys_s -= o.sys_s, d.minflt -= o.minflt, d.majflt -= o.majflt;
  return d;
}

Usage& Usage::operator+=(const Usage& o) {
  user_s += o.user_s, sys_s += o.sys_s, minflt += o.minflt, majflt += o.majflt;
  maxrss_kb = std::max(maxrss_kb, o.maxrss_kb);
  return *this;
}

Usage usage_self() {
  return from_rusage(RUSAGE_SELF);
}
Usage usage_children() {
  return from_rusage(RUSAGE_CHILDREN);
}

double json_number(const std::string& line, const std::string& key, double dflt) {
  const std::string k = "\"" + key + "\":";
  const size_t p = line.find(k);
  if (p == std::string::npos) return dflt;
  return std::atof(line.c_str() + p + k.size());
}

Phase phase_from_json(const std::string& name, const std::string& line) {
  Phase ph;
  ph.name = name;
  const size_t p = line.find("\"rusage\":");
  if (p == std::string::npos) return ph;
  const std::string r = line.substr(p);
  ph.wall_s = json_number(r, "wall_s");
  ph.usage.user_s = json_number(r, "user_s");
  ph.usage.sys_s = json_number(r, "sys_s");
  ph.usage.minflt = static_cast<int64_t>(json_number(r, "minflt"));
  ph.usage.majflt = static_cast<int64_t>(json_number(r, "majflt"));
  return ph;
}

Meter::Meter(bool children)
    : children_(children), t0_(now()), self0_(usage_self()), kids0_(usage_children()) {}

Phase Meter::stop(const std::string& name) const {
  Phase p;
  p.name = name;
  p.wall_s = now() - t0_;
  p.usage = usage_self() - self0_;
  if (children_) p.usage += usage_children() - kids0_;
  return p;
}

JsonLine& JsonLine::num(const std::string& key, double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::isfinite(v) ? v : 0.0);
  return raw(key, buf);
}
JsonLine& JsonLine::integer(const std::string& key, int64_t v) {
  return raw(key, std::to_string(v));
}
JsonLine& JsonLine::str(const std::string& key, const std::string& v) {
  std::string q = "\"";
  q += json_escape(v);
  q += '"';
  return raw(key, q);
}
JsonLine& JsonLine::boolean(const std::string& key, bool v) {
  return raw(key, v ? "true" : "false");
}
JsonLine& JsonLine::raw(const std::string& key, const std::string& json) {
  std::string item = "\"";
  item += json_escape(key);
  item += "\": ";
  item += json;
  items_.push_back(std::move(item));
  return *this;
}
JsonLine& JsonLine::append(const JsonLine& o) {
  items_.insert(items_.end(), o.items_.begin(), o.items_.end());
  return *this;
}

std::string JsonLine::text() const {
  std::string s = "{";
  for (size_t i = 0; i < items_.size(); ++i) s += (i ? ", " : "") + items_[i];
  return s + "}";
}

double ratio(double a, double b) {
  return b > 0 ? a / b : 0.0;
}

Driver::Driver(std::string name, std::string what)
    : name_(std::move(name)), program_("k1rl-bench-" + name_), opts_(program_ + ": " + what) {
  keep_freed_memory_mapped();  // what app_main does: the in-process code runs as in the apps
  set_process_identity("bench-" + name_, -1, 0);  // log lines read [k1rl-bench-<name> r0 ...]
  opts_.add_options()("help,h", "print this help and exit")(
      "threads", po::value<int>(&threads_)->default_value(2),
      "OpenMP threads (sets OMP_NUM_THREADS, as the launchers do for the apps; 0 = as the "
      "environment says)")("quick", po::bool_switch(&quick_),
                           "a short run with small sizes (checks that it works, not speed)");
}

bool Driver::given(const std::string& option) const {
  return vm_.count(option) && !vm_[option].defaulted();
}

bool Driver::parse(int argc, char** argv, bool allow_unknown) {
  try {
    // No prefix guessing: --t must not become --threads, nor a config override an option.
    auto parser =
        po::command_line_parser(argc, argv)
            .options(opts_)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing);
    if (allow_unknown) parser.allow_unregistered();
    po::parsed_options parsed = parser.run();
    po::store(parsed, vm_);
    po::notify(vm_);
    if (allow_unknown) unknown_ = po::collect_unrecognized(parsed.options, po::include_positional);
  } catch (const po::error& e) {
    std::fprintf(stderr, "%s: error: %s; see --help\n", program_.c_str(), e.what());
    exit_code_ = 64;
    return false;
  }
  if (vm_.count("help")) {
    std::cout << opts_ << "\n";
    exit_code_ = 0;
    return false;
  }
  if (threads_ < 0) {
    std::fprintf(stderr, "%s: error: --threads %d: must be >= 0; see --help\n", program_.c_str(),
                 threads_);
    exit_code_ = 64;
    return false;
  }
  if (threads_ > 0) {
    const std::string want = std::to_string(threads_);
    const char* have = std::getenv("OMP_NUM_THREADS");
    if (!have || want != have) {
      setenv("OMP_NUM_THREADS", want.c_str(), 1);
      execv("/proc/self/exe", argv);
      std::fprintf(stderr, "%s: warning: re-exec failed (%s); running in the current environment\n",
                   program_.c_str(), std::strerror(errno));
    }
  }
  return true;
}

void Driver::print_header(const std::string& extra) {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  std::printf("%s: %s, %u cores, isa %s, %d OpenMP threads, host %s, load %s%s%s\n",
              program_.c_str(), cpu_model().c_str(), std::thread::hardware_concurrency(),
              ops::isa_name(ops::isa()), ops::num_threads(), host, load_average().c_str(),
              extra.empty() ? "" : ", ", extra.c_str());
  std::fflush(stdout);
}

double Driver::gemm_peak(bool openblas_threads) {
  double& cached = openblas_threads ? peak_openblas_ : peak_kernels_;
  if (cached > 0) return cached;
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  ops::gemm(false, true, 64, 64, 64, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);  // init
  if (openblas_threads && openblas_set_num_threads) openblas_set_num_threads(ops::num_threads());
  double best = 0;
  for (int r = 0; r < 4; ++r) {
    const double t0 = now();
    if (openblas_threads)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.f, a.data(), n, b.data(), n,
                  0.f, c.data(), n);
    else
      ops::gemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    const double dt = now() - t0;
    if (r > 0) best = std::max(best, 2.0 * n * n * n / dt / 1e9);
  }
  if (openblas_threads && openblas_set_num_threads) openblas_set_num_threads(1);
  if (std::fabs(c[12345] - 0.125f * n) > 1e-2f * n)
    std::fprintf(stderr, "%s: warning: the sgemm check failed\n", program_.c_str());
  cached = best;
  return best;
}

double Driver::best_peak() const {
  return std::max(peak_kernels_, peak_openblas_);
}

void Driver::record(Phase p) {
  phases_.push_back(std::move(p));
}

void Driver::finish() {
  Usage all = usage_self();
  all += usage_children();
  std::printf("\n%-34s %9s %9s %9s %6s %11s %9s\n", "resource use (getrusage)", "wall s", "user s",
              "sys s", "sys %", "minor flt", "major flt");
  auto line = [](const std::string& name, double wall, const Usage& u) {
    std::printf("%-34s %9.2f %9.2f %9.2f %5.1f%% %11lld %9lld\n", name.c_str(), wall, u.user_s,
                u.sys_s, 100 * u.sys_frac(), (long long)u.minflt, (long long)u.majflt);
  };
  std::string rusage = "{";
  auto add = [&](const std::string& name, double wall, const Usage& u) {
    rusage += (rusage.size() > 1 ? ", " : "") + std::string("\"") + json_key(name) + "\": ";
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"wall_s\": %.3f, \"user_s\": %.3f, \"sys_s\": %.3f, \"minflt\": %lld, "
                  "\"majflt\": %lld}",
                  wall, u.user_s, u.sys_s, (long long)u.minflt, (long long)u.majflt);
    rusage += buf;
  };
  for (const Phase& p : phases_) line(p.name, p.wall_s, p.usage), add(p.name, p.wall_s, p.usage);
  line("whole process (and children)", now() - g_start, all);
  add("process", now() - g_start, all);
  rusage += "}";
  std::printf("(peak resident set %.0f MB; sys %% = system / (user + system) CPU time)\n",
              double(all.maxrss_kb) / 1024);
  json_.integer("omp_threads", ops::num_threads()).str("isa", ops::isa_name(ops::isa()));
  if (best_peak() > 0) json_.num("gemm_peak_gflops", best_peak(), 1);
  json_.integer("maxrss_mb", all.maxrss_kb / 1024).raw("rusage", rusage);
  std::printf("%s\n", json_.text().c_str());
  std::fflush(stdout);
}

}  // namespace k1rl::bench
