// k1rl-inspect: post-processing of a run's HDF5 outputs (summary, answers, buffer, ckpt); see
// `k1rl-inspect --help` and lib/inspect. Reads published files only, so it works on a live run.
// Not app_main: its command line is subcommands and paths, and it reads a run's config, not one.
#include <cstdio>
#include <iostream>

#include "lib/inspect/inspect.h"
#include "lib/io/io.h"

int main(int argc, char** argv) {
  k1rl::set_process_identity("inspect", -1, 0);
  k1rl::io::h5_quiet();
  k1rl::inspect::Command cmd;
  try {
    cmd = k1rl::inspect::parse_command_line(argc, argv);
  } catch (const k1rl::Error& e) {
    std::fprintf(stderr, "k1rl-inspect: error: %s\n", e.line().c_str());
    return k1rl::kExitUsage;
  }
  if (cmd.help) {
    std::cout << k1rl::inspect::help_text(cmd.name);
    return k1rl::kExitOk;
  }
  try {
    k1rl::inspect::run_command(cmd, std::cout);
  } catch (const k1rl::Error& e) {
    std::cout.flush();
    std::fprintf(stderr, "k1rl-inspect: error: %s\n", e.line().c_str());
    return k1rl::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "k1rl-inspect: error: internal error: %s; please report it\n", e.what());
    return k1rl::kExitInternal;
  }
  return k1rl::kExitOk;
}
