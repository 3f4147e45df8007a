// Logging to stderr with an app/rank/time prefix, and the progress line for long work.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "lib/core/core.h"

namespace k1rl {

namespace {
using Clock = std::chrono::steady_clock;
const Clock::time_point g_start = Clock::now();

LogLevel initial_level() {
  const char* env = std::getenv("K1RL_LOG");
  if (!env || !*env) return LogLevel::info;
  try {
    return parse_log_level(env);
  } catch (const Error&) {
    return LogLevel::info;
  }
}
std::atomic<int> g_level{static_cast<int>(initial_level())};
std::mutex g_log_mutex;

bool all_ranks() {
  const char* env = std::getenv("K1RL_LOG_ALL_RANKS");
  return env && *env == '1';
}
}  // namespace

ProcessUsage process_usage() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& t) { return double(t.tv_sec) + 1e-6 * double(t.tv_usec); };
  return {sec(ru.ru_utime), sec(ru.ru_stime), ru.ru_minflt, ru.ru_majflt, ru.ru_maxrss};
}

double seconds_since_start() {
  return std::chrono::duration<double>(Clock::now() - g_start).count();
}

void set_log_level(LogLevel level) {
  g_level = static_cast<int>(level);
}
LogLevel log_level() {
  return static_cast<LogLevel>(g_level.load());
}

LogLevel parse_log_level(const std::string& s) {
  if (s == "error") return LogLevel::error;
  if (s == "warn") return LogLevel::warn;
  if (s == "info") return LogLevel::info;
  if (s == "debug") return LogLevel::debug;
  throw ConfigError("bad log level '" + s + "'", "expected error, warn, info or debug",
                    "set K1RL_LOG or run.log_level to one of those");
}

void log_msg(LogLevel level, const char* fmt, ...) {
  if (static_cast<int>(level) > g_level.load()) return;
  if (level > LogLevel::warn && process_rank() != 0 && !all_ranks()) return;
  va_list ap;
  va_start(ap, fmt);
  std::string msg = vstrfmt(fmt, ap);
  va_end(ap);
  static const char* tags[] = {"error: ", "warning: ", "", ""};
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::fprintf(stderr, "[k1rl-%s r%d %.1fs] %s%s\n", process_app().c_str(), process_rank(),
               seconds_since_start(), tags[static_cast<int>(level)], msg.c_str());
  std::fflush(stderr);
}

Progress::Progress(std::string label, int64_t total, double every_s)
    : label_(std::move(label)),
      total_(total),
      every_s_(every_s),
      t0_(seconds_since_start()),
      tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  double now = seconds_since_start();
  if (last_ >= 0 && now - last_ < (tty_ ? 0.5 : every_s_) && done < total_) return;
  if (shown_done_ && done >= total_) return;
  shown_done_ = done >= total_;
  last_ = now;
  double el = now - t0_, rate = el > 0 ? static_cast<double>(done) / el : 0.0;
  std::string line = strfmt("%s %lld/%lld", label_.c_str(), static_cast<long long>(done),
                            static_cast<long long>(total_));
  if (total_ > 0) line += strfmt(" (%d%%)", static_cast<int>(100 * done / total_));
  line += strfmt(" %.1f/s", rate);
  if (rate > 0 && total_ > done)
    line += strfmt(" ETA %.0fs", static_cast<double>(total_ - done) / rate);
  if (!extra.empty()) line += " " + extra;
  if (tty_ && process_rank() == 0) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    std::fflush(stderr);
  } else {
    K1RL_LOG_INFO("%s", line.c_str());
  }
}

void Progress::finish(const std::string& extra) {
  last_ = -1.0;
  update(total_ > 0 ? total_ : done_, extra);  // prints unless the final count was shown
  if (tty_ && process_rank() == 0) {
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }
}

}  // namespace k1rl
