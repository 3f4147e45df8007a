// Where a generation step's time goes, per op (model::GenStats' profile), printed as a table:
// one column per measured row (milliseconds per step and share of the step). Used by
// k1rl-bench-byom for SmolLM2 and, with --profile-shapes, for the DESIGN.md shapes S and M.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/model.h"

namespace k1rl::bench {

struct ProfileColumn {
  std::string name;  // "generate b32" ...
  model::StepProfile p;
};

// A table: rows = ops, columns = ms per step (and %); last line the step's total.
void print_profile(const std::string& title, const std::vector<ProfileColumn>& cols);

// Greedy generation of `fresh` tokens after `prompt` random tokens at each batch with a
// random-weight model of shape S or M (tools/bench/shapes.h); prints its decode profile.
void profile_shape(const char* shape, int64_t prompt, int64_t fresh,
                   const std::vector<int64_t>& batches);

}  // namespace k1rl::bench
