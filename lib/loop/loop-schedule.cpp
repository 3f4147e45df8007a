// StalenessSchedule (loop.h): which iteration the MPMD train role announces, with which policy,
// and when it trains, for run.staleness 0 and 1. No MPI here: tests/unit/loop drives it.
#include "lib/loop/loop.h"

namespace k1rl::loop {

StalenessSchedule::StalenessSchedule(int64_t staleness, int64_t first, int64_t iterations)
    : stale_(staleness == 1), first_(first), K_(iterations), it_(first) {}

StalenessSchedule::Announce StalenessSchedule::announce(int64_t iteration, int64_t policy) {
  Announce a{iteration, policy, policy != held_};
  held_ = policy;
  return a;
}

std::optional<StalenessSchedule::Announce> StalenessSchedule::begin(const StopFn& stop) {
  std::optional<Announce> a;
  if (!ahead_) {
    if (n_ == K_ || stop()) {
      ended_ = true;
      return a;
    }
    a = announce(it_, it_);  // rollout generates N with θ_N
  }
  policy_ = held_;
  return a;
}

bool StalenessSchedule::abandon(const StopFn& stop) {
  if (ahead_ && stop()) ended_ = true;
  return ended_;
}

std::optional<StalenessSchedule::Announce> StalenessSchedule::ahead(const StopFn& stop) {
  ahead_ = stale_ && n_ + 1 < K_ && !stop();
  if (!ahead_) return std::nullopt;
  return announce(it_ + 1, it_);  // θ_it: what train holds before training it
}

void StalenessSchedule::next() {
  ++n_;
  ++it_;
}

}  // namespace k1rl::loop
