// k1rl-bench-byom's training row: one packed batch of SmolLM2 (forward over every position,
// cross-entropy on the next token, backward, global-norm clipping at 1 and AdamW with the RL
// config's settings), our Model next to transformers in train mode, step by step interleaved
// with the reference coprocess (torch_byom.py's "train" request) after a warm-up step each.
// Both start from the same weights on the same tokens, so every step's loss must agree: that is
// what verifies the timed work.
#pragma once

#include <cstdint>

#include "lib/model/model.h"
#include "tools/bench/common/bench.h"

namespace k1rl::bench {

struct TrainRow {
  int64_t batch = 0, seq = 0;
  double ours_s = 0, torch_s = 0;          // fastest timed step of each
  double ours_cpu_s = 0, torch_cpu_s = 0;  // CPU seconds of that step
  double max_loss_rel_diff = 0;            // over every step, warm-up included
  double loss_first = 0, loss_last = 0;    // ours
  bool torch_ran = false, same_loss = false;
  Phase ours_phase, torch_phase;  // the timed steps
  double tokens() const { return double(batch * seq); }
};

// Trains `net` in place (its weights change): run it after the generation rows. ref may be null.
// bf16: under the engine's current precision (the caller set bf16) against torch autocast bf16,
// whose losses agree only to bf16 rounding (tolerance 2e-2 instead of 1e-3).
TrainRow run_train_row(model::Model& net, Coprocess* ref, int64_t batch, int64_t seq, int steps,
                       bool bf16 = false);

}  // namespace k1rl::bench
