// The timed runs k1rl-bench-engine's fp32 and bf16 rows share: a training step loop (forward,
// backward, AdamW) and continuous-batching generation at a DESIGN.md shape, with resource use.
// The engine's precision (ops::set_precision) is the caller's: the same code times fp32 and bf16.
#pragma once

#include <cstdint>

#include "lib/model/model.h"
#include "tools/bench/common/bench.h"
#include "tools/bench/shapes.h"

namespace k1rl::bench {

struct TrainResult {
  double tokens_per_s, gflops, loss0, loss1, cpu_per_step;
  Phase phase;  // the timed steps
};
// `steps` timed steps after one warm-up step; warns when the loss did not fall.
TrainResult bench_train(const Shape& s, int steps);

// Best tokens/s over reps (after a warm-up run); *cpu_us gets the CPU microseconds per generated
// token of that run, *phase the resource use of all timed reps.
double bench_gen(int64_t batch, int64_t prompt, int64_t fresh, int reps, double* cpu_us,
                 model::KvType kv, Phase* phase);

}  // namespace k1rl::bench
