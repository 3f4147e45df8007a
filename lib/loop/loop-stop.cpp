// Stop requests for a job that must end before its time limit (docs/running.md): SIGUSR1 to a
// k1rl-train process sets a flag, and the file named by $K1RL_STOP_FILE (slurm/rl_iter.sh
// creates it when Slurm signals the batch shell) asks the same. Train checks between iterations.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "lib/loop/loop.h"

namespace k1rl::loop {

namespace {
volatile sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int sig) {
  g_signal = sig;
}
}  // namespace

void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // MPI and file calls in flight carry on
  if (sigaction(SIGUSR1, &sa, nullptr) != 0)
    K1RL_LOG_WARN("cannot install the SIGUSR1 stop handler");
}

std::string stop_requested() {
  if (g_signal != 0)
    return strfmt("signal %d (%s)", static_cast<int>(g_signal), strsignal(g_signal));
  const char* file = std::getenv("K1RL_STOP_FILE");
  if (file != nullptr && *file != '\0' && ::access(file, F_OK) == 0)
    return strfmt("stop file %s", file);
  return "";
}

void clear_stop_request() {
  g_signal = 0;
}

}  // namespace k1rl::loop
