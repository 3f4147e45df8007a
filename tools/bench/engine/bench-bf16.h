// The bf16 rows of k1rl-bench-engine (issue 14), kept apart from bench-engine.cpp so that they
// move with it onto any driver: bf16 train S/M against PyTorch autocast bf16, bf16 generate
// b64/b1 against autocast, and the machine's bf16 GEMM peak (oneDNN, 2048^3), all in one run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace k1rl::bench {

struct Bf16Options {
  bool quick = false, torch = true;
  std::vector<const char*> train_shapes{"S", "M"};
  std::vector<int64_t> gen_batches{64, 1};
};
// Prints one table row per measurement and returns the JSON keys (", \"train_ratio_S_bf16\":
// ..." up to "bf16_isa"), or an empty string with a note when the CPU has no bf16.
std::string bench_bf16_rows(const Bf16Options& o);

}  // namespace k1rl::bench
