// The Sandbox: picks the strongest isolation that works on this machine (probed once per
// process), and turns a SandboxRun into a Launch for that level (bwrap / unshare / rlimits).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "lib/sandbox/sandbox-impl.h"

namespace k1rl {

using namespace sandbox_impl;

const char* isolation_name(Isolation iso) {
  switch (iso) {
    case Isolation::bwrap:
      return "bwrap";
    case Isolation::unshare:
      return "unshare";
    case Isolation::rlimits:
      return "rlimits";
  }
  return "?";
}

const char* sandbox_status_name(SandboxStatus s) {
  switch (s) {
    case SandboxStatus::ok:
      return "ok";
    case SandboxStatus::exit_nonzero:
      return "exit_nonzero";
    case SandboxStatus::signaled:
      return "signaled";
    case SandboxStatus::timeout:
      return "timeout";
    case SandboxStatus::cpu_limit:
      return "cpu_limit";
    case SandboxStatus::memory_limit:
      return "memory_limit";
    case SandboxStatus::output_limit:
      return "output_limit";
    case SandboxStatus::file_size_limit:
      return "file_size_limit";
    case SandboxStatus::process_limit:
      return "process_limit";
    case SandboxStatus::sandbox_error:
      return "sandbox_error";
  }
  return "?";
}

namespace sandbox_impl {

std::string make_workdir(const std::string& tmp_dir, const std::vector<SandboxFile>& files,
                         int64_t uid) {
  std::string base = tmp_dir;
  if (base.empty()) {
    const char* t = std::getenv("TMPDIR");
    base = t && *t ? t : "/tmp";
  }
  std::string tmpl = base + "/k1rl-sbx-XXXXXX";
  std::vector<char> path(tmpl.begin(), tmpl.end());
  path.push_back('\0');
  if (!mkdtemp(path.data())) return "";
  std::string dir(path.data());
  bool ok = chmod(dir.c_str(), 0700) == 0;
  if (uid >= 0)
    ok = ok && chown(dir.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) == 0;
  for (const auto& f : files) {
    if (!ok) break;
    int fd = open((dir + "/" + f.name).c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
      ok = false;
      break;
    }
    size_t off = 0;
    while (ok && off < f.content.size()) {
      ssize_t n = write(fd, f.content.data() + off, f.content.size() - off);
      if (n < 0 && errno != EINTR) ok = false;
      if (n > 0) off += static_cast<size_t>(n);
    }
    if (uid >= 0 && fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) ok = false;
    close(fd);
  }
  if (!ok) {
    remove_workdir(dir);
    return "";
  }
  return dir;
}

void remove_workdir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace sandbox_impl

namespace {
std::string find_in_path(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::string path = env && *env ? env : "/usr/bin:/bin";
  path += ":/usr/bin:/bin:/usr/sbin:/sbin";
  size_t p = 0;
  while (p <= path.size()) {
    size_t e = path.find(':', p);
    if (e == std::string::npos) e = path.size();
    std::string cand = path.substr(p, e - p) + "/" + name;
    if (e > p && access(cand.c_str(), X_OK) == 0) return cand;
    p = e + 1;
  }
  return "";
}

// Tasks (processes and threads) owned by our real uid: RLIMIT_NPROC counts them all, so a
// non-root sandbox gets this many plus its own allowance.
int64_t count_own_tasks() {
  int64_t n = 0;
  uid_t me = getuid();
  DIR* d = opendir("/proc");
  if (!d) return 512;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream st(std::string("/proc/") + e->d_name + "/status");
    std::string line;
    long uid = -1, threads = 1;
    while (std::getline(st, line)) {
      if (line.rfind("Uid:", 0) == 0) uid = std::strtol(line.c_str() + 4, nullptr, 10);
      if (line.rfind("Threads:", 0) == 0) threads = std::strtol(line.c_str() + 8, nullptr, 10);
    }
    if (uid == static_cast<long>(me)) n += threads;
  }
  closedir(d);
  return n;
}

const std::vector<std::string>& sandbox_env() {
  static const std::vector<std::string> env = {
      "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work",      "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
      "PYTHONDONTWRITEBYTECODE=1",         "PYTHONHASHSEED=0"};
  return env;
}

bool valid_name(const std::string& n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string::npos &&
         n.find('\0') == std::string::npos;
}

std::string true_binary() {
  for (const char* p : {"/usr/bin/true", "/bin/true"})
    if (access(p, X_OK) == 0) return p;
  return "/usr/bin/true";
}
}  // namespace

int64_t Sandbox::slot_uid(int slot) const {
  if (geteuid() != 0) return -1;
  return opts_.uid_base + 64 * (getpid() % 1024) + (slot % 64 + 64) % 64;
}

namespace {
struct Builder {
  const SandboxOptions& o;
  const std::string& bwrap;
  const std::string& unshare;
  bool disable_userns;
  int64_t own_tasks;
};

Launch build_launch(const Builder& b, Isolation iso, const SandboxRun& r, const SandboxLimits& lim,
                    int64_t uid) {
  Launch l;
  l.env = sandbox_env();
  l.uid = uid;
  l.stdin_data = r.stdin_data;
  int64_t base = uid >= 0 ? 0 : b.own_tasks + 64;  // non-root: our other tasks count too
  if (iso == Isolation::bwrap) {
    l.path = b.bwrap;
    l.argv = {"bwrap", "--unshare-all", "--unshare-user"};
    if (b.disable_userns) l.argv.push_back("--disable-userns");
    for (const char* a : {"--uid", "65534", "--gid", "65534", "--hostname", "k1rl-sandbox",
                          "--die-with-parent", "--new-session"})
      l.argv.push_back(a);
    for (const auto& p : b.o.ro_paths) {
      struct stat st;
      if (lstat(p.c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(p, ec);
        if (!ec) l.argv.insert(l.argv.end(), {"--symlink", target.string(), p});
      } else {
        l.argv.insert(l.argv.end(), {"--ro-bind", p, p});
      }
    }
    l.argv.insert(l.argv.end(), {"--proc", "/proc", "--dev", "/dev", "--size",
                                 std::to_string(lim.file_bytes), "--tmpfs", "/work"});
    for (size_t i = 0; i < r.files.size(); ++i) {
      l.argv.insert(l.argv.end(), {"--file", std::to_string(3 + i), "/work/" + r.files[i].name});
      l.fd_files.push_back(r.files[i].content);
    }
    l.argv.insert(l.argv.end(),
                  {"--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/work", "--"});
    l.argv.insert(l.argv.end(), r.argv.begin(), r.argv.end());
    l.nproc = base + lim.processes + 2;  // + bwrap's monitor and its pid-1 reaper
    l.exit_code_has_signal = true;
  } else if (iso == Isolation::unshare) {
    l.path = b.unshare;
    l.argv = {"unshare", "--user",  "--map-root-user", "--net",  "--pid",        "--ipc",
              "--uts",   "--mount", "--mount-proc",    "--fork", "--kill-child", "--"};
    l.argv.insert(l.argv.end(), r.argv.begin(), r.argv.end());
    l.nproc = base + lim.processes + 1;
  } else {
    l.path = r.argv.empty() ? "" : r.argv[0];
    l.argv = r.argv;
    l.nproc = base + lim.processes;
  }
  return l;
}

SandboxResult run_level(const Builder& b, Isolation iso, const SandboxRun& r,
                        const SandboxLimits& lim, int64_t uid, const std::string& tmp_dir) {
  for (const auto& f : r.files)
    if (!valid_name(f.name)) {
      SandboxResult res;
      res.detail = "bad file name '" + f.name + "'";
      res.isolation = iso;
      return res;
    }
  if (r.argv.empty()) {
    SandboxResult res;
    res.detail = "empty argv";
    res.isolation = iso;
    return res;
  }
  Launch l = build_launch(b, iso, r, lim, uid);
  if (iso != Isolation::bwrap) {
    l.workdir = make_workdir(tmp_dir, r.files, uid);
    if (l.workdir.empty()) {
      SandboxResult res;
      res.detail = "cannot make a working directory in '" + (tmp_dir.empty() ? "/tmp" : tmp_dir) +
                   "': " + std::strerror(errno);
      res.isolation = iso;
      return res;
    }
  }
  SandboxResult res = launch_and_wait(l, lim);
  res.isolation = iso;
  remove_workdir(l.workdir);
  return res;
}

// Probe results per (level, bwrap flavour), shared by every Sandbox of the process.
std::mutex g_probe_mu;
std::map<std::string, bool> g_probe;
}  // namespace

Sandbox::Sandbox(SandboxOptions opts) : opts_(std::move(opts)) {
  bwrap_path_ = find_in_path("bwrap");
  unshare_path_ = find_in_path("unshare");
  const std::string& want = opts_.isolation;
  if (want != "auto" && want != "bwrap" && want != "unshare" && want != "rlimits")
    throw ConfigError("unknown sandbox isolation '" + want + "'", "not a level k1rl knows",
                      "use auto, bwrap, unshare or rlimits");
  int64_t own = geteuid() == 0 ? 0 : count_own_tasks();
  auto works = [&](Isolation iso, bool disable_userns) {
    if (iso == Isolation::bwrap && bwrap_path_.empty()) return false;
    if (iso == Isolation::unshare && unshare_path_.empty()) return false;
    std::string key = std::string(isolation_name(iso)) + (disable_userns ? "+du" : "") + ":" +
                      std::to_string(geteuid());
    for (const auto& p : opts_.ro_paths) key += ":" + p;
    std::lock_guard<std::mutex> lock(g_probe_mu);
    auto it = g_probe.find(key);
    if (it != g_probe.end()) return it->second;
    Builder b{opts_, bwrap_path_, unshare_path_, disable_userns, own};
    SandboxLimits lim = opts_.limits;
    lim.wall_s = std::max(lim.wall_s, 5.0);
    SandboxRun r{{true_binary()}, {{"probe.txt", "k1rl"}}, ""};
    SandboxResult res = run_level(b, iso, r, lim, slot_uid(63), opts_.tmp_dir);
    bool ok = res.status == SandboxStatus::ok;
    if (!ok)
      K1RL_LOG_DEBUG("sandbox probe %s: %s %s %s", key.c_str(), sandbox_status_name(res.status),
                     res.detail.c_str(), res.err.substr(0, 200).c_str());
    g_probe[key] = ok;
    return ok;
  };
  std::vector<Isolation> order;
  if (want == "auto")
    order = {Isolation::bwrap, Isolation::unshare, Isolation::rlimits};
  else if (want == "bwrap")
    order = {Isolation::bwrap};
  else if (want == "unshare")
    order = {Isolation::unshare};
  else
    order = {Isolation::rlimits};
  for (Isolation iso : order) {
    if (iso == Isolation::bwrap) {
      if (works(iso, true)) {
        iso_ = iso;
        bwrap_disable_userns_ = true;
        return;
      }
      if (works(iso, false)) {  // bubblewrap older than 0.8 has no --disable-userns
        iso_ = iso;
        bwrap_disable_userns_ = false;
        return;
      }
    } else if (works(iso, false)) {
      iso_ = iso;
      return;
    }
  }
  throw RuntimeFault("sandbox isolation '" + want + "' does not work here",
                     want == "bwrap" ? "bubblewrap (bwrap) is missing or cannot create namespaces"
                                     : "the probe program could not run",
                     "set reward.sandbox = auto to take the strongest level that works "
                     "(K1RL_LOG=debug shows why each probe failed)");
}

SandboxResult Sandbox::run(const SandboxRun& r, int slot) const {
  return run(r, opts_.limits, slot);
}

SandboxResult Sandbox::run(const SandboxRun& r, const SandboxLimits& limits, int slot) const {
  static const int64_t own = geteuid() == 0 ? 0 : count_own_tasks();
  Builder b{opts_, bwrap_path_, unshare_path_, bwrap_disable_userns_, own};
  return run_level(b, iso_, r, limits, slot_uid(slot), opts_.tmp_dir);
}

SandboxResult run_bare(const SandboxRun& r, const SandboxLimits& limits) {
  SandboxResult res;
  if (r.argv.empty()) {
    res.detail = "empty argv";
    return res;
  }
  Launch l;
  l.path = r.argv[0];
  l.argv = r.argv;
  l.env = sandbox_env();
  l.stdin_data = r.stdin_data;
  l.set_limits = false;
  l.workdir = make_workdir("", r.files, -1);
  if (l.workdir.empty()) {
    res.detail = "cannot make a working directory";
    return res;
  }
  res = launch_and_wait(l, limits);
  remove_workdir(l.workdir);
  return res;
}

}  // namespace k1rl
