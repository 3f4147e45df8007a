// k1rl-bench-engine: lib/model's training tokens/s (forward + backward + AdamW) at shapes S and M
// and generation tokens/s (batch 64 and 1, prompt 32, 224 new tokens) next to PyTorch on the same
// shapes in the same run and environment, with achieved GFLOP/s against the measured sgemm peak.
// Usage: k1rl-bench-engine [--quick] [--no-torch] [--no-bf16|--only-bf16] [--kv f32|bf24|f16]
// [--only train|gen|...] (ends with a JSON line; the bf16 rows are bench-bf16.cpp's)
#include <cblas.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "lib/model/model.h"
#include "tools/bench/engine/bench-bf16.h"
#include "tools/bench/shapes.h"

using namespace k1rl;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {  // user + system time of all threads of this process
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// The environment the issue prescribes for both programs; re-executes itself once to apply it
// (OpenMP and OpenBLAS read these at start-up).
void apply_environment(char** argv) {
  if (std::getenv("K1RL_BENCH_ENV")) return;
  setenv("K1RL_BENCH_ENV", "1", 1);
  setenv("OMP_NUM_THREADS", "2", 1);
  setenv("OPENBLAS_NUM_THREADS", "2", 1);
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv("MALLOC_MMAP_MAX_", "0", 1);
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv("OPENBLAS_L2_SIZE");
  execv("/proc/self/exe", argv);
  std::perror("k1rl-bench-engine: re-exec failed; running in the current environment");
}

using bench::Shape;
using bench::shape;

// Model FLOPs of one training token (3x the forward: matmuls + causal attention at length T).
double train_flops_per_token(const model::ModelConfig& c, int64_t T) {
  const double C = c.dim, D = c.head_dim(), H = c.heads, Hkv = c.kv_heads, F = c.ffn_dim;
  const double mm = 2 * (C * (H + 2 * Hkv) * D + H * D * C + C * 2 * F + F * C);
  const double attn = 2 * 2 * H * D * (T + 1) / 2.0;  // scores + values, average causal length
  return 3 * (c.layers * (mm + attn) + 2 * C * c.vocab);
}

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

// Best GFLOP/s of a 2048^3 sgemm: through ops::gemm (the kernels' threading: one single-threaded
// OpenBLAS call per OpenMP thread) or, with own_threads, OpenBLAS's own 2-thread sgemm.
double sgemm_peak(bool own_threads) {
  const int n = 2048;
  std::vector<float> a(size_t(n) * n, 0.5f), b(size_t(n) * n, 0.25f), c(size_t(n) * n);
  ops::gemm(false, true, 64, 64, 64, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);  // init
  if (own_threads && openblas_set_num_threads) openblas_set_num_threads(2);
  double best = 0;
  for (int r = 0; r < 4; ++r) {
    double t0 = now();
    if (own_threads)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.f, a.data(), n, b.data(), n,
                  0.f, c.data(), n);
    else
      ops::gemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    double dt = now() - t0;
    if (r > 0) best = std::max(best, 2.0 * n * n * n / dt / 1e9);
  }
  if (own_threads && openblas_set_num_threads) openblas_set_num_threads(1);
  if (std::fabs(c[12345] - 0.125f * n) > 1e-2f * n) std::fprintf(stderr, "sgemm check failed\n");
  return best;
}

struct TrainResult {
  double tokens_per_s, gflops, loss0, loss1, cpu_per_step;
};

TrainResult bench_train(const Shape& s, int steps) {
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
    opt.step(m.params(), m.grads());
    return ce.nll_sum / ce.tokens;
  };
  TrainResult r;
  r.loss0 = step();  // warm-up
  double t0 = now(), c0 = cpu_seconds();
  for (int i = 0; i < steps; ++i) r.loss1 = step();
  const double dt = now() - t0;
  r.cpu_per_step = (cpu_seconds() - c0) / steps;
  const double tokens = double(steps) * s.batch * s.seq;
  r.tokens_per_s = tokens / dt;
  r.gflops = tokens * train_flops_per_token(s.cfg, s.seq) / dt / 1e9;
  if (!(std::isfinite(r.loss1) && r.loss1 < r.loss0))
    std::fprintf(stderr, "warning: shape %s loss did not fall (%.4f -> %.4f)\n", s.name, r.loss0,
                 r.loss1);
  return r;
}

// Best tokens/s over reps; *cpu_us gets the CPU microseconds per generated token of that run.
double bench_gen(int64_t batch, int64_t prompt, int64_t fresh, int reps, double* cpu_us,
                 model::KvType kv) {
  Shape s = shape("S");
  model::Model m(s.cfg);
  m.init_params(2);
  model::Generator g(m, batch, prompt + fresh, kv);
  model::SamplingParams sp;
  sp.max_answer_tokens = fresh;
  double best = 0;
  for (int r = 0; r <= reps; ++r) {  // the first run is a warm-up
    std::vector<model::GenRequest> reqs(batch);
    Rng rng(100 + r);
    for (int64_t i = 0; i < batch; ++i) {
      reqs[i].id = i;
      reqs[i].seed = 1000 * r + i;
      for (int64_t t = 0; t < prompt; ++t)
        reqs[i].prompt.push_back(int32_t(rng.below(s.cfg.vocab)));
    }
    double t0 = now(), c0 = cpu_seconds();
    auto res = g.generate(reqs, sp);
    double dt = now() - t0, dc = cpu_seconds() - c0;
    int64_t n = 0;
    for (const auto& x : res) n += int64_t(x.tokens.size());
    if (n != batch * fresh) std::fprintf(stderr, "warning: generated %lld tokens\n", (long long)n);
    if (r > 0 && double(n) / dt > best) best = double(n) / dt, *cpu_us = 1e6 * dc / double(n);
  }
  return best;
}

// Runs the PyTorch reference: its tokens/s and CPU microseconds per token (0 when it failed).
struct TorchResult {
  double tokens_per_s = 0, cpu_us = 0;
};
TorchResult torch_run(const std::string& args) {
  std::string cmd = std::string(K1RL_BENCH_PYTHON) + " " + K1RL_BENCH_TORCH + " " + args;
  TorchResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    if (const char* k = std::strstr(line, "\"tokens_per_s\": ")) r.tokens_per_s = std::atof(k + 16);
    if (const char* k = std::strstr(line, "\"cpu_us_per_token\": ")) r.cpu_us = std::atof(k + 20);
  }
  if (pclose(p) != 0) std::fprintf(stderr, "warning: '%s' failed\n", cmd.c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  apply_environment(argv);
  bool quick = false, torch = true, bf16 = true, fp32 = true;
  // The rollout's default cache first: gen_ratio_b64/b1 report it.
  const model::KvType kv_default = model::KvType::bf24;  // rollout.kv_cache's default
  std::vector<model::KvType> kv_types{kv_default, model::KvType::f32, model::KvType::f16};
  std::vector<int64_t> gen_batches{64, 1};
  std::vector<const char*> train_shapes{"S", "M"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--kv" && i + 1 < argc) {
      std::string k = argv[++i];
      kv_types = {model::kv_type_from_name(k)};
    } else if (a == "--no-torch") {
      torch = false;
    } else if (a == "--no-bf16") {
      bf16 = false;
    } else if (a == "--only-bf16") {
      fp32 = false;
    } else if (a == "--only" && i + 1 < argc) {
      std::string o = argv[++i];
      if (o.rfind("gen", 0) == 0) train_shapes.clear();
      if (o.rfind("train", 0) == 0) gen_batches.clear();
      if (o == "gen64") gen_batches = {64};
      if (o == "gen1") gen_batches = {1};
      if (o == "train-S") train_shapes = {"S"};
      if (o == "train-M") train_shapes = {"M"};
    } else {
      std::fprintf(stderr,
                   "usage: k1rl-bench-engine [--quick] [--no-torch] [--no-bf16|--only-bf16] [--kv "
                   "f32|bf24|f16] [--only train|train-S|train-M|gen|gen64|gen1]\n");
      return 64;
    }
  }
  std::printf("k1rl-bench-engine: isa %s, %d OpenMP threads, OMP_WAIT_POLICY=%s, torch %s\n",
              ops::isa_name(ops::isa()), ops::num_threads(),
              std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "(unset)",
              torch ? "on" : "off");
  // OpenBLAS's own threads spin after use, so its 2-thread peak is measured last (see the end);
  // this one goes through ops::gemm and is the yardstick unless OpenBLAS's own is higher.
  double peak = sgemm_peak(false);
  std::printf("sgemm peak (2048^3, ops::gemm: OpenBLAS in 2 OpenMP threads): %.0f GFLOP/s\n\n",
              peak);
  std::printf("%-26s %10s %10s %6s %11s %11s %6s %8s %6s\n", "measurement", "k1rl tok/s",
              "torch tok/s", "ratio", "k1rl cpu-us", "torch cpu-us", "ratio", "GFLOP/s", "peak");
  auto row = [](const std::string& what, double ours, double cpu_ours, const TorchResult& t,
                double gflops, double peak) {
    std::printf("%-26s %10.0f %10.0f %6.2f %11.1f %11.1f %6.2f", what.c_str(), ours, t.tokens_per_s,
                t.tokens_per_s > 0 ? ours / t.tokens_per_s : 0.0, cpu_ours, t.cpu_us,
                cpu_ours > 0 ? t.cpu_us / cpu_ours : 0.0);
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
    const TorchResult t = torch ? torch_run(strfmt("train %s %d", name, steps)) : TorchResult{};
    ratio[si] = t.tokens_per_s > 0 ? r.tokens_per_s / t.tokens_per_s : 0;
    if (s.name[0] == 'M') peak_frac_m = r.gflops / peak;
    row(strfmt("train %s", name), r.tokens_per_s, 1e6 * r.cpu_per_step / double(s.batch * s.seq), t,
        r.gflops, peak);
  }
  for (int64_t b : fp32 ? gen_batches : std::vector<int64_t>{}) {
    const int gi = b == 64 ? 2 : 3;
    const int reps = quick ? 1 : 5;  // best of 5 for both programs: the cores are shared
    const TorchResult t =
        torch ? torch_run(strfmt("gen %lld 32 224 %d", (long long)b, reps)) : TorchResult{};
    for (model::KvType kv : kv_types) {
      double cpu_us = 0;
      const double ours = bench_gen(b, 32, 224, reps, &cpu_us, kv);
      const double r = t.tokens_per_s > 0 ? ours / t.tokens_per_s : 0;
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
  const std::string bf16_json = bf16 ? bench::bench_bf16_rows(bo) : "";
  const double own = sgemm_peak(true);
  std::printf("\nsgemm peak (2048^3, OpenBLAS's own 2 threads): %.0f GFLOP/s\n", own);
  if (own > peak) peak_frac_m *= peak / own;
  std::printf(
      "{\"train_ratio_S\": %.3f, \"train_ratio_M\": %.3f, \"gen_ratio_b64\": %.3f, "
      "\"gen_ratio_b1\": %.3f, \"peak_frac_M\": %.3f, \"gen_kv\": \"%s\", "
      "\"gen_ratio_b64_f32kv\": %.3f, \"gen_ratio_b1_f32kv\": %.3f, "
      "\"gen_ratio_b64_f16kv\": %.3f, \"gen_ratio_b1_f16kv\": %.3f%s}\n",
      ratio[0], ratio[1], ratio[2], ratio[3], peak_frac_m, model::kv_type_name(kv_default),
      gen_ratio[model::KvType::f32][0], gen_ratio[model::KvType::f32][1],
      gen_ratio[model::KvType::f16][0], gen_ratio[model::KvType::f16][1], bf16_json.c_str());
  return 0;
}
