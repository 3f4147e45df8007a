// Internals of lib/tasks shared between its files: one generator per task kind.
// Each returns one task (id empty) of the given difficulty (1..10), drawing from rng only.
#pragma once

#include <string>

#include "lib/tasks/tasks.h"

namespace k1rl::tasks_impl {

Task gen_addition(int difficulty, Rng& rng);
Task gen_multiplication(int difficulty, Rng& rng);
Task gen_linear(int difficulty, Rng& rng);
Task gen_countdown(int difficulty, Rng& rng);
Task gen_code(int difficulty, Rng& rng);

// Uniform integer in [lo, hi].
inline int64_t uniform_int(Rng& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.below(static_cast<uint64_t>(hi - lo + 1)));
}

}  // namespace k1rl::tasks_impl
