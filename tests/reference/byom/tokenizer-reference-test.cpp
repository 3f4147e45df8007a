// SmolLM2's byte-level BPE against Hugging Face tokenizers/transformers: the same ids on >= 1,000
// varied strings (from the GGUF metadata and from tokenizer.json), exact decode round trips, and
// the same chat prompts as transformers' apply_chat_template. Fixture: make-tokenizer-fixture.py.
#include <gtest/gtest.h>

#include <cstdlib>

#include "lib/io/io.h"
#include "lib/json/json.h"
#include "lib/tokenizer/tokenizer.h"
#include "tests/reference/byom/byom-fixture.h"

using namespace k1rl;
using namespace k1rl::byom_test;

namespace {

std::string as_text(const std::vector<uint8_t>& b) {
  return std::string(b.begin(), b.end());
}

struct Cases {
  std::vector<std::string> texts, chat_json, chat_prompt;
  std::vector<std::vector<int32_t>> ids, chat_ids;
};

Cases load_cases(const std::string& path) {
  io::H5Reader r(path, "byom-tokenizer-fixture", 1);
  Cases c;
  for (auto& t : ragged<uint8_t>(r.root(), "text")) c.texts.push_back(as_text(t));
  for (auto& t : ragged<uint8_t>(r.root(), "chat_json")) c.chat_json.push_back(as_text(t));
  for (auto& t : ragged<uint8_t>(r.root(), "chat_prompt")) c.chat_prompt.push_back(as_text(t));
  c.ids = ragged<int32_t>(r.root(), "ids");
  c.chat_ids = ragged<int32_t>(r.root(), "chat_ids");
  return c;
}

class SmolLM2Tokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fixtures();
    if (dir_.empty() || !io::file_exists(dir_ + "/tokenizer-cases.h5"))
      GTEST_SKIP() << "no fixture (tools/fetch-test-models.sh could not fetch SmolLM2?)";
    cases_ = load_cases(dir_ + "/tokenizer-cases.h5");
    gguf_ = io::read_text(dir_ + "/gguf-path");
    while (!gguf_.empty() && gguf_.back() == '\n') gguf_.pop_back();
  }
  // Every corpus string encodes to HF's ids and decodes back to itself.
  void check_corpus(const Tokenizer& tok, const std::string& label) {
    ASSERT_GE(cases_.texts.size(), 1000u);
    size_t bad = 0;
    for (size_t k = 0; k < cases_.texts.size(); ++k) {
      auto ids = tok.encode(cases_.texts[k], /*parse_special=*/true);
      if (ids != cases_.ids[k] && ++bad <= 5)
        ADD_FAILURE() << label << ": string " << k << " '" << cases_.texts[k] << "' differs";
      EXPECT_EQ(tok.decode(ids), cases_.texts[k]) << label << " string " << k;
    }
    EXPECT_EQ(bad, 0u) << label << ": " << bad << " of " << cases_.texts.size() << " differ";
    std::printf("%s: %zu strings, %zu identical to Hugging Face tokenizers\n", label.c_str(),
                cases_.texts.size(), cases_.texts.size() - bad);
  }
  void check_chat(const Tokenizer& tok) {
    ASSERT_EQ(tok.chat_template().kind, "chatml");
    for (size_t k = 0; k < cases_.chat_json.size(); ++k) {
      Json conv = Json::parse(cases_.chat_json[k]);
      std::vector<ChatMessage> msgs;
      for (const auto& m : conv.items())
        msgs.push_back({m["role"].as_string(), m["content"].as_string()});
      EXPECT_EQ(tok.apply_chat_template(msgs), cases_.chat_prompt[k]) << "chat " << k;
      EXPECT_EQ(tok.encode_chat(msgs), cases_.chat_ids[k]) << "chat " << k;
    }
  }
  std::string dir_, gguf_;
  Cases cases_;
};

}  // namespace

TEST_F(SmolLM2Tokenizer, FromGgufMatchesHuggingFace) {
  auto tok = load_tokenizer(gguf_);
  EXPECT_EQ(tok->kind(), "bpe");
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->pad_id(), 2);
  EXPECT_EQ(tok->stop_ids(), std::vector<int32_t>{2});
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(100));
  check_corpus(*tok, "gguf");
  check_chat(*tok);
}

TEST_F(SmolLM2Tokenizer, FromTokenizerJsonMatchesHuggingFace) {
  auto tok = load_tokenizer(dir_ + "/tokenizer");
  EXPECT_EQ(tok->vocab_size(), 49152);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  check_corpus(*tok, "tokenizer.json");
  check_chat(*tok);
}

TEST_F(SmolLM2Tokenizer, GeneratedHfFilesReadBackTheSame) {
  // The tokenizer.json we generate from GGUF metadata (for export) gives the same ids again.
  auto tok = load_tokenizer(gguf_);
  auto files = tok->to_hf_files();
  ASSERT_TRUE(files.count("tokenizer.json"));
  ASSERT_TRUE(files.count("tokenizer_config.json"));
  auto again = make_bpe_tokenizer(
      bpe_spec_from_hf(files["tokenizer.json"], files["tokenizer_config.json"], "generated"));
  check_corpus(*again, "generated tokenizer.json");
  check_chat(*again);
}

TEST_F(SmolLM2Tokenizer, PreTokenizersMatchHuggingFace) {
  // gpt2, smollm, qwen2 and llama3 split every corpus string where HF tokenizers' pre-tokenizers
  // do.
  io::H5Reader r(dir_ + "/tokenizer-cases.h5", "byom-tokenizer-fixture", 1);
  for (const char* kind : {"gpt2", "smollm", "qwen2", "llama3"}) {
    auto rows = ragged<uint8_t>(r.root(), std::string("pre_") + kind);
    std::vector<std::vector<std::string>> want(1);
    for (const auto& row : rows) {
      if (row.empty())
        want.emplace_back();
      else
        want.back().push_back(as_text(row));
    }
    want.pop_back();
    ASSERT_EQ(want.size(), cases_.texts.size()) << kind;
    size_t bad = 0;
    for (size_t k = 0; k < want.size(); ++k)
      if (pretokenize(cases_.texts[k], kind) != want[k] && ++bad <= 3)
        ADD_FAILURE() << kind << ": string " << k << " '" << cases_.texts[k]
                      << "' splits differently";
    EXPECT_EQ(bad, 0u) << kind;
    std::printf("pre-tokenizer %s: %zu strings, %zu split as Hugging Face does\n", kind,
                want.size(), want.size() - bad);
  }
}
