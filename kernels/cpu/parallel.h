// Internal to kernels/cpu: how an op spreads a loop over threads. Outside ops::team() an op
// opens its own OpenMP region (when the work is worth it); inside, every thread of the team
// calls the op with the same arguments, so the loop is split with an orphaned `omp for` over
// the team that already runs and ends at the team's spin barrier (docs/engine.md, "Teams").
// `worth` (is the loop big enough for threads?) only applies outside a team: a team is running
// anyway, and every thread must reach the barrier.
#pragma once

#include <omp.h>

#include <cstdint>

namespace k1rl::ops::cpu {

// True on every thread of a running ops::team().
bool in_team();
// Barrier of the current team: spins briefly, then sleeps. Release/acquire: writes made before
// it by any thread are visible after it on every thread.
void team_sync();
// Threads that split a loop: the team's size inside a team, else the OpenMP maximum.
int loop_threads();
// Aborts with a message when an op that cannot run inside a team is called there.
void no_team(const char* op);

// body(i) for i in [0, n), in contiguous blocks per thread.
template <class F>
void parallel_static(int64_t n, bool worth, F&& body) {
  if (in_team()) {
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < n; ++i) body(i);
    team_sync();
    return;
  }
#pragma omp parallel for schedule(static) if (worth)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// body(i) for i in [0, n), taken `chunk` at a time by whichever thread is free (uneven tasks,
// or cores shared with other programs).
template <class F>
void parallel_dynamic(int64_t n, int64_t chunk, bool worth, F&& body) {
  if (in_team()) {
#pragma omp for schedule(dynamic, chunk) nowait
    for (int64_t i = 0; i < n; ++i) body(i);
    team_sync();
    return;
  }
#pragma omp parallel for schedule(dynamic, chunk) if (worth)
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace k1rl::ops::cpu
