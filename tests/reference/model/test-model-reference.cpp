// lib/model against PyTorch (tests/reference/model/model_reference.py): the same weights give the
// same logits, per-token log-probs and entropies, loss, every parameter gradient, and parameters
// after one clipped AdamW step, each within a relative error of 1e-4 in float32 (largest
// difference over the largest reference value, per tensor; each is printed).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "lib/io/io.h"
#include "lib/model/model.h"

namespace k1rl::test {
namespace {

constexpr double kTol = 1e-4;

double rel_err(const float* a, const float* b, size_t n) {
  double md = 0, mb = 1e-30;
  for (size_t i = 0; i < n; ++i) {
    md = std::max(md, std::fabs(double(a[i]) - b[i]));
    mb = std::max(mb, std::fabs(double(b[i])));
  }
  return md / mb;
}

void expect_close(const std::string& what, const float* ours, const std::vector<float>& ref) {
  const double e = rel_err(ours, ref.data(), ref.size());
  std::printf("  %-58s rel. err %.2e\n", what.c_str(), e);
  EXPECT_LT(e, kTol) << what;
}

class Reference : public ::testing::TestWithParam<std::string> {};

TEST_P(Reference, MatchesPyTorch) {
  io::H5Reader file(K1RL_MODEL_FIXTURE, "reference", 1);
  io::Hid g(H5Gopen2(file.root(), GetParam().c_str(), H5P_DEFAULT));
  ASSERT_TRUE(g.valid()) << GetParam();
  std::map<std::string, std::string> kv;
  for (const auto& [k, v] : io::get_string_attrs(g))
    if (k.rfind("model.", 0) == 0) kv[k.substr(6)] = v;
  const model::ModelConfig cfg = model::ModelConfig::from_map(kv, GetParam());
  model::Model m(cfg);
  for (const auto& t : m.tensors())
    io::read_dataset_into<float>(g, "params/" + t.name, m.params() + t.offset, t.size);

  model::Batch batch;
  batch.tokens = io::read_dataset<int32_t>(g, "tokens");
  batch.cu = io::read_dataset<int32_t>(g, "cu");
  batch.mask = io::read_dataset<uint8_t>(g, "mask");
  const auto wlp = io::read_dataset<float>(g, "wlp"), went = io::read_dataset<float>(g, "went");
  const auto valid = io::read_dataset<uint8_t>(g, "valid");
  const int64_t N = batch.size();

  // Forward: logits at every position, then the per-token outputs at the masked tokens.
  model::ForwardOptions opt;
  opt.all_logits = true;
  const model::TokenOutputs& out = m.forward(batch, opt);
  ASSERT_EQ(static_cast<int64_t>(m.logit_positions().size()), N);
  for (int64_t r = 0; r < N; ++r) ASSERT_EQ(m.logit_positions()[r], r);
  std::printf("%s (%lld parameters)\n", GetParam().c_str(), (long long)m.num_params());
  expect_close("logits", m.logits(), io::read_dataset<float>(g, "logits"));
  for (int64_t i = 0; i < N; ++i) ASSERT_EQ(out.valid[i], valid[i]) << "token " << i;
  expect_close("logprob", out.logprob.data(), io::read_dataset<float>(g, "logprob"));
  expect_close("entropy", out.entropy.data(), io::read_dataset<float>(g, "entropy"));
  double loss = 0, nll = 0;
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i)
    if (out.valid[i])
      loss += double(wlp[i]) * out.logprob[i] + double(went[i]) * out.entropy[i],
          nll -= out.logprob[i], ++count;
  const float loss_f = static_cast<float>(loss), nll_f = static_cast<float>(nll / count);
  expect_close("loss = sum(wlp*logprob + went*entropy)", &loss_f,
               io::read_dataset<float>(g, "loss"));
  expect_close("cross-entropy (mean NLL)", &nll_f, io::read_dataset<float>(g, "nll_mean"));

  // Backward from the per-token weights, into zeroed gradients.
  m.zero_grads();
  m.backward(wlp.data(), went.data());
  for (const auto& t : m.tensors())
    expect_close("grad " + t.name, m.grads() + t.offset,
                 io::read_dataset<float>(g, "grads/" + t.name));

  // The SFT entry point gives the same mean NLL.
  {
    model::Model m2(cfg);
    std::copy(m.params(), m.params() + m.num_params(), m2.params());
    auto ce = m2.cross_entropy_step(batch, 1.f);
    const float mean = static_cast<float>(ce.nll_sum / ce.tokens);
    expect_close("cross_entropy_step mean NLL", &mean, io::read_dataset<float>(g, "nll_mean"));
  }

  // One AdamW step with the same clipping threshold; decay on matrices only.
  optim::OptimConfig oc;
  oc.lr = io::get_attr_double(g, "adamw_lr");
  oc.beta1 = io::get_attr_double(g, "adamw_beta1");
  oc.beta2 = io::get_attr_double(g, "adamw_beta2");
  oc.eps = io::get_attr_double(g, "adamw_eps");
  oc.weight_decay = io::get_attr_double(g, "adamw_weight_decay");
  oc.grad_clip = io::get_attr_double(g, "grad_clip");
  oc.schedule = "constant";
  optim::AdamW adam(oc, m.num_params(), m.param_ranges());
  auto st = adam.step(m.params(), m.grads());
  EXPECT_LT(st.clip_scale, 1.0);  // the reference clips; so must we
  for (const auto& t : m.tensors())
    expect_close("after AdamW " + t.name, m.params() + t.offset,
                 io::read_dataset<float>(g, "after/" + t.name));
}

INSTANTIATE_TEST_SUITE_P(Cases, Reference, ::testing::Values("gqa_bias_untied", "mha_tied"));

}  // namespace
}  // namespace k1rl::test
