// k1rl core: typed errors, foreign-call checks, logging, progress lines, seeded RNG and the
// config system (INI file + --section.key=value overrides). Every module and app includes this.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace k1rl {

// ---------------------------------------------------------------------------------------------
// Errors. Library code throws; an app's main turns the error into one line
//   k1rl-<app>: error: <what>: <why>; <hint>
// and exit code 2 (see lib/app). Never call exit() or print from library code.
class Error : public std::runtime_error {
 public:
  Error(std::string what, std::string why, std::string hint = "");
  const std::string& what_part() const { return what_; }
  const std::string& why() const { return why_; }
  const std::string& hint() const { return hint_; }
  // "<what>: <why>; <hint>" (no hint part when the hint is empty).
  std::string line() const;

 private:
  std::string what_, why_, hint_;
};
struct ConfigError : Error {
  using Error::Error;
};  // bad option, value or config file
struct IoError : Error {
  using Error::Error;
};  // missing, truncated, corrupt or foreign file
struct InputError : Error {
  using Error::Error;
};  // bad data: tasks, prompts, shapes
struct RuntimeFault : Error {
  using Error::Error;
};  // a foreign library or a peer failed (MPI, CUDA)
struct NumericError : Error {
  using Error::Error;
};  // NaN/Inf loss or gradient

// Exit codes scripts can trust: the one table (docs/foundation.md). lib/app's app_main returns
// them; lib/loop's roles return kExitStoppedEarly; slurm/rl_iter.sh resubmits on 75.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,       // a bug: an unexpected exception
  kExitBadInput = 2,       // a typed k1rl::Error: bad config, file, data or peer
  kExitUsage = 64,         // bad command line (EX_USAGE)
  kExitStoppedEarly = 75,  // stopped early but safely (stop request, time limit): resubmit
};

// printf-style formatting into a std::string.
std::string strfmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string vstrfmt(const char* fmt, va_list ap);

// Who this process is, for log prefixes and error locations ("rank 3 on node17").
void set_process_identity(const std::string& app, int rank, int size);
const std::string& process_app();
int process_rank();
std::string process_where();  // "rank R on HOST" (or "HOST" before MPI)

// Throws RuntimeFault naming the library, the call, the code's text, rank, host and file:line.
[[noreturn]] void foreign_call_failed(const char* lib, const char* expr, const std::string& detail,
                                      const char* file, int line);

// ---------------------------------------------------------------------------------------------
// Logging to stderr with a prefix "[k1rl-<app> r<rank> <seconds>s] ". Level from set_log_level or
// the K1RL_LOG environment variable (error|warn|info|debug); default info; rank > 0 logs only
// warnings and errors unless K1RL_LOG_ALL_RANKS=1.
enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };
void set_log_level(LogLevel level);
LogLevel log_level();
LogLevel parse_log_level(const std::string& s);  // throws ConfigError
void log_msg(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
#define K1RL_LOG_ERROR(...) ::k1rl::log_msg(::k1rl::LogLevel::error, __VA_ARGS__)
#define K1RL_LOG_WARN(...) ::k1rl::log_msg(::k1rl::LogLevel::warn, __VA_ARGS__)
#define K1RL_LOG_INFO(...) ::k1rl::log_msg(::k1rl::LogLevel::info, __VA_ARGS__)
#define K1RL_LOG_DEBUG(...) ::k1rl::log_msg(::k1rl::LogLevel::debug, __VA_ARGS__)
double seconds_since_start();  // wall seconds since the process started logging

// A progress line for long work: at most one line every `every_s` seconds (and one at the end),
// "<label> 120/400 (30%) 52.1 items/s ETA 5s"; rewrites one line in place on a terminal.
class Progress {
 public:
  Progress(std::string label, int64_t total, double every_s = 10.0);
  void update(int64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  std::string label_;
  int64_t total_, done_ = 0;
  double every_s_, t0_, last_ = -1.0;
  bool tty_, shown_done_ = false;  // the final count was already printed
};

// ---------------------------------------------------------------------------------------------
// Seeded, serialisable RNG (xoshiro256**). Every stream that must be reproducible owns one;
// derive independent streams with Rng(seed, stream_id).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0);
  uint64_t next_u64();
  double uniform();  // [0, 1)
  float uniformf() { return static_cast<float>(uniform()); }
  double normal();             // standard normal (Box-Muller, no cached spare)
  uint64_t below(uint64_t n);  // uniform integer in [0, n), unbiased
  std::vector<uint64_t> state() const { return {s_[0], s_[1], s_[2], s_[3]}; }
  void set_state(const std::vector<uint64_t>& st);  // throws InputError on a wrong size

 private:
  uint64_t s_[4];
};

// ---------------------------------------------------------------------------------------------
// Config: every option is declared once (key "section.key", type, default, help), read from an
// INI file in Boost.Program_options config-file syntax ([section] then key = value, # comments),
// then overridden by --section.key=value on the command line. Unknown keys and bad values are
// ConfigErrors naming the file, the line and the nearest valid key.
using ConfigValue = std::variant<bool, int64_t, double, std::string>;

class ConfigSpec {
 public:
  struct Option {
    std::string key, help;
    ConfigValue def;
    std::vector<std::string> choices;  // non-empty: the value must be one of these (strings)
  };
  ConfigSpec& add_bool(const std::string& key, bool def, const std::string& help);
  ConfigSpec& add_int(const std::string& key, int64_t def, const std::string& help);
  ConfigSpec& add_double(const std::string& key, double def, const std::string& help);
  ConfigSpec& add_string(const std::string& key, const std::string& def, const std::string& help);
  ConfigSpec& add_choice(const std::string& key, const std::string& def,
                         const std::vector<std::string>& choices, const std::string& help);
  const std::vector<Option>& options() const { return options_; }
  const Option* find(const std::string& key) const;
  // The declared key closest to `key` (edit distance, same-name keys in other sections first).
  std::string nearest(const std::string& key) const;

 private:
  ConfigSpec& add(Option o);
  std::vector<Option> options_;
};

class Config {
 public:
  Config() = default;
  explicit Config(const ConfigSpec& spec);  // all defaults
  // Read an INI file (may be empty: defaults only), then apply "section.key=value" overrides.
  static Config load(const ConfigSpec& spec, const std::string& ini_path,
                     const std::vector<std::string>& overrides);
  // Same, from INI text; `name` is used in messages in place of a path.
  static Config parse(const ConfigSpec& spec, const std::string& ini_text, const std::string& name,
                      const std::vector<std::string>& overrides);
  bool get_bool(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  // get_int, or a ConfigError naming the key, its value and where it was set when below `min`.
  int64_t get_int_min(const std::string& key, int64_t min) const;
  double get_double(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  const ConfigValue& get(const std::string& key) const;
  void set(const std::string& key, const std::string& value);  // parse+validate like the CLI
  // Where a value came from: "default", "<file>:<line>" or "command line".
  const std::string& source(const std::string& key) const;
  // The resolved config as INI text, sections sorted, every key present; reparses to itself.
  std::string to_ini() const;
  // key -> value as text, for one section ("model" -> {"dim": "256", ...}).
  std::map<std::string, std::string> section(const std::string& name) const;

 private:
  const ConfigSpec::Option& option(const std::string& key) const;
  void assign(const std::string& key, const std::string& text, const std::string& where);
  std::shared_ptr<const ConfigSpec> spec_;
  std::map<std::string, ConfigValue> values_;
  std::map<std::string, std::string> sources_;
};

std::string config_value_text(const ConfigValue& v);

}  // namespace k1rl

// One macro family checks foreign calls; each reports rank, host and file:line.
#define K1RL_MPI_CHECK(call)                                                                \
  do {                                                                                      \
    int k1rl_rc_ = (call);                                                                  \
    if (k1rl_rc_ != 0)                                                                      \
      ::k1rl::foreign_call_failed("MPI", #call, ::k1rl::mpi_error_text(k1rl_rc_), __FILE__, \
                                  __LINE__);                                                \
  } while (0)
namespace k1rl {
std::string mpi_error_text(int code);
}
