// Whole-model gradient check: every parameter's analytic gradient against central finite
// differences of L = Σ_i a_i·logprob_i + b_i·entropy_i (random per-token weights, a loss mask,
// packed sequences of different lengths), for tied/untied heads, with/without QKV bias, and at a
// sampling temperature (log-probs of softmax(z/T)), and with recomputation.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/unit/model/model-test-util.h"

namespace k1rl::test {
namespace {

struct GradCase {
  bool qkv_bias, tied, entropy, masked;
  double temperature = 1.0;  // the RL trainer's sampling temperature (ForwardOptions)
  bool recompute = false;    // Model::set_recompute
};
void PrintTo(const GradCase& c, std::ostream* os) {
  *os << (c.qkv_bias ? "bias" : "nobias") << (c.tied ? "_tied" : "_untied")
      << (c.entropy ? "_entropy" : "") << (c.masked ? "_masked" : "")
      << (c.temperature != 1.0 ? "_tempered" : "") << (c.recompute ? "_recompute" : "");
}

class ModelGrad : public ::testing::TestWithParam<GradCase> {};

TEST_P(ModelGrad, FiniteDifferencesOnEveryParameter) {
  const GradCase gc = GetParam();
  model::Model m(tiny_config(gc.qkv_bias, gc.tied));
  randomize(m, 7);
  m.set_recompute(gc.recompute);
  model::Batch batch =
      make_batch({random_tokens(6, 11, 1), random_tokens(3, 11, 2), random_tokens(9, 11, 3)});
  const int64_t N = batch.size();
  if (gc.masked) {
    batch.mask.assign(N, 0);
    for (int64_t i = 0; i < N; i += 2) batch.mask[i] = 1;  // includes some first tokens: ignored
  }
  std::mt19937 gen(11);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> a(N), b(N);
  for (int64_t i = 0; i < N; ++i) a[i] = d(gen), b[i] = gc.entropy ? d(gen) : 0.f;
  model::ForwardOptions fo;
  fo.temperature = gc.temperature;
  auto loss = [&] {
    const auto& out = m.forward(batch, fo);
    double s = 0;
    for (int64_t i = 0; i < N; ++i)
      if (out.valid[i]) s += double(a[i]) * out.logprob[i] + double(b[i]) * out.entropy[i];
    return s;
  };
  loss();
  m.zero_grads();
  m.backward(a.data(), gc.entropy ? b.data() : nullptr);
  std::vector<float> g(m.grads(), m.grads() + m.num_params());
  const float eps = 3e-3f;
  for (const auto& t : m.tensors()) {
    double gmax = 1e-4, worst = 0;
    for (int64_t i = 0; i < t.size; ++i) gmax = std::max(gmax, std::fabs(double(g[t.offset + i])));
    for (int64_t i = 0; i < t.size; ++i) {
      float* p = m.params() + t.offset + i;
      const float p0 = *p;
      *p = p0 + eps;
      const double lp = loss();
      *p = p0 - eps;
      const double lm = loss();
      *p = p0;
      const double num = (lp - lm) / (2 * eps);
      worst = std::max(worst, std::fabs(num - g[t.offset + i]) / gmax);
    }
    EXPECT_LT(worst, 1e-2) << t.name << " (max |grad| " << gmax << ")";
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, ModelGrad,
                         ::testing::Values(GradCase{true, false, true, false},
                                           GradCase{false, true, false, false},
                                           GradCase{true, true, true, true},
                                           GradCase{false, false, false, true},
                                           GradCase{true, false, true, true, 0.7},
                                           GradCase{false, true, true, true, 0.7, true}));

}  // namespace
}  // namespace k1rl::test
