// k1rl-bench-engine's shared timed runs (engine-runs.h).
#include "tools/bench/engine/engine-runs.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "lib/optim/optim.h"

namespace k1rl::bench {

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
  Meter meter;
  for (int i = 0; i < steps; ++i) r.loss1 = step();
  r.phase = meter.stop(strfmt("k1rl train %s", s.name));
  const double dt = r.phase.wall_s;
  r.cpu_per_step = (r.phase.usage.user_s + r.phase.usage.sys_s) / steps;
  const double tokens = double(steps) * s.batch * s.seq;
  r.tokens_per_s = tokens / dt;
  r.gflops = tokens * train_flops_per_token(s.cfg, s.seq) / dt / 1e9;
  if (!(std::isfinite(r.loss1) && r.loss1 < r.loss0))
    std::fprintf(stderr, "warning: shape %s loss did not fall (%.4f -> %.4f)\n", s.name, r.loss0,
                 r.loss1);
  return r;
}

double bench_gen(int64_t batch, int64_t prompt, int64_t fresh, int reps, double* cpu_us,
                 model::KvType kv, Phase* phase) {
  Shape s = shape("S");
  model::Model m(s.cfg);
  m.init_params(2);
  model::Generator g(m, batch, prompt + fresh, kv);
  model::SamplingParams sp;
  sp.max_answer_tokens = fresh;
  double best = 0;
  Meter meter;
  for (int r = 0; r <= reps; ++r) {  // the first run is a warm-up
    if (r == 1) meter = Meter();
    std::vector<model::GenRequest> reqs(batch);
    Rng rng(100 + r);
    for (int64_t i = 0; i < batch; ++i) {
      reqs[i].id = i;
      reqs[i].seed = 1000 * r + i;
      for (int64_t t = 0; t < prompt; ++t)
        reqs[i].prompt.push_back(int32_t(rng.below(s.cfg.vocab)));
    }
    const Usage u0 = usage_self();
    const double t0 = now();
    auto res = g.generate(reqs, sp);
    const double dt = now() - t0;
    const Usage du = usage_self() - u0;
    const double dc = du.user_s + du.sys_s;
    int64_t n = 0;
    for (const auto& x : res) n += int64_t(x.tokens.size());
    if (n != batch * fresh) std::fprintf(stderr, "warning: generated %lld tokens\n", (long long)n);
    if (r > 0 && double(n) / dt > best) best = double(n) / dt, *cpu_us = 1e6 * dc / double(n);
  }
  *phase =
      meter.stop(strfmt("k1rl generate S b%lld %s KV", (long long)batch, model::kv_type_name(kv)));
  return best;
}

}  // namespace k1rl::bench
