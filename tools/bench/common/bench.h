// The driver every k1rl benchmark shares (after nccl-tests' common driver): options through
// Boost.Program_options with the common ones (--threads, --quick, --help), the thread count as
// the only environment a benchmark sets (OMP_NUM_THREADS, as the launchers set it for the apps),
// one clock, the machine line, the same run's sgemm peak, and per-phase resource use (page
// faults, user and system CPU time from getrusage) printed as a table and inside the final JSON
// line. Usage in a benchmark's main():
//   bench::Driver d("engine", "training and generation tokens/s next to PyTorch");
//   d.options().add_options()("shape", po::value<std::string>()->default_value("M"), "...");
//   if (!d.parse(argc, argv)) return d.exit_code();
//   d.print_header();
//   { bench::Meter m; ...work...; d.record(m.stop("k1rl train S")); }
//   d.json().num("train_ratio_S", r, 3);
//   d.finish();   // the resource table, then the JSON line
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace k1rl::bench {

namespace po = boost::program_options;

double now();  // seconds on the steady clock

// What a process used (getrusage): CPU seconds in user space and in the kernel, minor and major
// page faults, peak resident set.
struct Usage {
  double user_s = 0, sys_s = 0;
  int64_t minflt = 0, majflt = 0, maxrss_kb = 0;
  Usage operator-(const Usage& o) const;  // maxrss_kb keeps this one's
  Usage& operator+=(const Usage& o);      // maxrss_kb: the larger
  double sys_frac() const { return user_s + sys_s > 0 ? sys_s / (user_s + sys_s) : 0; }
};
Usage usage_self();      // this process, all threads
Usage usage_children();  // its children that have been waited for (popen + pclose, fork + wait)

// The number after "key": in a JSON line (dflt when absent). For the references' output.
double json_number(const std::string& line, const std::string& key, double dflt = 0);

// One measured phase of one program: wall time and its resource use.
struct Phase {
  std::string name;
  double wall_s = 0;
  Usage usage;
};

// A reference program's phase from its JSON line: "rusage": {"wall_s", "user_s", "sys_s",
// "minflt", "majflt"} (the Python references measure their timed region themselves); a phase
// with wall_s 0 when the line has none.
Phase phase_from_json(const std::string& name, const std::string& line);

// Starts measuring at construction; stop() gives the phase since then. With children, what
// waited-for child processes used in between is added (a sandbox, a reference program).
class Meter {
 public:
  explicit Meter(bool children = false);
  Phase stop(const std::string& name) const;

 private:
  bool children_;
  double t0_;
  Usage self0_, kids0_;
};

// A reference program kept running between measurements, so that its runs can interleave with
// ours and both see the same load on shared cores: one request line to its stdin, one reply
// line back from its stdout (its stderr goes to ours). The environment is inherited unchanged.
class Coprocess {
 public:
  explicit Coprocess(const std::vector<std::string>& argv);
  ~Coprocess();  // closes its stdin and waits for it
  Coprocess(const Coprocess&) = delete;
  Coprocess& operator=(const Coprocess&) = delete;
  bool running() const { return pid_ > 0; }
  // Sends `request` (a newline is added) and returns the next line of its output without the
  // newline; "" when it has died (running() is then false).
  std::string ask(const std::string& request);
  std::string read_line();  // the next line (e.g. a greeting), "" at its end

 private:
  int pid_ = -1;
  FILE *in_ = nullptr, *out_ = nullptr;
};

// The final JSON line, keys in the order added.
class JsonLine {
 public:
  JsonLine& num(const std::string& key, double v, int decimals);
  JsonLine& integer(const std::string& key, int64_t v);
  JsonLine& str(const std::string& key, const std::string& v);
  JsonLine& boolean(const std::string& key, bool v);
  JsonLine& raw(const std::string& key, const std::string& json);  // an object or array
  JsonLine& append(const JsonLine& o);                             // o's keys after this one's
  std::string text() const;

 private:
  std::vector<std::string> items_;
};

double ratio(double a, double b);  // a / b, 0 when b is not positive

class Driver {
 public:
  // name: the benchmark's short name (k1rl-bench-<name>); what: one line for --help.
  Driver(std::string name, std::string what);
  po::options_description& options() { return opts_; }
  // Parses the command line: --help prints the options and returns false with exit code 0, a bad
  // option prints a one-line error and returns false with 64. With the thread count set (and
  // not yet in the environment) it re-executes the program once with OMP_NUM_THREADS=N, since
  // OpenMP and OpenBLAS read it at start-up. allow_unknown keeps what it does not know in
  // unknown() (e.g. --section.key=value config overrides).
  bool parse(int argc, char** argv, bool allow_unknown = false);
  int exit_code() const { return exit_code_; }
  const po::variables_map& vm() const { return vm_; }
  bool given(const std::string& option) const;  // on the command line (not the default)
  const std::vector<std::string>& unknown() const { return unknown_; }
  bool quick() const { return quick_; }
  const std::string& program() const { return program_; }

  // "k1rl-bench-<name>: <cpu>, <n> cores, isa <isa>, <t> OpenMP threads, host <h>[, extra]".
  void print_header(const std::string& extra = "");
  // Best GFLOP/s of a 2048^3 sgemm in this run: through ops::gemm (the kernels' threading), or
  // with openblas_threads OpenBLAS's own threads. Measured once per kind; the JSON line gets it.
  double gemm_peak(bool openblas_threads = false);
  // The peak to quote a fraction of: the larger of the kinds measured so far.
  double best_peak() const;

  void record(Phase p);
  const std::vector<Phase>& phases() const { return phases_; }
  JsonLine& json() { return json_; }
  // Prints the resource table (each phase, and the whole process) and the JSON line, which ends
  // with "omp_threads", "isa", "gemm_peak_gflops" (when measured) and "rusage".
  void finish();

 private:
  std::string name_, program_;
  po::options_description opts_;
  po::variables_map vm_;
  std::vector<std::string> unknown_;
  bool quick_ = false;
  int threads_ = 2, exit_code_ = 0;
  double peak_kernels_ = 0, peak_openblas_ = 0;
  std::vector<Phase> phases_;
  JsonLine json_;
};

}  // namespace k1rl::bench
