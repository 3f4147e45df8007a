// One sandboxed launch. The caller forks a monitor (a child subreaper in its own session); the
// monitor forks the program (fds, rlimits, user, exec), waits for it or the wall clock, then kills
// and reaps every process left below it and reports how the program ended through a pipe. Forked
// code uses async-signal-safe calls only: the reward service forks from worker threads.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "lib/sandbox/sandbox-impl.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

namespace k1rl::sandbox_impl {

namespace {
using Clock = std::chrono::steady_clock;

double secs(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// An in-memory file holding `data`, positioned at 0 (close-on-exec).
int memfd_with(const char* name, const std::string& data) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    off += static_cast<size_t>(n);
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

// What the monitor reports when it is done.
struct MonitorReport {
  int32_t magic = 0x6b31726c;
  int32_t wait_status = 0;
  int32_t started = 0;    // the program was forked
  int32_t timed_out = 0;  // the wall clock ran out
  int32_t stopped = 0;    // the caller asked to stop (output cap)
  int32_t leftovers = 0;  // processes killed after the program ended
  int64_t cpu_us = 0;     // user + system CPU of the program's tree that was waited for
};

struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* workdir;
  int in_fd, out_fd, err_fd, exec_fd, report_fd;
  const int* file_fds;
  int n_files;
  bool set_limits;
  rlim_t cpu, mem, nproc, fsize, nofile;
  int64_t uid;
  double wall_s;
  pid_t caller;
};

void set_limit(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit rl;
  rl.rlim_cur = soft;
  rl.rlim_max = hard;
  setrlimit(resource, &rl);
}

[[noreturn]] void fail_exec(int fd) {
  int e = errno;
  (void)!write(fd, &e, sizeof e);
  _exit(127);
}

// The program's process: fds, working dir, limits, user, signals, exec.
[[noreturn]] void program_main(const ChildPlan& p) {
  setpgid(0, 0);
  int top = 3 + p.n_files;  // fds 3..top-1 carry files; `top` reports exec errors
  int srcs[3 + 64 + 1];
  int n = 0;
  srcs[n++] = p.in_fd;
  srcs[n++] = p.out_fd;
  srcs[n++] = p.err_fd;
  for (int i = 0; i < p.n_files; ++i) srcs[n++] = p.file_fds[i];
  srcs[n++] = p.exec_fd;
  for (int i = 0; i < n; ++i)
    if (srcs[i] <= top) srcs[i] = fcntl(srcs[i], F_DUPFD_CLOEXEC, top + 1);
  for (int i = 0; i < n - 1; ++i) dup2(srcs[i], i);  // stdin, stdout, stderr, files...
  dup2(srcs[n - 1], top);
  fcntl(top, F_SETFD, FD_CLOEXEC);
  if (syscall(SYS_close_range, top + 1, ~0U, 0) != 0)
    for (int fd = top + 1; fd < 4096; ++fd) close(fd);
  if (p.workdir && p.workdir[0] && chdir(p.workdir) != 0) fail_exec(top);
  if (p.set_limits) {
    set_limit(RLIMIT_CPU, p.cpu, p.cpu + 1);
    set_limit(RLIMIT_AS, p.mem, p.mem);
    set_limit(RLIMIT_FSIZE, p.fsize, p.fsize);
    set_limit(RLIMIT_NOFILE, p.nofile, p.nofile);
    set_limit(RLIMIT_NPROC, p.nproc, p.nproc);
    set_limit(RLIMIT_CORE, 0, 0);
  }
  if (p.uid >= 0) {
    gid_t g = static_cast<gid_t>(p.uid);
    uid_t u = static_cast<uid_t>(p.uid);
    if (setgroups(0, nullptr) != 0 || setresgid(g, g, g) != 0 || setresuid(u, u, u) != 0)
      fail_exec(top);
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // after the uid change, which clears it
  for (int s : {SIGPIPE, SIGXFSZ, SIGXCPU, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1})
    signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(p.path, p.argv, p.envp);
  fail_exec(top);
}

int64_t now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t cpu_us_of(const rusage& ru) {
  return static_cast<int64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

// Kills every child of the monitor (orphans of the tree land here: we are a subreaper) and
// reaps them, until none is left or `budget_us` runs out. Returns how many were killed.
int kill_and_reap_all(pid_t program, MonitorReport& rep, int64_t budget_us) {
  int killed = 0;
  int64_t end = now_us() + budget_us;
  char buf[4096];
  while (now_us() < end) {
    int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, buf, sizeof buf - 1);
      close(fd);
      long pid = 0;
      for (ssize_t i = 0; i < (n > 0 ? n : 0); ++i) {
        if (buf[i] >= '0' && buf[i] <= '9') {
          pid = pid * 10 + (buf[i] - '0');
        } else if (pid > 0) {
          kill(static_cast<pid_t>(pid), SIGKILL);
          ++killed;
          pid = 0;
        }
      }
      if (pid > 0) {
        kill(static_cast<pid_t>(pid), SIGKILL);
        ++killed;
      }
    }
    bool reaped = false;
    for (;;) {
      int st = 0;
      rusage ru{};
      pid_t w = wait4(-1, &st, WNOHANG | __WALL, &ru);
      if (w < 0 && errno == ECHILD) return killed;
      if (w <= 0) break;
      reaped = true;
      if (w == program) {
        rep.wait_status = st;
        rep.cpu_us = cpu_us_of(ru);
      }
    }
    if (!reaped) {
      timespec ts{0, 1000000};
      nanosleep(&ts, nullptr);
    }
  }
  return killed;
}

// The monitor process. SIGCHLD and SIGUSR1 arrive blocked (the caller blocked them around fork).
// Closes every fd except `keep` (n <= 72). Without this a monitor would hold the pipes of runs
// that other threads started meanwhile, and their callers would wait for its end to see EOF.
void close_all_but(int* keep, int n) {
  for (int i = 1; i < n; ++i)  // insertion sort: a handful of ints, no allocation
    for (int j = i; j > 0 && keep[j - 1] > keep[j]; --j) std::swap(keep[j - 1], keep[j]);
  unsigned from = 0;
  for (int i = 0; i <= n; ++i) {
    unsigned to = i < n ? static_cast<unsigned>(keep[i]) : ~0U;  // close [from, to)
    if (to > from) {
      unsigned last = i < n ? to - 1 : ~0U;
      if (syscall(SYS_close_range, from, last, 0) != 0)
        for (unsigned fd = from; fd <= last && fd < 4096; ++fd) close(static_cast<int>(fd));
    }
    if (i < n) from = static_cast<unsigned>(keep[i]) + 1;
  }
}

[[noreturn]] void monitor_main(const ChildPlan& p) {
  int keep[72];
  int nk = 0;
  for (int fd : {p.in_fd, p.out_fd, p.err_fd, p.exec_fd, p.report_fd}) keep[nk++] = fd;
  for (int i = 0; i < p.n_files; ++i) keep[nk++] = p.file_fds[i];
  close_all_but(keep, nk);
  setsid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != p.caller) _exit(126);
  signal(SIGCHLD, SIG_DFL);
  MonitorReport rep;
  int64_t deadline = now_us() + static_cast<int64_t>(p.wall_s * 1e6);
  pid_t c = fork();
  if (c == 0) program_main(p);
  close(p.exec_fd);  // the program holds the only copies of these now
  close(p.in_fd);
  close(p.out_fd);
  close(p.err_fd);
  for (int i = 0; i < p.n_files; ++i) close(p.file_fds[i]);
  bool done = false;
  if (c > 0) {
    rep.started = 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    while (!done) {
      for (;;) {  // reap what has ended; the program's end ends the wait
        int st = 0;
        rusage ru{};
        pid_t w = wait4(-1, &st, WNOHANG | __WALL, &ru);
        if (w <= 0) break;
        if (w == c) {
          rep.wait_status = st;
          rep.cpu_us = cpu_us_of(ru);
          done = true;
        }
      }
      if (done) break;
      int64_t left = deadline - now_us();
      if (left <= 0) {
        rep.timed_out = 1;
        break;
      }
      timespec ts{static_cast<time_t>(left / 1000000), static_cast<long>(left % 1000000) * 1000};
      if (sigtimedwait(&set, nullptr, &ts) == SIGUSR1) {
        rep.stopped = 1;
        break;
      }
    }
    if (!done) {
      kill(-c, SIGKILL);
      kill(c, SIGKILL);
    }
    rep.leftovers = kill_and_reap_all(c, rep, 5000000);
  }
  (void)!write(p.report_fd, &rep, sizeof rep);
  _exit(0);
}

bool contains(const std::string& s, const char* what) {
  return s.find(what) != std::string::npos;
}

void classify(SandboxResult& r, int status, bool exit_code_has_signal, double cpu_s,
              const SandboxLimits& lim) {
  int sig = 0;
  if (WIFSIGNALED(status)) {
    sig = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    if (exit_code_has_signal && r.exit_code > 128 && r.exit_code < 128 + 65)
      sig = r.exit_code - 128;
  }
  if (sig) {
    r.signal = sig;
    r.exit_code = -1;
    if (sig == SIGXCPU || (sig == SIGKILL && cpu_s >= std::ceil(lim.cpu_s) - 0.05)) {
      r.status = SandboxStatus::cpu_limit;
      r.detail = strfmt("CPU limit of %.0f s reached", std::ceil(lim.cpu_s));
    } else if (sig == SIGXFSZ) {
      r.status = SandboxStatus::file_size_limit;
      r.detail = "file size limit reached";
    } else {
      r.status = SandboxStatus::signaled;
      r.detail = strfmt("killed by signal %d (%s)", sig, strsignal(sig));
    }
    return;
  }
  if (r.exit_code == 0) {
    r.status = SandboxStatus::ok;
    return;
  }
  const std::string& e = r.err;
  if (r.exit_code == 1 && e.rfind("bwrap: ", 0) == 0) {
    r.status = SandboxStatus::sandbox_error;
    r.detail = e.substr(0, e.find('\n'));
  } else if (contains(e, "MemoryError") || contains(e, "Cannot allocate memory") ||
             contains(e, "bad_alloc") || contains(e, "out of memory")) {
    r.status = SandboxStatus::memory_limit;
    r.detail = "memory limit reached";
  } else if (contains(e, "Resource temporarily unavailable") || contains(e, "BlockingIOError") ||
             contains(e, "can't start new thread")) {
    r.status = SandboxStatus::process_limit;
    r.detail = "process limit reached";
  } else if (contains(e, "File too large") || contains(e, "No space left on device")) {
    r.status = SandboxStatus::file_size_limit;
    r.detail = "file size limit reached";
  } else {
    r.status = SandboxStatus::exit_nonzero;
    r.detail = strfmt("exit code %d", r.exit_code);
  }
}

// Fds of one launch, closed together.
struct Fds {
  int in = -1, out[2] = {-1, -1}, err[2] = {-1, -1}, exec[2] = {-1, -1}, report[2] = {-1, -1};
  std::vector<int> files;
  void close_one(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
  void close_all() {
    for (int* fd :
         {&in, &out[0], &out[1], &err[0], &err[1], &exec[0], &exec[1], &report[0], &report[1]})
      close_one(*fd);
    for (int& fd : files) close_one(fd);
  }
  ~Fds() { close_all(); }
};
}  // namespace

SandboxResult launch_and_wait(const Launch& l, const SandboxLimits& lim) {
  SandboxResult res;
  res.uid = l.uid;
  auto t0 = Clock::now();
  auto fail = [&](const std::string& why) {
    res.status = SandboxStatus::sandbox_error;
    res.detail = why;
    res.wall_s = secs(Clock::now() - t0);
    return res;
  };
  if (l.fd_files.size() > 64) return fail("too many files");

  // Everything the forked processes need is prepared before fork.
  std::vector<char*> argv, envp;
  for (const auto& a : l.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : l.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  Fds f;
  f.in = memfd_with("k1rl-stdin", l.stdin_data);
  for (const auto& c : l.fd_files) f.files.push_back(memfd_with("k1rl-file", c));
  bool fds_ok = f.in >= 0 &&
                std::none_of(f.files.begin(), f.files.end(), [](int x) { return x < 0; }) &&
                pipe2(f.out, O_CLOEXEC) == 0 && pipe2(f.err, O_CLOEXEC) == 0 &&
                pipe2(f.exec, O_CLOEXEC) == 0 && pipe2(f.report, O_CLOEXEC) == 0;
  if (!fds_ok) return fail(std::string("cannot make pipes/memfds: ") + std::strerror(errno));
  auto rl = [](double v) { return static_cast<rlim_t>(v); };
  ChildPlan plan{l.path.c_str(),
                 argv.data(),
                 envp.data(),
                 l.workdir.c_str(),
                 f.in,
                 f.out[1],
                 f.err[1],
                 f.exec[1],
                 f.report[1],
                 f.files.data(),
                 static_cast<int>(f.files.size()),
                 l.set_limits,
                 rl(std::max(1.0, std::ceil(lim.cpu_s))),
                 rl(static_cast<double>(lim.memory_bytes)),
                 rl(static_cast<double>(l.nproc)),
                 rl(static_cast<double>(lim.file_bytes)),
                 rl(static_cast<double>(lim.open_files)),
                 l.uid,
                 lim.wall_s,
                 getpid()};
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  pid_t mon = fork();
  if (mon == 0) monitor_main(plan);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (mon < 0) return fail(std::string("fork failed: ") + std::strerror(fork_errno));

  // Caller's side: keep only the read ends.
  f.close_one(f.in);
  for (int& fd : f.files) f.close_one(fd);
  f.close_one(f.out[1]);
  f.close_one(f.err[1]);
  f.close_one(f.exec[1]);
  f.close_one(f.report[1]);
  int exec_errno = 0;
  ssize_t en;
  while ((en = read(f.exec[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  if (en != static_cast<ssize_t>(sizeof exec_errno)) exec_errno = 0;
  fcntl(f.out[0], F_SETFL, O_NONBLOCK);
  fcntl(f.err[0], F_SETFL, O_NONBLOCK);
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, mon, 0));

  // The monitor enforces the wall clock; ours is a backstop a little later.
  auto backstop = t0 + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(lim.wall_s + 8.0));
  bool out_open = true, err_open = true, mon_done = false, stop_sent = false, backstop_hit = false;
  int mon_status = 0;
  int64_t kept = 0;
  char buf[65536];
  while (!mon_done || out_open || err_open) {
    if (!mon_done) {
      pid_t w;
      while ((w = waitpid(mon, &mon_status, WNOHANG)) < 0 && errno == EINTR) {
      }
      if (w == mon) mon_done = true;
    }
    if (mon_done && !out_open && !err_open) break;
    auto now = Clock::now();
    if (now >= backstop) {  // the monitor is stuck: take the whole session down ourselves
      backstop_hit = true;
      kill(-mon, SIGKILL);
      kill(mon, SIGKILL);
      if (!mon_done) {
        while (waitpid(mon, &mon_status, 0) < 0 && errno == EINTR) {
        }
        mon_done = true;
      }
      break;
    }
    pollfd pf[3];
    int np = 0;
    if (out_open) pf[np++] = {f.out[0], POLLIN, 0};
    if (err_open) pf[np++] = {f.err[0], POLLIN, 0};
    bool use_pidfd = pidfd >= 0 && !mon_done;
    if (use_pidfd) pf[np++] = {pidfd, POLLIN, 0};
    int wait_ms = static_cast<int>(secs(backstop - now) * 1000.0) + 1;
    if (!use_pidfd) wait_ms = std::min(wait_ms, 5);
    poll(pf, static_cast<nfds_t>(np), wait_ms);
    for (int i = 0; i < np; ++i) {
      if (pf[i].fd == pidfd || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      bool is_out = pf[i].fd == f.out[0];
      ssize_t n = read(pf[i].fd, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      if (n < 0) continue;
      int64_t take = std::min<int64_t>(std::max<int64_t>(0, lim.output_bytes - kept), n);
      (is_out ? res.out : res.err).append(buf, static_cast<size_t>(take));
      kept += take;
      if (take < n && !stop_sent) {
        stop_sent = true;
        kill(mon, SIGUSR1);  // the monitor kills and reaps the tree
      }
    }
  }
  if (pidfd >= 0) close(pidfd);
  MonitorReport rep;
  rep.magic = 0;
  fcntl(f.report[0], F_SETFL, O_NONBLOCK);
  bool have_report = read(f.report[0], &rep, sizeof rep) == static_cast<ssize_t>(sizeof rep) &&
                     rep.magic == MonitorReport().magic;
  res.wall_s = secs(Clock::now() - t0);
  if (exec_errno) {
    res.status = SandboxStatus::sandbox_error;
    res.detail = "cannot start '" + l.path + "': " + std::strerror(exec_errno);
  } else if (stop_sent) {
    res.status = SandboxStatus::output_limit;
    res.detail = strfmt("more than %lld bytes of output", (long long)lim.output_bytes);
  } else if (backstop_hit || !have_report) {
    res.status = SandboxStatus::sandbox_error;
    res.detail =
        backstop_hit ? "the sandbox monitor did not finish; killed" : "the sandbox monitor failed";
  } else if (!rep.started) {
    res.status = SandboxStatus::sandbox_error;
    res.detail = "cannot fork the program";
  } else if (rep.timed_out) {
    res.status = SandboxStatus::timeout;
    res.detail = strfmt("wall clock limit of %.3g s reached", lim.wall_s);
  } else {
    classify(res, rep.wait_status, l.exit_code_has_signal, static_cast<double>(rep.cpu_us) * 1e-6,
             lim);
  }
  return res;
}

}  // namespace k1rl::sandbox_impl
