// Tests of the byte-level tokenizer: arbitrary bytes round-trip (invalid UTF-8 included), the
// specials, the plain chat template, and the config factory.
#include <gtest/gtest.h>

#include "lib/tokenizer/tokenizer.h"

using namespace k1rl;

TEST(ByteTokenizer, RoundTripsEveryByteAndInvalidUtf8) {
  auto tok = make_byte_tokenizer();
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::vector<std::string> cases = {
      "",  "a",    "héllo wörld", "\xff\xfe\x80", "\xc3", "\xe2\x82", std::string("a\0b", 3),
      all, "<eos>"};
  Rng rng(7);
  std::vector<std::string> more = cases;
  for (int n = 0; n < 50; ++n) {
    std::string s;
    for (uint64_t k = rng.below(64); k > 0; --k) s.push_back(static_cast<char>(rng.below(256)));
    more.push_back(s);
  }
  for (const auto& s : more) {
    auto ids = tok->encode(s);
    ASSERT_EQ(ids.size(), s.size());
    for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(ids[i], static_cast<unsigned char>(s[i]));
    EXPECT_EQ(tok->decode(ids), s);
  }
}

TEST(ByteTokenizer, Specials) {
  auto tok = make_byte_tokenizer();
  EXPECT_EQ(tok->kind(), "byte");
  EXPECT_EQ(tok->vocab_size(), 259);
  EXPECT_EQ(tok->bos_id(), 256);
  EXPECT_EQ(tok->eos_id(), 257);
  EXPECT_EQ(tok->pad_id(), 258);
  EXPECT_EQ(tok->stop_ids(), std::vector<int32_t>{257});
  for (int id = 0; id < 259; ++id) EXPECT_EQ(tok->is_special(id), id >= 256) << id;
  EXPECT_EQ(tok->token_bytes(257), "<eos>");
  EXPECT_EQ(tok->token_id("<pad>"), 258);
  EXPECT_EQ(tok->token_id("A"), 65);
  EXPECT_EQ(tok->token_id("AB"), -1);
  // Spellings of specials are plain text unless asked for.
  EXPECT_EQ(tok->encode("x<eos>").size(), 6u);
  EXPECT_EQ(tok->encode("x<eos><bos", true), (std::vector<int32_t>{'x', 257, '<', 'b', 'o', 's'}));
  EXPECT_EQ(tok->decode({256, 'h', 'i', 257, 258}), "<bos>hi<eos><pad>");
  EXPECT_EQ(tok->decode({256, 'h', 'i', 257, 258}, true), "hi");
  EXPECT_THROW(tok->decode({259}), InputError);
  EXPECT_THROW(tok->decode({-1}), InputError);
  EXPECT_THROW(tok->to_hf_files(), InputError);
}

TEST(ByteTokenizer, PlainChatTemplate) {
  auto tok = make_byte_tokenizer();
  std::vector<ChatMessage> chat = {{"user", "What is 2+3?"}};
  EXPECT_EQ(tok->apply_chat_template(chat), "user: What is 2+3?\nassistant: ");
  EXPECT_EQ(tok->apply_chat_template(chat, false), "user: What is 2+3?\n");
  EXPECT_EQ(tok->decode(tok->encode_chat(chat)), "user: What is 2+3?\nassistant: ");
}

TEST(TokenizerFactory, ByteIsTheDefaultAndBpeNeedsAPath) {
  ConfigSpec spec;
  declare_tokenizer_options(spec);
  Config def(spec);
  EXPECT_EQ(make_tokenizer(def)->kind(), "byte");
  Config bpe = Config::parse(spec, "[tokenizer]\nkind = bpe\n", "test.ini", {});
  EXPECT_THROW(make_tokenizer(bpe), ConfigError);
  Config missing = Config::parse(spec, "", "test.ini",
                                 {"tokenizer.kind=bpe", "tokenizer.path=/nonexistent.gguf"});
  EXPECT_THROW(make_tokenizer(missing), Error);
}
