// The GGUF importer against transformers' own GGUF loader on a tiny llama written by gguf-py with
// every supported tensor type (F32, F16, BF16, Q8_0, Q4_0, Q4_1): same names, same values after
// the reverse q/k permutation. Unsupported type, architecture and a missing tensor are refused
// with messages naming them. Then the Hugging Face folder round trip (F32 exact, BF16 rounded).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "lib/convert/convert.h"
#include "lib/io/io.h"

using namespace k1rl;

namespace {

std::string fixture(const std::string& name) {
  const char* d = std::getenv("K1RL_BYOM_FIXTURES");
  return d ? std::string(d) + "/" + name : "";
}

#define NEED_FIXTURE(path)                    \
  if (path.empty() || !io::file_exists(path)) \
    GTEST_SKIP() << "no fixture " << path << " (no PyPI?)";

std::string error_line(const std::string& path) {
  try {
    convert::import_gguf(path);
  } catch (const Error& e) {
    return e.line();
  }
  return "(no error)";
}

}  // namespace

// Every tensor of the import equals what transformers' GGUF loader made of the file.
void expect_like_transformers(const convert::ImportedModel& m, const std::string& want) {
  io::H5Reader r(want, "byom-tiny-fixture", 1);
  auto names = io::list_links(r.root());
  EXPECT_EQ(names.size(), m.tensors.size());
  for (const auto& name : names) {
    const convert::Tensor* t = m.find(name);
    ASSERT_NE(t, nullptr) << name;
    auto ref = io::read_dataset<float>(r.root(), name);
    ASSERT_EQ(ref.size(), t->data.size()) << name;
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i)
      worst = std::max(worst, (double)std::fabs(ref[i] - t->data[i]));
    EXPECT_EQ(worst, 0.0) << name;
  }
}

TEST(GgufImport, MatchesTransformersGgufLoaderForEveryType) {
  const std::string gguf = fixture("tiny-llama.gguf"), want = fixture("tiny-llama-expected.h5");
  NEED_FIXTURE(want);
  convert::ImportedModel m = convert::import_gguf(gguf);
  EXPECT_EQ(m.spec.layers, 2);
  EXPECT_EQ(m.spec.dim, 64);
  EXPECT_EQ(m.spec.heads, 4);
  EXPECT_EQ(m.spec.kv_heads, 2);
  EXPECT_EQ(m.spec.ffn_dim, 128);
  EXPECT_FALSE(m.spec.tie_embeddings);
  EXPECT_FALSE(m.spec.qkv_bias);
  EXPECT_EQ(m.tokenizer->kind(), "bpe");
  expect_like_transformers(m, want);
}

TEST(GgufImport, Qwen2WithBiasesMatchesTransformers) {
  const std::string gguf = fixture("tiny-qwen2.gguf"), want = fixture("tiny-qwen2-expected.h5");
  NEED_FIXTURE(want);
  convert::ImportedModel m = convert::import_gguf(gguf);
  EXPECT_EQ(m.spec.arch, "qwen2");
  EXPECT_TRUE(m.spec.qkv_bias);
  expect_like_transformers(m, want);
  // The Qwen2 pre-tokenizer: a letter run may carry one leading symbol; digits stand alone.
  EXPECT_EQ(m.tokenizer->decode(m.tokenizer->encode(".abc 123")), ".abc 123");
  EXPECT_EQ(pretokenize(".abc 123", "qwen2"),
            (std::vector<std::string>{".abc", " ", "1", "2", "3"}));
  Json cfg = convert::hf_config_from_spec(m.spec, m.tokenizer.get());
  EXPECT_EQ(cfg["architectures"].at(0).as_string(), "Qwen2ForCausalLM");
}

TEST(GgufImport, RefusesNamingWhatIsUnsupported) {
  NEED_FIXTURE(fixture("tiny-q5_0.gguf"));
  std::string e = error_line(fixture("tiny-q5_0.gguf"));
  EXPECT_NE(e.find("Q5_0"), std::string::npos) << e;
  EXPECT_NE(e.find("blk.0.ffn_up.weight"), std::string::npos) << e;
  e = error_line(fixture("tiny-gemma.gguf"));
  EXPECT_NE(e.find("gemma"), std::string::npos) << e;
  e = error_line(fixture("tiny-missing.gguf"));
  EXPECT_NE(e.find("model.layers.1.mlp.down_proj.weight"), std::string::npos) << e;
}

TEST(GgufImport, HfFolderRoundTrip) {
  NEED_FIXTURE(fixture("tiny-llama.gguf"));
  convert::ImportedModel m = convert::import_gguf(fixture("tiny-llama.gguf"));
  const std::string dir = fixture("tiny-roundtrip-hf"), dir16 = fixture("tiny-roundtrip-bf16");
  convert::export_hf_folder(m, dir);
  convert::export_hf_folder(m, dir16, "BF16");
  convert::ImportedModel a = convert::import_hf_folder(dir), b = convert::import_hf_folder(dir16);
  EXPECT_EQ(a.spec.to_map(), m.spec.to_map());
  EXPECT_EQ(b.spec.to_map(), m.spec.to_map());
  ASSERT_EQ(a.tensors.size(), m.tensors.size());
  for (size_t k = 0; k < m.tensors.size(); ++k) {
    EXPECT_EQ(a.tensors[k].name, m.tensors[k].name);
    EXPECT_EQ(a.tensors[k].data, m.tensors[k].data) << m.tensors[k].name;
    for (size_t i = 0; i < m.tensors[k].data.size(); ++i) {
      float x = m.tensors[k].data[i];
      ASSERT_NEAR(b.tensors[k].data[i], x, std::fabs(x) / 256 + 1e-30) << m.tensors[k].name;
    }
  }
  for (const char* s : {"the 123 there", "<|im_start|>user\nhi<|im_end|>"})
    EXPECT_EQ(a.tokenizer->encode(s, true), m.tokenizer->encode(s, true)) << s;
  EXPECT_EQ(a.tokenizer->eos_id(), m.tokenizer->eos_id());
}
