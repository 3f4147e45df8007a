// ops::team() on the CPU: one OpenMP region whose threads run the caller's body together and
// meet at a spin barrier after each op, instead of one region per op. A decode step of a few
// rows is ~30 short ops; under OMP_WAIT_POLICY=PASSIVE each region start wakes the sleeping
// workers through the kernel (tens of microseconds on a VM), which a spinning barrier avoids.
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "kernels/cpu/parallel.h"
#include "kernels/ops.h"

namespace k1rl::ops {
namespace cpu {
namespace {

// A sense-reversing barrier: the last thread to arrive resets the count and flips the phase.
// Waiters spin (pause) for a while, then block in atomic::wait (a futex), so a team whose cores
// are shared with other programs still makes progress.
struct Barrier {
  alignas(64) std::atomic<int> arrived{0};
  alignas(64) std::atomic<unsigned> phase{0};
  int size = 1;

  void sync() {
    const unsigned p = phase.load(std::memory_order_relaxed);
    if (arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == size) {
      arrived.store(0, std::memory_order_relaxed);
      phase.store(p + 1, std::memory_order_release);
      phase.notify_all();
      return;
    }
    for (int i = 0; i < kSpins; ++i) {
      if (phase.load(std::memory_order_acquire) != p) return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    while (phase.load(std::memory_order_acquire) == p) phase.wait(p, std::memory_order_acquire);
  }
  static constexpr int kSpins = 1 << 14;  // pause is ~10-140 cycles: well under a millisecond
};

thread_local Barrier* t_team = nullptr;

}  // namespace

bool in_team() {
  return t_team != nullptr;
}

void team_sync() {
  if (t_team) t_team->sync();
}

int loop_threads() {
  return t_team ? t_team->size : omp_get_max_threads();
}

void no_team(const char* op) {
  if (!in_team()) return;
  std::fprintf(stderr, "k1rl: internal error: %s called inside ops::team()\n", op);
  std::abort();
}

}  // namespace cpu

void team(const std::function<void()>& body) {
  if (cpu::in_team() || omp_in_parallel() || omp_get_max_threads() == 1) {
    body();
    return;
  }
  cpu::Barrier bar;
#pragma omp parallel
  {
#pragma omp single
    bar.size = omp_get_num_threads();  // implicit barrier: every thread sees the size
    cpu::t_team = &bar;
    body();
    cpu::t_team = nullptr;
  }
}

int team_rank() {
  return cpu::in_team() ? omp_get_thread_num() : 0;
}

void team_single(const std::function<void()>& fn) {
  if (!cpu::in_team()) {
    fn();
    return;
  }
  if (omp_get_thread_num() == 0) fn();
  cpu::team_sync();
}

}  // namespace k1rl::ops
