// k1rl's engine on SmolLM2-135M-Instruct imported from its GGUF against transformers (eager
// PyTorch, float32, the same dequantised weights): logits within 1e-3 absolute at every position
// of 10 prompts, and the same 64 tokens from greedy decoding of 3 chat prompts.
// Fixture: make-model-fixture.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "lib/convert/convert.h"
#include "lib/io/io.h"
#include "lib/model/model.h"
#include "tests/reference/byom/byom-fixture.h"

using namespace k1rl;
using namespace k1rl::byom_test;

namespace {

// The imported GGUF as an engine model, loaded once for the whole test program.
model::Model& smollm2() {
  static std::unique_ptr<model::Model> net = [] {
    std::string path = io::read_text(fixture("gguf-path"));
    while (!path.empty() && path.back() == '\n') path.pop_back();
    convert::ImportedModel m = convert::import_gguf(path);
    m.spec.max_seq = 512;  // only the KV-cache size depends on it
    auto n = std::make_unique<model::Model>(
        model::ModelConfig::from_map(m.spec.to_map(), "imported " + path));
    for (const auto& t : n->tensors()) {
      const convert::Tensor* src = m.find(t.name);
      if (!src || src->numel() != t.size)
        throw InputError(t.name, "has no match in the import", "");
      std::memcpy(n->params() + t.offset, src->data.data(), t.size * sizeof(float));
    }
    return n;
  }();
  return *net;
}

class SmolLM2Model : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!io::file_exists(fixture("model-cases.h5")))
      GTEST_SKIP() << "no fixture model-cases.h5 (no PyPI?)";
  }
};

}  // namespace

TEST_F(SmolLM2Model, LogitsMatchTransformersWithin1e3) {
  io::H5Reader r(fixture("model-cases.h5"), "byom-model-fixture", 1);
  auto prompts = ragged<int32_t>(r.root(), "prompt_ids");
  auto ref = io::read_dataset<float>(r.root(), "logits");
  ASSERT_EQ(prompts.size(), 10u);
  model::Model& net = smollm2();
  const int64_t V = net.config().vocab;
  size_t row0 = 0;
  double worst_all = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const auto& ids = prompts[p];
    const int32_t T = static_cast<int32_t>(ids.size());
    model::KvCache cache(net.config(), 1, T);
    std::vector<float> logits(static_cast<size_t>(T * V));
    int32_t q_cu[2] = {0, T}, slot = 0, start = 0;
    net.forward_cached(ids.data(), q_cu, 1, &slot, &start, cache, logits.data(), /*all_rows=*/true);
    double worst = 0;
    for (size_t i = 0; i < logits.size(); ++i)
      worst = std::max(worst, (double)std::fabs(logits[i] - ref[row0 * V + i]));
    row0 += T;
    worst_all = std::max(worst_all, worst);
    EXPECT_LE(worst, 1e-3) << "prompt " << p;
  }
  std::printf("logits: 10 prompts, %zu positions, largest |k1rl - transformers| = %.3g\n", row0,
              worst_all);
}

TEST_F(SmolLM2Model, Greedy64TokensMatchTransformers) {
  io::H5Reader r(fixture("model-cases.h5"), "byom-model-fixture", 1);
  auto chats = ragged<int32_t>(r.root(), "chat_ids");
  auto want = ragged<int32_t>(r.root(), "greedy");
  model::Model& net = smollm2();
  std::vector<model::GenRequest> reqs;
  for (size_t k = 0; k < chats.size(); ++k) {
    model::GenRequest q;
    q.id = static_cast<int64_t>(k);
    q.prompt = chats[k];
    reqs.push_back(q);
  }
  model::SamplingParams sp;
  sp.temperature = 0;
  sp.max_answer_tokens = 64;  // no stop tokens: all 64 are compared
  model::Generator gen(net, static_cast<int64_t>(reqs.size()));
  auto res = gen.generate(reqs, sp);
  ASSERT_EQ(res.size(), want.size());
  for (size_t k = 0; k < res.size(); ++k) {
    ASSERT_EQ(want[k].size(), 64u);
    EXPECT_EQ(res[k].tokens, want[k]) << "chat " << k;
  }
}
