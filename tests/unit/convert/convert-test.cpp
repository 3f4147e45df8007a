// Unit tests of lib/convert without downloads: dequantisation of hand-made GGUF blocks, the RoPE
// row permutation and its inverse, safetensors round trips, config.json mapping and refusals, and
// the checkpoint round trip through lib/model. (The real model: tests/reference/byom.)
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstring>

#include "lib/convert/convert.h"
#include "lib/io/io.h"

using namespace k1rl;
using namespace k1rl::convert;

namespace {

void put16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}
constexpr uint16_t kHalfTwo = 0x4000, kHalfHalf = 0x3800, kHalfMinusOne = 0xBC00;

std::string tmp_dir(const char* name) {
  std::string d = strfmt("/tmp/k1rl-convert-test-%d-%s", static_cast<int>(getpid()), name);
  io::make_dirs(d);
  return d;
}

ModelSpec tiny_spec() {
  ModelSpec s;
  s.vocab = 259;
  s.dim = 16;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.ffn_dim = 32;
  s.max_seq = 64;
  s.tie_embeddings = true;
  return s;
}

ImportedModel tiny_model() {
  ImportedModel m;
  m.spec = tiny_spec();
  Rng rng(9);
  for (const auto& [name, shape] : expected_tensors(m.spec)) {
    Tensor t{name, shape, {}};
    t.data.resize(t.numel());
    for (auto& x : t.data) x = static_cast<float>(rng.normal());
    m.tensors.push_back(std::move(t));
  }
  m.tokenizer = make_byte_tokenizer();
  m.source = "test";
  return m;
}

}  // namespace

TEST(Dequantize, HandMadeBlocks) {
  uint8_t q8[34];
  put16(q8, kHalfHalf);
  for (int j = 0; j < 32; ++j) q8[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  float out[32];
  dequantize(static_cast<uint32_t>(GgmlType::Q8_0), q8, 32, out);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.5f * (j - 16));

  uint8_t q40[18];
  put16(q40, kHalfTwo);
  for (int j = 0; j < 16; ++j) q40[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  dequantize(static_cast<uint32_t>(GgmlType::Q4_0), q40, 32, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 2.0f * (j - 8));
    EXPECT_EQ(out[j + 16], 2.0f * (15 - j - 8));
  }

  uint8_t q41[20];
  put16(q41, kHalfHalf);
  put16(q41 + 2, kHalfMinusOne);
  for (int j = 0; j < 16; ++j) q41[4 + j] = static_cast<uint8_t>(j | (3 << 4));
  dequantize(static_cast<uint32_t>(GgmlType::Q4_1), q41, 32, out);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * j - 1.0f);
    EXPECT_EQ(out[j + 16], 0.5f);
  }

  uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7C00};  // 1, -2, smallest subnormal, inf
  dequantize(static_cast<uint32_t>(GgmlType::F16), reinterpret_cast<uint8_t*>(h), 4, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], 5.9604644775390625e-08f);
  EXPECT_TRUE(std::isinf(out[3]));
  uint16_t b[2] = {0x3F80, 0xC040};  // bf16 1, -3
  dequantize(static_cast<uint32_t>(GgmlType::BF16), reinterpret_cast<uint8_t*>(b), 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.0f);

  EXPECT_THROW(dequantize(12, q8, 32, out), InputError);  // Q4_K
  EXPECT_THROW(dequantize(static_cast<uint32_t>(GgmlType::Q8_0), q8, 31, out), InputError);
  EXPECT_STREQ(ggml_type_name(12), "Q4_K");
}

TEST(RopePermutation, UndoesLlamaCppOrder) {
  // One head of size 8, one column: llama.cpp row 2j+i holds HF row i*4+j.
  std::vector<float> hf = {0, 1, 2, 3, 4, 5, 6, 7}, w = hf;
  permute_rope_rows(w.data(), 1, 8, 1);
  EXPECT_EQ(w, (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
  unpermute_rope_rows(w.data(), 1, 8, 1);
  EXPECT_EQ(w, hf);
  std::vector<float> big(3 * 16 * 5);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i);
  auto copy = big;
  permute_rope_rows(big.data(), 3, 16, 5);
  EXPECT_NE(big, copy);
  unpermute_rope_rows(big.data(), 3, 16, 5);
  EXPECT_EQ(big, copy);
}

TEST(GgufNames, MapToHuggingFace) {
  EXPECT_EQ(gguf_to_hf_name("blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.0.ffn_down.weight"), "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(gguf_to_hf_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(gguf_to_hf_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(gguf_to_hf_name("blk.0.attn_q_norm.weight"), "?");
}

TEST(Safetensors, RoundTripF32AndBf16) {
  std::string dir = tmp_dir("st");
  Tensor a{"a", {2, 3}, {1, -2, 3.5f, 1e-3f, 0, 65504}}, b{"b.c", {4}, {0.1f, 0.2f, 0.3f, -7}};
  write_safetensors(dir + "/x.safetensors", {&a, &b});
  auto back = read_safetensors(dir + "/x.safetensors");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].name, "a");
  EXPECT_EQ(back[0].shape, a.shape);
  EXPECT_EQ(back[0].data, a.data);
  EXPECT_EQ(back[1].data, b.data);
  write_safetensors(dir + "/y.safetensors", {&a, &b}, "BF16");
  back = read_safetensors(dir + "/y.safetensors");
  for (size_t i = 0; i < b.data.size(); ++i)
    EXPECT_NEAR(back[1].data[i], b.data[i], std::fabs(b.data[i]) / 128);
  EXPECT_EQ(back[0].data[0], 1.0f);
  EXPECT_THROW(read_safetensors(dir + "/missing.safetensors"), IoError);
  EXPECT_THROW(write_safetensors(dir + "/z.safetensors", {&a}, "F64"), ConfigError);
}

TEST(HfConfig, MapsAndRefuses) {
  ModelSpec s = tiny_spec();
  Json j = hf_config_from_spec(s, nullptr);
  EXPECT_EQ(j["architectures"].at(0).as_string(), "LlamaForCausalLM");
  EXPECT_EQ(spec_from_hf_config(j, "c").to_map(), s.to_map());
  s.qkv_bias = true;
  Json q = hf_config_from_spec(s, nullptr);
  EXPECT_EQ(q["model_type"].as_string(), "qwen2");
  EXPECT_TRUE(spec_from_hf_config(q, "c").qkv_bias);
  Json bad = j;
  bad.set("model_type", "gemma");
  EXPECT_THROW(spec_from_hf_config(bad, "c"), ConfigError);
  bad = j;
  bad.set("rope_scaling", Json::parse(R"({"type": "linear", "factor": 2.0})"));
  EXPECT_THROW(spec_from_hf_config(bad, "c"), ConfigError);
  bad = j;
  bad.set("attention_bias", true);
  EXPECT_THROW(spec_from_hf_config(bad, "c"), ConfigError);
}

TEST(CheckTensors, NamesWhatIsMissingOrExtra) {
  ImportedModel m = tiny_model();
  auto t = m.tensors;
  t.erase(t.begin() + 3);
  try {
    check_tensors(m.spec, t, "x");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(e.line().find(m.tensors[3].name), std::string::npos) << e.line();
  }
  t = m.tensors;
  t.push_back({"model.layers.0.self_attn.q_norm.weight", {4}, {1, 1, 1, 1}});
  EXPECT_THROW(check_tensors(m.spec, t, "x"), InputError);
  t = m.tensors;
  t[0].shape = {258, 16};
  EXPECT_THROW(check_tensors(m.spec, t, "x"), InputError);
}

TEST(Checkpoint, RoundTripThroughTheEngineWithItsTokenizer) {
  std::string dir = tmp_dir("ck");
  ImportedModel m = tiny_model();
  write_checkpoint(m, dir + "/m.h5");
  EXPECT_EQ(io::read_format(dir + "/m.h5"), "checkpoint/1");
  ImportedModel back = read_checkpoint(dir + "/m.h5");
  EXPECT_EQ(back.spec.to_map(), m.spec.to_map());
  ASSERT_EQ(back.tensors.size(), m.tensors.size());
  for (size_t k = 0; k < m.tensors.size(); ++k) EXPECT_EQ(back.tensors[k].data, m.tensors[k].data);
  EXPECT_EQ(back.tokenizer->kind(), "byte");
  EXPECT_EQ(load_tokenizer(dir + "/m.h5")->kind(), "byte");
  export_hf_folder(m, dir + "/hf");
  ImportedModel hf = import_hf_folder(dir + "/hf");  // no tokenizer.json: byte tokenizer
  EXPECT_EQ(hf.spec.to_map(), m.spec.to_map());
  EXPECT_EQ(hf.tokenizer->kind(), "byte");
}
