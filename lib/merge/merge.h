// k1rl merge: checkpoint merging for long2short (the Kimi k1.5 report's model merging), behind
// k1rl-merge. θ = Σ_i w_i θ_i with the weights normalised to sum 1 (linear), or the spherical
// interpolation of two checkpoints (slerp). Inputs are streamed tensor by tensor: every input is
// open at once, one tensor is read from each and combined, the result written, then the next, so
// memory is a few tensors, not N models. Usage:
//   merge::MergeSpec s{merge::parse_inputs("long.h5:0.5,short.h5:0.5"), merge::Method::linear};
//   merge::merge_checkpoints(s, "merged.h5");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/core.h"

namespace k1rl::merge {

struct MergeInput {
  std::string path;
  double weight = 1.0;  // before normalisation
  bool weight_given = false;
};

enum class Method { linear, slerp };
Method parse_method(const std::string& name);  // "linear" | "slerp"; throws ConfigError
const char* method_name(Method m);

// "A.h5[:w],B.h5[:w],..." -> inputs (weight 1 when omitted). Throws ConfigError on an empty list,
// an empty path or a weight that is not a finite number >= 0.
std::vector<MergeInput> parse_inputs(const std::string& list);

struct MergeSpec {
  std::vector<MergeInput> inputs;
  Method method = Method::linear;
  double t = 0.5;  // slerp: 0 gives the first input, 1 the second
};

struct MergeStats {
  std::vector<double> weights;  // linear: normalised weights; slerp: {1 - t, t}
  int64_t tensors = 0;
  int64_t params = 0;
  int64_t slerp_linear_tensors = 0;  // slerp: tensors (nearly) parallel, interpolated linearly
  int64_t largest_tensor = 0;        // elements of the largest tensor (memory ≈ 16 B × this)
};

// Checks that every input is a checkpoint/1 file with the same [model] config, the same tokenizer
// and the same parameter tensors (names and shapes). Throws ConfigError naming both files and the
// first difference ("checkpoints A.h5 and B.h5 differ: model.dim is 64 in A.h5 but 128 in B.h5").
void check_compatible(const std::vector<MergeInput>& inputs);

// Merges into `out` (checkpoint/1, written under a temporary name and renamed; an error leaves
// nothing at `out`). The result carries the first input's [model] attributes and tokenizer/
// group, step = iteration = 0, no optim/ group (AdamW starts afresh: averaged moments of
// different runs describe no point of the merged model), and the provenance attributes
// merge_method, merge_inputs (paths, comma-separated), merge_weights (normalised, as text) and,
// for slerp, merge_t. Linear: out = Σ_i w_i·x_i accumulated in double, in input order, with
// std::fma, then rounded to float. Slerp: see merge-slerp.cpp.
MergeStats merge_checkpoints(const MergeSpec& spec, const std::string& out);

// Slerp of two flat tensors (exposed for tests): treats a and b as vectors, Ω the angle between
// them; out = sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, or (1−t)·a + t·b when |cos Ω| > 0.9995
// or either vector is zero. Returns true when it fell back to the linear form.
bool slerp(const float* a, const float* b, int64_t n, double t, float* out);

}  // namespace k1rl::merge
