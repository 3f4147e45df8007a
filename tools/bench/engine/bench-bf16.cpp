// k1rl-bench-engine's bf16 rows: lib/model under Precision::bf16 (oneDNN products, bf16 decode
// panels) next to PyTorch's autocast bf16 (torch_bf16.py) on the same shapes, the bf16 GEMM peak
// of oneDNN on this machine, and train M's fraction of it. Same warm-up/steps/best-of rules as
// the fp32 rows of bench-engine.cpp.
#include "tools/bench/engine/bench-bf16.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/ops.h"
#include "lib/model/model.h"
#include "tools/bench/shapes.h"

namespace k1rl::bench {
namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// Model FLOPs of one training token (as bench-engine.cpp: 3x the forward).
double train_flops_per_token(const model::ModelConfig& c, int64_t T) {
  const double C = c.dim, D = c.head_dim(), H = c.heads, Hkv = c.kv_heads, F = c.ffn_dim;
  const double mm = 2 * (C * (H + 2 * Hkv) * D + H * D * C + C * 2 * F + F * C);
  const double attn = 2 * 2 * H * D * (T + 1) / 2.0;
  return 3 * (c.layers * (mm + attn) + 2 * C * c.vocab);
}

// Best GFLOP/s of oneDNN's bf16 matmul (bf16 operands, float32 result), n^3, over 4 runs after
// one warm-up; checks one entry.
double bf16_gemm_peak(int64_t n) {
  using dt = dnnl::memory::data_type;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream st(eng);
  const dnnl::memory::desc a({n, n}, dt::bf16, {n, 1}), c({n, n}, dt::f32, {n, 1});
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), eng);
  dnnl::matmul mm(pd);
  std::vector<uint16_t> A(n * n, ops::bf16_from_float(0.5f)), B(n * n, ops::bf16_from_float(0.25f));
  std::vector<float> C(n * n);
  dnnl::memory ma(a, eng, A.data()), mb(a, eng, B.data()), mc(c, eng, C.data());
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const double t0 = now();
    mm.execute(st, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}});
    st.wait();
    const double dt_s = now() - t0;
    if (r > 0) best = std::max(best, 2.0 * n * n * n / dt_s / 1e9);
  }
  if (std::fabs(C[12345] - 0.125f * n) > 1e-3f * n)
    std::fprintf(stderr, "bf16 gemm check failed\n");
  return best;
}

struct Train {
  double tokens_per_s = 0, gflops = 0, cpu_us = 0;
};

Train train(const Shape& s, int steps) {
  model::Model m(s.cfg);
  m.init_params(1);
  optim::OptimConfig oc;
  oc.lr = 1e-3;
  oc.schedule = "constant";
  optim::AdamW opt(oc, m.num_params(), m.param_ranges());
  Rng rng(7);
  model::Batch batch;
  batch.cu.push_back(0);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t t = 0; t < s.seq; ++t) batch.tokens.push_back(int32_t(rng.below(s.cfg.vocab)));
    batch.cu.push_back(int32_t(batch.tokens.size()));
  }
  const float w = 1.f / float(s.batch * (s.seq - 1));
  auto step = [&] {
    m.zero_grads();
    auto ce = m.cross_entropy_step(batch, w);
    opt.step(m.params(), m.grads());  // params() marks the bf16 mirror stale
    return ce.nll_sum / ce.tokens;
  };
  const double loss0 = step();  // warm-up (creates the oneDNN primitives)
  double loss1 = loss0;
  const double t0 = now(), c0 = cpu_seconds();
  for (int i = 0; i < steps; ++i) loss1 = step();
  const double dt = now() - t0, tokens = double(steps) * s.batch * s.seq;
  Train r;
  r.tokens_per_s = tokens / dt;
  r.gflops = tokens * train_flops_per_token(s.cfg, s.seq) / dt / 1e9;
  r.cpu_us = 1e6 * (cpu_seconds() - c0) / tokens;
  if (!(std::isfinite(loss1) && loss1 < loss0))
    std::fprintf(stderr, "warning: bf16 shape %s loss did not fall (%.4f -> %.4f)\n", s.name, loss0,
                 loss1);
  return r;
}

double gen(int64_t batch, int64_t prompt, int64_t fresh, int reps, double* cpu_us) {
  Shape s = shape("S");
  model::Model m(s.cfg);
  m.init_params(2);
  model::Generator g(m, batch, prompt + fresh, model::KvType::bf24);  // the rollout's default
  model::SamplingParams sp;
  sp.max_answer_tokens = fresh;
  double best = 0;
  for (int r = 0; r <= reps; ++r) {
    std::vector<model::GenRequest> reqs(batch);
    Rng rng(100 + r);
    for (int64_t i = 0; i < batch; ++i) {
      reqs[i].id = i;
      reqs[i].seed = 1000 * r + i;
      for (int64_t t = 0; t < prompt; ++t)
        reqs[i].prompt.push_back(int32_t(rng.below(s.cfg.vocab)));
    }
    const double t0 = now(), c0 = cpu_seconds();
    auto res = g.generate(reqs, sp);
    const double dt = now() - t0, dc = cpu_seconds() - c0;
    int64_t n = 0;
    for (const auto& x : res) n += int64_t(x.tokens.size());
    if (n != batch * fresh) std::fprintf(stderr, "warning: generated %lld tokens\n", (long long)n);
    if (r > 0 && double(n) / dt > best) best = double(n) / dt, *cpu_us = 1e6 * dc / double(n);
  }
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

std::string bench_bf16_rows(const Bf16Options& o) {
  if (!ops::bf16_supported()) {
    std::printf("bf16 rows skipped: this CPU has neither AMX-BF16 nor AVX512-BF16\n");
    return "";
  }
  ops::set_precision(ops::Precision::bf16);
  const std::string isa = ops::engine().bf16_isa;
  double peak = bf16_gemm_peak(2048);
  const Torch tpeak = o.torch ? torch_run("peak 2048") : Torch{};
  std::printf("\nbf16 (oneDNN %s): GEMM peak 2048^3 %.0f GFLOP/s (torch.matmul bf16: %.0f)\n",
              isa.c_str(), peak, tpeak.gflops);
  double ratio[4] = {0, 0, 0, 0}, frac_m = 0;
  for (const char* name : o.train_shapes) {
    const Shape s = shape(name);
    const int steps = o.quick ? 1 : (s.name[0] == 'S' ? 5 : 3);
    const Train r = train(s, steps);
    const Torch t = o.torch ? torch_run(strfmt("train %s %d", name, steps)) : Torch{};
    ratio[s.name[0] == 'S' ? 0 : 1] = t.tokens_per_s > 0 ? r.tokens_per_s / t.tokens_per_s : 0;
    if (s.name[0] == 'M') frac_m = r.gflops / peak;
    row(strfmt("train %s bf16", name), r.tokens_per_s, r.cpu_us, t, r.gflops, peak);
  }
  for (int64_t b : o.gen_batches) {
    const int reps = o.quick ? 1 : 5;
    const Torch t = o.torch ? torch_run(strfmt("gen %lld 32 224 %d", (long long)b, reps)) : Torch{};
    double cpu_us = 0;
    const double ours = gen(b, 32, 224, reps, &cpu_us);
    ratio[b == 64 ? 2 : 3] = t.tokens_per_s > 0 ? ours / t.tokens_per_s : 0;
    row(strfmt("generate S b%lld bf16", (long long)b), ours, cpu_us, t, 0, peak);
  }
  // The cores are shared: the peak is the best of a measurement before and one after the rows.
  const double peak2 = bf16_gemm_peak(2048);
  if (peak2 > peak) frac_m *= peak / peak2;
  std::printf(
      "(bf16 rows: torch = the same model under torch.autocast(\"cpu\", bfloat16); "
      "bf16 GEMM peak again: %.0f GFLOP/s, the best of both is the yardstick)\n",
      peak2);
  peak = std::max(peak, peak2);
  ops::set_precision(ops::Precision::fp32);
  return strfmt(
      ", \"train_ratio_S_bf16\": %.3f, \"train_ratio_M_bf16\": %.3f, \"bf16_peak_frac_M\": %.3f, "
      "\"gen_ratio_b64_bf16\": %.3f, \"gen_ratio_b1_bf16\": %.3f, \"bf16_peak_gflops\": %.0f, "
      "\"bf16_isa\": \"%s\"",
      ratio[0], ratio[1], frac_m, ratio[2], ratio[3], peak, isa.c_str());
}

}  // namespace k1rl::bench
