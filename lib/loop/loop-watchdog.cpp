// PeerWatchdog (loop.h): a thread that ends this process when a wait on a peer role lasts longer
// than run.peer_timeout_s. It covers every blocking MPI call of the wait (the header, the weight
// broadcast, rollout's "done"), which MPI_Test polling could not: a broadcast to a stopped rank
// blocks inside MPI. Exiting without MPI_Finalize makes mpiexec end the whole job.
#include <cstdio>

#include "lib/loop/loop.h"

namespace k1rl::loop {

PeerWatchdog::PeerWatchdog(double timeout_s) : timeout_s_(timeout_s) {
  if (timeout_s_ > 0) thread_ = std::thread([this] { watch(); });
}

PeerWatchdog::~PeerWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeerWatchdog::expect(std::string silent, std::string what) {
  std::lock_guard<std::mutex> lock(mu_);
  silent_ = std::move(silent);
  what_ = std::move(what);
  since_ = seconds_since_start();
  armed_ = true;
}

void PeerWatchdog::done() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

void PeerWatchdog::watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!quit_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (!armed_ || seconds_since_start() - since_ <= timeout_s_) continue;
    std::fprintf(
        stderr,
        "k1rl-%s: error: no word from %s: waited %.0f s for %s (run.peer_timeout_s = %g); that "
        "rank is stopped, hung or lost: check it and its node, then resubmit to resume "
        "from ckpt/latest (or raise run.peer_timeout_s if an iteration takes longer)\n",
        process_app().c_str(), silent_.c_str(), seconds_since_start() - since_, what_.c_str(),
        timeout_s_);
    std::fflush(stderr);
    std::_Exit(kExitBadInput);  // mpiexec sees a lost rank and ends the job
  }
}

}  // namespace k1rl::loop
