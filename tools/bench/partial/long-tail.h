// The benchmark's policy: shape S's transformer (4 layers, dim 256, 8 heads, ffn 688; vocab 259,
// the byte tokenizer's) with weights set so that its answers have a long-tail length mix, most
// short and a few long, as reasoning models' are. The blocks' output projections are scaled down
// (1e-3) so that the residual stream is the current token's embedding, and the tied embedding
// makes the model a two-state Markov chain over token classes: after a byte < 128 (state A) it
// stops with probability stop_a per token and moves to B with b_from_a; after a byte >= 128 or
// <bos>/<pad> (state B) it returns to A with a_from_b and stops with stop_b. Answers that never
// enter B end after ~1/stop_a tokens; the few that do run ~1/a_from_b tokens longer.
// Every product, attention and cache still runs at shape S's cost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace k1rl::bench {

struct LongTailMix {
  double stop_a = 1.0 / 16, b_from_a = 1.0 / 250;    // per token in state A
  double a_from_b = 1.0 / 200, stop_b = 1.0 / 5000;  // per token in state B
};

// Shape S with vocab 259 and the given max_seq.
model::ModelConfig long_tail_shape(int64_t max_seq);
// Sets the weights of `m` (a long_tail_shape model) to the mix; temperature 1.
void set_long_tail_weights(model::Model& m, const LongTailMix& mix, uint64_t seed);

// mean, p50, p90, p99 and max of answer lengths, as "mean 28.1 p50 14 p90 52 p99 380 max 610".
std::string length_summary(std::vector<int64_t> lengths);

}  // namespace k1rl::bench
