// k1rl sandbox: runs an untrusted program (a model-written Python solution) as a separate process
// tree with no network, a private empty working directory, a read-only view of the system, limits
// on CPU, memory, processes, file size, open files, wall clock and captured output. Used by
// lib/reward for code tasks; docs/sandbox.md describes the isolation levels.
//
//   Sandbox sb(opts);                          // probes the strongest isolation once
//   SandboxRun r{{"/usr/bin/python3", "-I", "main.py"}, {{"main.py", code}}, "3 4\n"};
//   SandboxResult res = sb.run(r, slot);       // thread-safe; one slot per concurrent caller
//   if (res.status == SandboxStatus::ok) use(res.out);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/core.h"

namespace k1rl {

// Isolation levels, strongest first.
//  bwrap:   bubblewrap: new user, pid, net, ipc, uts, mount and cgroup namespaces; only the
//           read-only system folders (ro_paths) are visible; /work is a private size-limited
//           tmpfs; the root is remounted read-only; the pid namespace dies with its first process.
//  unshare: util-linux unshare: new user, pid, net, ipc, uts and mount namespaces; the working
//           directory is a private host folder; the host filesystem is protected only by the
//           unprivileged user the program runs as.
//  rlimits: no namespaces: a new session and process group, rlimits, an unprivileged user when
//           we are root (its processes are swept with kill(-1) afterwards); network is NOT cut.
enum class Isolation { bwrap, unshare, rlimits };
const char* isolation_name(Isolation iso);

struct SandboxLimits {
  double wall_s = 2.0;                 // wall clock; then the whole process tree is killed
  double cpu_s = 2.0;                  // RLIMIT_CPU (rounded up to whole seconds)
  int64_t memory_bytes = 512LL << 20;  // RLIMIT_AS (address space)
  int64_t processes = 16;              // processes/threads of the program (RLIMIT_NPROC)
  int64_t file_bytes = 16LL << 20;     // RLIMIT_FSIZE; also the size of the private /work tmpfs
  int64_t open_files = 64;             // RLIMIT_NOFILE
  int64_t output_bytes = 1LL << 20;    // stdout + stderr kept; more kills the run
};

struct SandboxOptions {
  std::string isolation = "auto";  // auto | bwrap | unshare | rlimits
  // Host folders (or symlinks) shown read-only inside the bwrap sandbox.
  std::vector<std::string> ro_paths = {"/usr", "/bin", "/lib", "/lib64", "/sbin"};
  std::string tmp_dir;  // host folder for working dirs (unshare, rlimits); "" = $TMPDIR or /tmp
  int64_t uid_base = 61000;  // as root, slot s of process p runs as uid_base + 64*(p%1024) + s%64
  SandboxLimits limits;
};

enum class SandboxStatus {
  ok,               // exited 0
  exit_nonzero,     // exited with another code
  signaled,         // killed by a signal not explained below
  timeout,          // wall clock exceeded
  cpu_limit,        // SIGXCPU / CPU seconds exceeded
  memory_limit,     // allocation failed under the address-space limit
  output_limit,     // more output than output_bytes
  file_size_limit,  // a write beyond file_bytes
  process_limit,    // fork/thread creation refused
  sandbox_error,    // the sandbox itself could not start the program
};
const char* sandbox_status_name(SandboxStatus s);

struct SandboxFile {
  std::string name;  // a plain file name inside the working directory
  std::string content;
};

struct SandboxRun {
  std::vector<std::string> argv;   // argv[0]: an absolute path visible inside the sandbox
  std::vector<SandboxFile> files;  // placed in the (writable, private) working directory
  std::string stdin_data;
};

struct SandboxResult {
  SandboxStatus status = SandboxStatus::sandbox_error;
  int exit_code = -1;  // when the program exited
  int signal = 0;      // when it was killed by a signal
  std::string out, err;
  double wall_s = 0.0;
  Isolation isolation = Isolation::rlimits;
  int64_t uid = -1;    // host uid the program ran as (-1: ours)
  std::string detail;  // a short human-readable reason
};

class Sandbox {
 public:
  // Resolves the isolation: "auto" takes the strongest level that works here (probed once per
  // process); a named level that does not work throws RuntimeFault with a hint.
  explicit Sandbox(SandboxOptions opts = {});
  Isolation isolation() const { return iso_; }
  const SandboxOptions& options() const { return opts_; }
  // Runs one program; thread-safe. Concurrent runs must use different slots (0..63).
  // Never throws for anything the program does; a failure to start is status sandbox_error.
  SandboxResult run(const SandboxRun& r, int slot = 0) const;
  SandboxResult run(const SandboxRun& r, const SandboxLimits& limits, int slot = 0) const;
  // The host uid a slot runs as (-1 when not root: the program runs as us).
  int64_t slot_uid(int slot) const;

 private:
  SandboxOptions opts_;
  Isolation iso_ = Isolation::rlimits;
  std::string bwrap_path_, unshare_path_;
  bool bwrap_disable_userns_ = true;
};

// Runs a program with a plain fork/exec, no isolation and no limits except the wall clock and
// the output cap: the benchmark's baseline and a reference for tests.
SandboxResult run_bare(const SandboxRun& r, const SandboxLimits& limits);

}  // namespace k1rl
