// Per-op profile tables of generation steps (gen-profile.h).
#include "tools/bench/byom/gen-profile.h"

#include <cstdio>

#include "tools/bench/shapes.h"

namespace k1rl::bench {

void print_profile(const std::string& title, const std::vector<ProfileColumn>& cols) {
  std::printf(
      "\nwhere a step's time goes, %s (wall ms per step on the team's first thread; %% of "
      "the step)\n%-10s",
      title.c_str(), "op");
  for (const auto& c : cols) std::printf(" %20s", c.name.c_str());
  std::printf("\n");
  for (int i = 0; i < model::StepProfile::kOps; ++i) {
    const auto op = static_cast<model::StepOp>(i);
    std::printf("%-10s", model::step_op_name(op));
    for (const auto& c : cols) {
      const double steps = c.p.steps > 0 ? double(c.p.steps) : 1, tot = c.p.total();
      std::printf(" %12.3f (%4.1f%%)", 1e3 * c.p[op] / steps, tot > 0 ? 100 * c.p[op] / tot : 0);
    }
    std::printf("\n");
  }
  std::printf("%-10s", "step");
  for (const auto& c : cols)
    std::printf(" %12.3f %7s", 1e3 * c.p.total() / (c.p.steps > 0 ? double(c.p.steps) : 1), "");
  std::printf("\n%-10s", "rows/step");
  for (const auto& c : cols)
    std::printf(" %12.1f %7s", c.p.steps > 0 ? double(c.p.rows) / double(c.p.steps) : 0, "");
  std::printf("\n");
}

void profile_shape(const char* name, int64_t prompt, int64_t fresh,
                   const std::vector<int64_t>& batches) {
  Shape s = shape(name);
  s.cfg.max_seq = std::max<int64_t>(s.cfg.max_seq, prompt + fresh);
  model::Model m(s.cfg);
  m.init_params(2);
  model::SamplingParams sp;
  sp.temperature = 0;
  sp.max_answer_tokens = fresh;
  std::vector<ProfileColumn> cols;
  for (int64_t b : batches) {
    model::Generator g(m, b, prompt + fresh);
    std::vector<model::GenRequest> reqs(b);
    Rng rng(7);
    for (int64_t i = 0; i < b; ++i) {
      reqs[i].id = i;
      for (int64_t t = 0; t < prompt; ++t)
        reqs[i].prompt.push_back(int32_t(rng.below(s.cfg.vocab)));
    }
    g.generate(reqs, sp);  // warm-up (packs the weights)
    g.reset_stats();
    g.set_profile(true);
    g.generate(reqs, sp);
    cols.push_back({strfmt("decode b%lld", (long long)b), g.stats().decode});
  }
  print_profile(strfmt("shape %s (%lld layers, dim %lld, vocab %lld), %lld prompt + %lld new", name,
                       (long long)s.cfg.layers, (long long)s.cfg.dim, (long long)s.cfg.vocab,
                       (long long)prompt, (long long)fresh),
                cols);
}

}  // namespace k1rl::bench
