// k1rl-bench-engine: lib/model's training tokens/s (forward + backward + AdamW) at shapes S and M
// and generation tokens/s (batch 64 and 1, prompt 32, 224 new tokens) next to PyTorch on the same
// shapes in the same run and environment, with achieved GFLOP/s against the measured sgemm peak,
// and each program's page faults and user/system CPU time per row.
// Usage: k1rl-bench-engine [--quick] [--no-torch] [--no-bf16|--only-bf16] [--kv f32|bf24|f16]
//        [--only train|gen|...] [--threads N]   (ends with a JSON line; bf16 rows: bench-bf16.cpp)
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/model/model.h"
#include "tools/bench/common/bench.h"
#include "tools/bench/engine/bench-bf16.h"
#include "tools/bench/engine/engine-runs.h"
#include "tools/bench/shapes.h"

using namespace k1rl;

namespace {

using bench::bench_gen;
using bench::bench_train;
using bench::now;
using bench::Shape;
using bench::shape;
using bench::TrainResult;

// Runs the PyTorch reference: its tokens/s and CPU microseconds per token (0 when it failed), and
// the resource use of its timed region as it measured it.
struct TorchResult {
  double tokens_per_s = 0, cpu_us = 0;
  bench::Phase phase;
};
TorchResult torch_run(const std::string& name, const std::string& args) {
  std::string cmd = std::string(K1RL_BENCH_PYTHON) + " " + K1RL_BENCH_TORCH + " " + args;
  TorchResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    const std::string l = line;
    if (l.find("\"tokens_per_s\":") == std::string::npos) continue;
    r.tokens_per_s = bench::json_number(l, "tokens_per_s");
    r.cpu_us = bench::json_number(l, "cpu_us_per_token");
    r.phase = bench::phase_from_json(name, l);
  }
  if (pclose(p) != 0) std::fprintf(stderr, "warning: '%s' failed\n", cmd.c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Driver d("engine", "lib/model training and generation tokens/s next to PyTorch");
  std::string kv_opt, only;
  bool no_torch = false, no_bf16 = false, only_bf16 = false;
  d.options().add_options()("no-torch", bench::po::bool_switch(&no_torch),
                            "skip the PyTorch reference")(
      "no-bf16", bench::po::bool_switch(&no_bf16), "skip the bf16 rows")(
      "only-bf16", bench::po::bool_switch(&only_bf16), "only the bf16 rows (and the sgemm peak)")(
      "kv", bench::po::value(&kv_opt), "one KV-cache type: f32|bf24|f16 (default: all three)")(
      "only", bench::po::value(&only), "train|train-S|train-M|gen|gen64|gen1");
  if (!d.parse(argc, argv)) return d.exit_code();
  const bool quick = d.quick(), torch = !no_torch, bf16 = !no_bf16, fp32 = !only_bf16;
  // The rollout's default cache first: gen_ratio_b64/b1 report it.
  const model::KvType kv_default = model::KvType::bf24;  // rollout.kv_cache's default
  std::vector<model::KvType> kv_types{kv_default, model::KvType::f32, model::KvType::f16};
  std::vector<int64_t> gen_batches{64, 1};
  std::vector<const char*> train_shapes{"S", "M"};
  try {
    if (!kv_opt.empty()) kv_types = {model::kv_type_from_name(kv_opt)};
  } catch (const Error& e) {
    std::fprintf(stderr, "k1rl-bench-engine: error: --kv: %s\n", e.line().c_str());
    return 64;
  }
  if (!only.empty()) {
    const std::string& o = only;
    if (o.rfind("gen", 0) == 0) train_shapes.clear();
    if (o.rfind("train", 0) == 0) gen_batches.clear();
    if (o == "gen64") gen_batches = {64};
    if (o == "gen1") gen_batches = {1};
    if (o == "train-S") train_shapes = {"S"};
    if (o == "train-M") train_shapes = {"M"};
  }
  d.print_header(std::string("torch ") + (torch ? "on" : "off"));
  // OpenBLAS's own threads spin after use, so its 2-thread peak is measured last (see the end);
  // this one goes through ops::gemm and is the yardstick unless OpenBLAS's own is higher.
  double peak = d.gemm_peak(false);
  std::printf("sgemm peak (2048^3, ops::gemm: OpenBLAS in %d OpenMP threads): %.0f GFLOP/s\n\n",
              ops::num_threads(), peak);
  std::printf("%-26s %10s %10s %6s %11s %11s %6s %8s %6s\n", "measurement", "k1rl tok/s",
              "torch tok/s", "ratio", "k1rl cpu-us", "torch cpu-us", "ratio", "GFLOP/s", "peak");
  auto row = [](const std::string& what, double ours, double cpu_ours, const TorchResult& t,
                double gflops, double peak) {
    std::printf("%-26s %10.0f %10.0f %6.2f %11.1f %11.1f %6.2f", what.c_str(), ours, t.tokens_per_s,
                bench::ratio(ours, t.tokens_per_s), cpu_ours, t.cpu_us,
                bench::ratio(t.cpu_us, cpu_ours));
    if (gflops > 0) std::printf(" %8.0f %5.0f%%", gflops, 100 * gflops / peak);
    std::printf("\n");
    std::fflush(stdout);
  };
  double ratio[4] = {0, 0, 0, 0}, peak_frac_m = 0;
  std::map<model::KvType, std::array<double, 2>> gen_ratio;  // per cache type: b64, b1
  for (const char* name : fp32 ? train_shapes : std::vector<const char*>{}) {
    const int si = name[0] == 'S' ? 0 : 1;
    Shape s = shape(name);
    const int steps = quick ? 1 : (s.name[0] == 'S' ? 5 : 3);
    TrainResult r = bench_train(s, steps);
    d.record(r.phase);
    const TorchResult t =
        torch ? torch_run(strfmt("torch train %s", name), strfmt("train %s %d", name, steps))
              : TorchResult{};
    if (t.tokens_per_s > 0) d.record(t.phase);
    ratio[si] = bench::ratio(r.tokens_per_s, t.tokens_per_s);
    if (s.name[0] == 'M') peak_frac_m = r.gflops / peak;
    row(strfmt("train %s", name), r.tokens_per_s, 1e6 * r.cpu_per_step / double(s.batch * s.seq), t,
        r.gflops, peak);
  }
  for (int64_t b : fp32 ? gen_batches : std::vector<int64_t>{}) {
    const int gi = b == 64 ? 2 : 3;
    const int reps = quick ? 1 : 5;  // best of 5 for both programs: the cores are shared
    const TorchResult t = torch ? torch_run(strfmt("torch generate S b%lld", (long long)b),
                                            strfmt("gen %lld 32 224 %d", (long long)b, reps))
                                : TorchResult{};
    if (t.tokens_per_s > 0) d.record(t.phase);
    for (model::KvType kv : kv_types) {
      double cpu_us = 0;
      bench::Phase ph;
      const double ours = bench_gen(b, 32, 224, reps, &cpu_us, kv, &ph);
      d.record(ph);
      const double r = bench::ratio(ours, t.tokens_per_s);
      gen_ratio[kv][gi - 2] = r;
      if (kv == kv_default) ratio[gi] = r;
      row(strfmt("generate S b%lld %s KV", (long long)b, model::kv_type_name(kv)), ours, cpu_us, t,
          0, peak);
    }
  }
  std::printf(
      "(ratio = k1rl/torch tokens per second; cpu ratio = torch/k1rl CPU time per token)\n");
  // The bf16 rows (issue 14: bench-bf16.cpp), same shapes and flags.
  bench::Bf16Options bo;
  bo.quick = quick, bo.torch = torch, bo.train_shapes = train_shapes, bo.gen_batches = gen_batches;
  bench::JsonLine fp32_keys = d.json();  // the bf16 keys follow the fp32 ones
  d.json() = bench::JsonLine();
  if (bf16) bench::bench_bf16_rows(bo, d);
  bench::JsonLine bf16_keys = d.json();
  d.json() = fp32_keys;
  const double own = d.gemm_peak(true);
  std::printf("\nsgemm peak (2048^3, OpenBLAS's own %d threads): %.0f GFLOP/s\n",
              ops::num_threads(), own);
  if (own > peak) peak_frac_m *= peak / own;
  d.json()
      .num("train_ratio_S", ratio[0], 3)
      .num("train_ratio_M", ratio[1], 3)
      .num("gen_ratio_b64", ratio[2], 3)
      .num("gen_ratio_b1", ratio[3], 3)
      .num("peak_frac_M", peak_frac_m, 3)
      .str("gen_kv", model::kv_type_name(kv_default))
      .num("gen_ratio_b64_f32kv", gen_ratio[model::KvType::f32][0], 3)
      .num("gen_ratio_b1_f32kv", gen_ratio[model::KvType::f32][1], 3)
      .num("gen_ratio_b64_f16kv", gen_ratio[model::KvType::f16][0], 3)
      .num("gen_ratio_b1_f16kv", gen_ratio[model::KvType::f16][1], 3);
  d.json().append(bf16_keys);
  d.finish();
  return 0;
}
