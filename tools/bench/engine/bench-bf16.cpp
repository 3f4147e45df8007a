// k1rl-bench-engine's bf16 rows: lib/model under Precision::bf16 (oneDNN products, bf16 decode
// panels) next to PyTorch's autocast bf16 (torch_bf16.py) on the same shapes, the bf16 GEMM peak
// of oneDNN on this machine, and train M's fraction of it. Same warm-up/steps/best-of rules as
// the fp32 rows of bench-engine.cpp.
#include "tools/bench/engine/bench-bf16.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/ops.h"
#include "lib/model/model.h"
#include "tools/bench/engine/engine-runs.h"
#include "tools/bench/shapes.h"

namespace k1rl::bench {
namespace {

// Best GFLOP/s of oneDNN's bf16 matmul (bf16 operands, float32 result), n^3, over 10 runs after
// two warm-ups; `blocked`: the operands in the layouts oneDNN prefers (format any, reordered
// once, outside the timing), the library's peak on this machine (on Sapphire Rapids ~1.5x the
// plain row-major one); else plain row-major operands, as lib/model passes them. Checks one entry.
double bf16_gemm_peak(int64_t n, bool blocked) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  const dnnl::memory::desc plain({n, n}, dt::bf16, tag::ab), any({n, n}, dt::bf16, tag::any),
      c({n, n}, dt::f32, tag::ab);
  const dnnl::memory::desc& in = blocked ? any : plain;
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(in, in, c), eng);
  dnnl::matmul mm(pd);
  std::vector<uint16_t> A(n * n, ops::bf16_from_float(0.5f)), B(n * n, ops::bf16_from_float(0.25f));
  std::vector<float> C(n * n);
  dnnl::memory pa(plain, eng, A.data()), pb(plain, eng, B.data()), mc(c, eng, C.data());
  dnnl::memory ma(pd.src_desc(), eng), mb(pd.weights_desc(), eng);
  dnnl::reorder(pa, ma).execute(st, pa, ma);
  dnnl::reorder(pb, mb).execute(st, pb, mb);
  st.wait();
  double best = 0;
  for (int r = 0; r < 12; ++r) {
    const double t0 = now();
    mm.execute(st, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    st.wait();
    const double dt_s = now() - t0;
    if (r > 1) best = std::max(best, 2.0 * n * n * n / dt_s / 1e9);
  }
  if (std::fabs(C[12345] - 0.125f * n) > 1e-3f * n)
    std::fprintf(stderr, "bf16 gemm check failed\n");
  return best;
}

struct Torch {
  double tokens_per_s = 0, cpu_us = 0, gflops = 0;
};
Torch torch_run(const std::string& args) {
  const std::string cmd = std::string(K1RL_BENCH_PYTHON) + " " + K1RL_BENCH_TORCH_BF16 + " " + args;
  Torch r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    if (const char* k = std::strstr(line, "\"tokens_per_s\": ")) r.tokens_per_s = std::atof(k + 16);
    if (const char* k = std::strstr(line, "\"cpu_us_per_token\": ")) r.cpu_us = std::atof(k + 20);
    if (const char* k = std::strstr(line, "\"gflops\": ")) r.gflops = std::atof(k + 10);
  }
  if (pclose(p) != 0) std::fprintf(stderr, "warning: '%s' failed\n", cmd.c_str());
  return r;
}

void row(const std::string& what, double ours, double cpu_ours, const Torch& t, double gflops,
         double peak) {
  std::printf("%-26s %10.0f %10.0f %6.2f %11.1f %11.1f %6.2f", what.c_str(), ours, t.tokens_per_s,
              t.tokens_per_s > 0 ? ours / t.tokens_per_s : 0.0, cpu_ours, t.cpu_us,
              cpu_ours > 0 ? t.cpu_us / cpu_ours : 0.0);
  if (gflops > 0) std::printf(" %8.0f %5.0f%%", gflops, 100 * gflops / peak);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

void bench_bf16_rows(const Bf16Options& o, Driver& d) {
  if (!ops::bf16_supported()) {
    std::printf("bf16 rows skipped: this CPU has neither AMX-BF16 nor AVX512-BF16\n");
    return;
  }
  ops::set_precision(ops::Precision::bf16);
  const std::string isa = ops::engine().bf16_isa;
  double peak = bf16_gemm_peak(2048, true), plain = bf16_gemm_peak(2048, false);
  const Torch tpeak = o.torch ? torch_run("peak 2048") : Torch{};
  std::printf(
      "\nbf16 (oneDNN %s): GEMM peak 2048^3 %.0f GFLOP/s with blocked operands, %.0f row-major "
      "(torch.matmul bf16: %.0f)\n",
      isa.c_str(), peak, plain, tpeak.gflops);
  double ratio[4] = {0, 0, 0, 0}, gflops_m = 0;
  for (const char* name : o.train_shapes) {
    const Shape s = shape(name);
    const int steps = o.quick ? 1 : (s.name[0] == 'S' ? 5 : 3);
    const TrainResult r = bench_train(s, steps);  // the fp32 rows' loop, under Precision::bf16
    Phase ph = r.phase;
    ph.name += " bf16";
    d.record(ph);
    const double cpu_us = 1e6 * r.cpu_per_step / double(s.batch * s.seq);
    const Torch t = o.torch ? torch_run(strfmt("train %s %d", name, steps)) : Torch{};
    ratio[s.name[0] == 'S' ? 0 : 1] = t.tokens_per_s > 0 ? r.tokens_per_s / t.tokens_per_s : 0;
    if (s.name[0] == 'M') gflops_m = r.gflops;
    row(strfmt("train %s bf16", name), r.tokens_per_s, cpu_us, t, r.gflops, peak);
  }
  for (int64_t b : o.gen_batches) {
    const int reps = o.quick ? 1 : 5;
    const Torch t = o.torch ? torch_run(strfmt("gen %lld 32 224 %d", (long long)b, reps)) : Torch{};
    double cpu_us = 0;
    Phase ph;
    const double ours = bench_gen(b, 32, 224, reps, &cpu_us, model::KvType::bf24, &ph);
    ph.name += " bf16";
    d.record(ph);
    ratio[b == 64 ? 2 : 3] = t.tokens_per_s > 0 ? ours / t.tokens_per_s : 0;
    row(strfmt("generate S b%lld bf16", (long long)b), ours, cpu_us, t, 0, peak);
  }
  // The cores are shared: each yardstick is the best of a measurement before and one after the
  // rows; the row-major one also of torch.matmul's (the same library, as PyTorch calls it).
  peak = std::max(peak, bf16_gemm_peak(2048, true));
  plain = std::max({plain, bf16_gemm_peak(2048, false), tpeak.gflops});
  const double frac_m = peak > 0 ? gflops_m / peak : 0;
  const double frac_plain = plain > 0 ? gflops_m / plain : 0;
  std::printf(
      "(bf16 rows: torch = the same model under torch.autocast(\"cpu\", bfloat16); train M's "
      "fraction of the best bf16 peak, blocked %.0f GFLOP/s: %.0f%%, row-major %.0f: %.0f%%)\n",
      peak, 100 * frac_m, plain, 100 * frac_plain);
  ops::set_precision(ops::Precision::fp32);
  d.json()
      .num("train_ratio_S_bf16", ratio[0], 3)
      .num("train_ratio_M_bf16", ratio[1], 3)
      .num("bf16_peak_frac_M", frac_m, 3)
      .num("gen_ratio_b64_bf16", ratio[2], 3)
      .num("gen_ratio_b1_bf16", ratio[3], 3)
      .num("bf16_peak_gflops", peak, 0)
      .num("bf16_peak_frac_M_rowmajor", frac_plain, 3)
      .num("bf16_peak_rowmajor_gflops", plain, 0)
      .str("bf16_isa", isa);
}

}  // namespace k1rl::bench
