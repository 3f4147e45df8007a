// k1rl core: typed errors, foreign-call checks, logging, progress lines, seeded RNG and the
// config system (INI file + --section.key=value overrides). Every module and app includes this.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
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

// Called first by every app (and by the benchmarks that run the apps' code in-process): freed
// memory is kept mapped for reuse instead of being returned to the kernel (core-memory.cpp).
void keep_freed_memory_mapped();

// What this process has used so far, all threads (getrusage): CPU seconds in user space and in
// the kernel, minor and major page faults, peak resident set.
struct ProcessUsage {
  double user_s = 0, sys_s = 0;
  int64_t minflt = 0, majflt = 0, maxrss_kb = 0;
};
ProcessUsage process_usage();

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
// Config: every option is declared once (key "section.key", type, default, help, checks), read
// from an INI file in Boost.Program_options config-file syntax ([section] then key = value,
// # comments), then overridden by --section.key=value on the command line. Unknown keys and bad
// values (wrong type, not a choice, outside the declared range, a non-finite number) are
// ConfigErrors naming the key, the file and line (or "command line") and the nearest valid key.
// A module that reads options into a struct declares them with an OptionTable (below): one line
// per option binds key, member, help and checks, and the default is the member's own.
using ConfigValue = std::variant<bool, int64_t, double, std::string>;

// What a good value of a numeric option is, declared with it: bounds (inclusive or strict) and
// extra rules. Doubles must always be finite. Check().ge(0).lt(1) reads "in [0, 1)".
class Check {
 public:
  Check& ge(double v);  // value >= v (bounds only tighten: ge(0).ge(1) is ge(1))
  Check& gt(double v);  // value > v
  Check& le(double v);  // value <= v
  Check& lt(double v);  // value < v
  // An extra rule: `ok` is true for a good value; `what` completes "it must be <what>".
  Check& rule(std::function<bool(const ConfigValue&)> ok, std::string what);
  // "" when `v` passes, else "it must be ..." (for the error's why).
  std::string problem(const ConfigValue& v) const;
  std::string text() const;  // the bounds: ">= 1", "in [0, 1)", "" when unbounded
  bool bounded() const;

 private:
  double lo_ = -std::numeric_limits<double>::infinity();
  double hi_ = std::numeric_limits<double>::infinity();
  bool lo_open_ = false, hi_open_ = false;
  std::vector<std::pair<std::function<bool(const ConfigValue&)>, std::string>> rules_;
};

class ConfigSpec {
 public:
  struct Option {
    std::string key, help;
    ConfigValue def;
    std::vector<std::string> choices;  // non-empty: the value must be one of these (strings)
    Check check;                       // numbers: range and rules; every double must be finite
    // What a good value is, for help texts: "[k15|grpo]", "(>= 1)", "" for anything.
    std::string constraint() const;
    // "" when `v` passes the choices and the check, else why not ("it must be >= 1").
    std::string problem(const ConfigValue& v) const;
  };
  ConfigSpec& add_bool(const std::string& key, bool def, const std::string& help);
  ConfigSpec& add_int(const std::string& key, int64_t def, const std::string& help,
                      Check check = {});
  ConfigSpec& add_double(const std::string& key, double def, const std::string& help,
                         Check check = {});
  ConfigSpec& add_string(const std::string& key, const std::string& def, const std::string& help,
                         Check check = {});
  ConfigSpec& add_choice(const std::string& key, const std::string& def,
                         const std::vector<std::string>& choices, const std::string& help);
  // Any option; a key declared twice or a default its own checks refuse is a ConfigError.
  ConfigSpec& add(Option o);
  const std::vector<Option>& options() const { return options_; }
  const Option* find(const std::string& key) const;
  // The declared key closest to `key` (edit distance, same-name keys in other sections first).
  std::string nearest(const std::string& key) const;

 private:
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
// Text as a value of the type of `like` (as a checkpoint attribute stores it): integers, numbers,
// true/false/1/0, any text; nullopt when it does not read as that type.
std::optional<ConfigValue> config_value_from_text(const ConfigValue& like, const std::string& text);
// A list option's text: comma-separated, blanks around items dropped, empty items skipped.
std::vector<std::string> config_split_list(const std::string& text);
std::string config_join_list(const std::vector<std::string>& items);
// "bad value '<v>' for <key> (<where>): it must be ...; help: <help>"
[[noreturn]] void config_bad_value(const ConfigSpec::Option& o, const std::string& value_text,
                                   const std::string& where, const std::string& why);

// ---------------------------------------------------------------------------------------------
// OptionTable<S>: the options of a struct S, each declared once and bound to its member, so
// that the default (the member's value in S{}), the help, the checks, the parser and
// --print-config cannot drift. Usage (a module's table, built once):
//   const OptionTable<EvalConfig>& eval_options() {
//     static const auto t = OptionTable<EvalConfig>()
//         .add("eval.samples", &EvalConfig::samples, "k samples per prompt", Check().ge(0))
//         .choice("eval.kind", &EvalConfig::kind, {{"a", Kind::a}, {"b", Kind::b}}, "...");
//     return t;
//   }
//   declare: eval_options().declare(spec);    fill: EvalConfig e = eval_options().read(cfg);
// Members may be bool, any integer (the range of a narrower type is checked too), float or
// double (finite), std::string, or std::vector<std::string> (comma-separated in the config).
// A member is named by a member pointer or by an accessor [](S& s) -> auto& { return s.a.b; }.
class OptionGroup {  // what schema-wide code and tests see of a table, whatever its S
 public:
  virtual ~OptionGroup() = default;
  virtual void declare(ConfigSpec& spec) const = 0;
  virtual std::vector<std::string> keys() const = 0;
  // A struct filled from `cfg`, read back through the bindings (key -> value).
  virtual std::map<std::string, ConfigValue> read_back(const Config& cfg) const = 0;
  // S{} read through the bindings: what the declarations use as defaults.
  virtual std::map<std::string, ConfigValue> defaults() const = 0;
};

namespace config_detail {
template <class S, class M>
auto accessor(M m) {
  if constexpr (std::is_member_object_pointer_v<M>) return [m](S & s) -> auto& {
      return s.*m;
    };
  else
    return m;
}
template <class S, class M>
using member_t = std::remove_cv_t<
    std::remove_reference_t<decltype(accessor<S>(std::declval<M>())(std::declval<S&>()))>>;
template <class T>
inline constexpr bool is_list = std::is_same_v<T, std::vector<std::string>>;

template <class T>
ConfigValue to_value(const T& v) {
  if constexpr (std::is_same_v<T, bool>)
    return v;
  else if constexpr (std::is_integral_v<T>)
    return static_cast<int64_t>(v);
  else if constexpr (std::is_floating_point_v<T>)
    return static_cast<double>(v);
  else if constexpr (std::is_same_v<T, std::string>)
    return v;
  else if constexpr (is_list<T>)
    return config_join_list(v);
  else
    static_assert(sizeof(T) == 0, "bind this member with choice() or an accessor");
}
template <class T>
void from_value(T& out, const ConfigValue& v) {
  if constexpr (std::is_same_v<T, bool>)
    out = std::get<bool>(v);
  else if constexpr (std::is_integral_v<T>)
    out = static_cast<T>(std::get<int64_t>(v));
  else if constexpr (std::is_floating_point_v<T>)
    out = static_cast<T>(std::get<double>(v));
  else if constexpr (std::is_same_v<T, std::string>)
    out = std::get<std::string>(v);
  else
    out = config_split_list(std::get<std::string>(v));
}
// The range of an integer member narrower than int64_t (or unsigned), so that 1e10 cannot wrap.
template <class T>
Check with_type_range(Check c) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (std::is_unsigned_v<T> || sizeof(T) < sizeof(int64_t))
      c.ge(static_cast<double>(std::numeric_limits<T>::min()));
    if (sizeof(T) < sizeof(int64_t)) c.le(static_cast<double>(std::numeric_limits<T>::max()));
  }
  return c;
}
}  // namespace config_detail

template <class S>
class OptionTable : public OptionGroup {
 public:
  // `key` bound to a plain member.
  template <class M>
  OptionTable& add(std::string key, M member, std::string help, Check check = {}) {
    using T = config_detail::member_t<S, M>;
    auto at = config_detail::accessor<S>(member);
    return bind(
        ConfigSpec::Option{std::move(key),
                           std::move(help),
                           ConfigValue{},
                           {},
                           config_detail::with_type_range<T>(std::move(check))},
        [at](S& s, const ConfigValue& v) { config_detail::from_value(at(s), v); },
        [at](S& s) { return config_detail::to_value(at(s)); });
  }
  // A text key that must be one of `names`: for a std::string member the names themselves,
  // for any other member (an enum, a bool) pairs {"name", value}.
  template <class M, class T = config_detail::member_t<S, M>>
  OptionTable& choice(std::string key, M member,
                      std::conditional_t<std::is_same_v<T, std::string>, std::vector<std::string>,
                                         std::vector<std::pair<std::string, T>>>
                          names,
                      std::string help) {
    auto at = config_detail::accessor<S>(member);
    std::vector<std::string> list;
    for (const auto& n : names) {
      if constexpr (std::is_same_v<T, std::string>)
        list.push_back(n);
      else
        list.push_back(n.first);
    }
    if constexpr (std::is_same_v<T, std::string>) {
      return bind(
          {std::move(key), std::move(help), ConfigValue{}, std::move(list), {}},
          [at](S& s, const ConfigValue& v) { at(s) = std::get<std::string>(v); },
          [at](S& s) { return ConfigValue(at(s)); });
    } else {
      return bind(
          {std::move(key), std::move(help), ConfigValue{}, std::move(list), {}},
          [at, names](S& s, const ConfigValue& v) {
            for (const auto& [n, val] : names)
              if (n == std::get<std::string>(v)) at(s) = val;
          },
          [at, names](S& s) {
            for (const auto& [n, val] : names)
              if (val == at(s)) return ConfigValue(n);
            return ConfigValue(std::string("?"));  // a value without a name: declare() refuses it
          });
    }
  }
  // An integer key counted in units of `scale` of the member (MiB in the config, bytes in S).
  template <class M>
  OptionTable& scaled(std::string key, M member, int64_t scale, std::string help,
                      Check check = {}) {
    auto at = config_detail::accessor<S>(member);
    check.le(static_cast<double>(std::numeric_limits<int64_t>::max() / scale));
    return bind(
        {std::move(key), std::move(help), ConfigValue{}, {}, std::move(check)},
        [at, scale](S& s, const ConfigValue& v) { at(s) = std::get<int64_t>(v) * scale; },
        [at, scale](S& s) { return ConfigValue(static_cast<int64_t>(at(s) / scale)); });
  }

  void declare(ConfigSpec& spec) const override {
    for (const auto& b : bindings_) spec.add(b.opt);
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> k;
    for (const auto& b : bindings_) k.push_back(b.opt.key);
    return k;
  }
  // S filled from `cfg` (whose values were checked when it was made).
  S read(const Config& cfg) const {
    S s{};
    for (const auto& b : bindings_) b.put(s, cfg.get(b.opt.key));
    return s;
  }
  // Checks a struct made in code against the same declarations (ConfigError naming the key).
  void check(const S& s) const {
    S c = s;
    for (const auto& b : bindings_) {
      ConfigValue v = b.get(c);
      std::string why = b.opt.problem(v);
      if (!why.empty()) config_bad_value(b.opt, config_value_text(v), "set by the program", why);
    }
  }
  // The struct as key -> text with keys relative to their section ("dim" for "model.dim"),
  // e.g. checkpoint attributes, and back; from_map throws IoError naming a missing or
  // unreadable key of the file `where`.
  std::map<std::string, std::string> to_map(const S& s) const {
    S c = s;
    std::map<std::string, std::string> out;
    for (const auto& b : bindings_) out[local(b.opt.key)] = config_value_text(b.get(c));
    return out;
  }
  S from_map(const std::map<std::string, std::string>& kv, const std::string& where) const {
    S s{};
    for (const auto& b : bindings_) {
      auto it = kv.find(local(b.opt.key));
      if (it == kv.end())
        throw IoError(where + " has no " + b.opt.key, "the stored config is incomplete",
                      "the file was written by another tool or version");
      std::optional<ConfigValue> v = config_value_from_text(b.opt.def, it->second);
      if (!v || (!b.opt.choices.empty() && !b.opt.problem(*v).empty()))
        throw IoError(where + ": " + b.opt.key + " reads '" + it->second + "'",
                      "it is not a value of this option",
                      "the file is corrupt or from another tool");
      b.put(s, *v);
    }
    return s;
  }
  std::map<std::string, ConfigValue> read_back(const Config& cfg) const override {
    return values(read(cfg));
  }
  std::map<std::string, ConfigValue> defaults() const override { return values(S{}); }

 private:
  struct Binding {
    ConfigSpec::Option opt;
    std::function<void(S&, const ConfigValue&)> put;
    std::function<ConfigValue(S&)> get;
  };
  OptionTable& bind(ConfigSpec::Option opt, std::function<void(S&, const ConfigValue&)> put,
                    std::function<ConfigValue(S&)> get) {
    S d{};
    opt.def = get(d);
    bindings_.push_back({std::move(opt), std::move(put), std::move(get)});
    return *this;
  }
  std::map<std::string, ConfigValue> values(S s) const {
    std::map<std::string, ConfigValue> out;
    for (const auto& b : bindings_) out[b.opt.key] = b.get(s);
    return out;
  }
  static std::string local(const std::string& key) { return key.substr(key.find('.') + 1); }
  std::vector<Binding> bindings_;
};

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
