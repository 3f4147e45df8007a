// The benchmark's policy: a transformer of shape S (4 layers, dim 256, 8 heads, ffn 688; vocab
// 259, the byte tokenizer's) or of SmolLM2-135M's shape (30 layers, dim 576, 9 query / 3 key-value
// heads, ffn 1536, vocab 49,152, tied) with weights set so that its answers have a long-tail
// length mix, most short and a few long, as reasoning models' are. The blocks' output projections
// are scaled down (1e-3) so that the residual stream is the current token's embedding, and the tied
// embedding makes the model a two-state Markov chain over token classes: after a byte < 128 (state
// A) it stops with probability stop_a per token and moves to B with b_from_a; after a byte >= 128
// or <bos>/<pad> (state B) it returns to A with a_from_b and stops with stop_b. Answers that never
// enter B end after ~1/stop_a tokens; the few that do run ~1/a_from_b tokens longer. Ids past
// the byte tokenizer's 259 (SmolLM2's vocabulary) get logits ~-40 in both states: never drawn.
// Every product, attention, LM head and cache still runs at the shape's cost.
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

// Shape "s" (vocab 259) or "smollm2" (vocab 49,152) with the given max_seq; throws InputError
// for another name.
model::ModelConfig long_tail_shape(const std::string& shape, int64_t max_seq);
// Sets the weights of `m` (a long_tail_shape model) to the mix; temperature 1.
void set_long_tail_weights(model::Model& m, const LongTailMix& mix, uint64_t seed);

// mean, p50, p90, p99 and max of answer lengths, as "mean 28.1 p50 14 p90 52 p99 380 max 610".
std::string length_summary(std::vector<int64_t> lengths);

}  // namespace k1rl::bench
