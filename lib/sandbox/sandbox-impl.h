// Internals of lib/sandbox: one launch = fork, limit, exec, watch, kill, classify.
// sandbox.cpp builds the Launch for each isolation level; sandbox-exec.cpp runs it.
#pragma once

#include <string>
#include <vector>

#include "lib/sandbox/sandbox.h"

namespace k1rl::sandbox_impl {

struct Launch {
  std::string path;               // executable (host path)
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "KEY=value"
  std::string workdir;            // host folder to chdir into ("" : stay)
  std::string stdin_data;
  std::vector<std::string> fd_files;  // contents passed as fds 3, 4, ... (bwrap --file)
  int64_t uid = -1;                   // switch to this uid/gid before exec (-1: stay)
  bool set_limits = true;             // apply the rlimits (false: the bare baseline)
  int64_t nproc = 0;                  // RLIMIT_NPROC value when set_limits
  bool exit_code_has_signal = false;  // bwrap reports a signal n as exit code 128+n
};

// Forks a monitor process (a child subreaper) that forks and execs the program, enforces the wall
// clock, and on exit or timeout kills and reaps every descendant, so that nothing outlives the run
// (not even a zombie). The caller's side feeds stdin, captures stdout/stderr up to the cap (asking
// the monitor to kill the tree beyond it), and classifies the outcome.
SandboxResult launch_and_wait(const Launch& l, const SandboxLimits& limits);

// Creates a private host folder (mode 0700, owned by `uid` when >= 0) holding `files`.
std::string make_workdir(const std::string& tmp_dir, const std::vector<SandboxFile>& files,
                         int64_t uid);
void remove_workdir(const std::string& dir);

}  // namespace k1rl::sandbox_impl
