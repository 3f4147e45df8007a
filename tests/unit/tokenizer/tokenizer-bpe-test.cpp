// Unit tests of the byte-level BPE on a hand-made vocabulary (merge order, specials, the GPT-2 and
// SmolLM pre-tokenizers, invalid UTF-8) and of the Unicode classes (JSON: tests/unit/json).
// The full SmolLM2 comparison with Hugging Face is in tests/reference/byom.
#include <gtest/gtest.h>

#include "lib/json/json.h"
#include "lib/tokenizer/tokenizer.h"

using namespace k1rl;

namespace {

std::string byte_char(int b) {
  auto printable = [](int x) {
    return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
  };
  int cp = b;
  if (!printable(b)) {
    cp = 256;
    for (int x = 0; x < b; ++x) cp += !printable(x);
  }
  std::string s;
  utf8_append(s, static_cast<uint32_t>(cp));
  return s;
}

// 256 byte tokens, then merges "Ġ t" -> "Ġt", "h e", "Ġt he", "1 2", "a a"; specials at the end.
BpeSpec tiny_spec(const std::string& pre) {
  BpeSpec s;
  for (int b = 0; b < 256; ++b) s.tokens.push_back(byte_char(b));
  const std::string sp = byte_char(' ');
  s.merges = {{sp, "t"}, {"h", "e"}, {sp + "t", "he"}, {"1", "2"}, {"a", "a"}};
  for (const auto& [a, b] : s.merges) s.tokens.push_back(a + b);
  s.tokens.push_back("<|im_start|>");
  s.tokens.push_back("<|im_end|>");
  s.types.assign(s.tokens.size(), 1);
  s.types[s.tokens.size() - 2] = s.types[s.tokens.size() - 1] = 3;
  s.eos = static_cast<int32_t>(s.tokens.size()) - 1;
  s.pre = pre;
  s.chat.kind = "chatml";
  return s;
}

}  // namespace

TEST(Bpe, MergesByRank) {
  auto tok = make_bpe_tokenizer(tiny_spec("gpt2"));
  int32_t sp_t = 256, he = 257, sp_the = 258, aa = 260;
  EXPECT_EQ(tok->encode(" the"), (std::vector<int32_t>{sp_the}));
  EXPECT_EQ(tok->encode("the"), (std::vector<int32_t>{'t', he}));
  EXPECT_EQ(tok->encode(" tx"), (std::vector<int32_t>{sp_t, 'x'}));
  EXPECT_EQ(tok->encode("aaa"), (std::vector<int32_t>{aa, 'a'}));
  EXPECT_EQ(tok->encode("aaaa"), (std::vector<int32_t>{aa, aa}));
  EXPECT_EQ(tok->decode({sp_the, 'x'}), " thex");
}

TEST(Bpe, SpecialsOnlyWhenAsked) {
  auto tok = make_bpe_tokenizer(tiny_spec("gpt2"));
  int32_t start = 261, end = 262;
  auto plain = tok->encode("<|im_end|>");
  EXPECT_EQ(plain.size(), 10u);
  EXPECT_EQ(tok->encode("x<|im_end|>", true), (std::vector<int32_t>{'x', end}));
  EXPECT_TRUE(tok->is_special(end));
  EXPECT_EQ(tok->decode({start, 'x', end}), "<|im_start|>x<|im_end|>");
  EXPECT_EQ(tok->decode({start, 'x', end}, true), "x");
  EXPECT_EQ(tok->stop_ids(), std::vector<int32_t>{end});
  EXPECT_EQ(tok->apply_chat_template({{"user", "hi"}}),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_THROW(tok->decode({263}), InputError);
}

TEST(Bpe, Gpt2AndSmollmPreTokenizers) {
  auto gpt2 = make_bpe_tokenizer(tiny_spec("gpt2"));
  auto smol = make_bpe_tokenizer(tiny_spec("smollm"));
  int32_t one_two = 259;
  EXPECT_EQ(gpt2->encode("12"), (std::vector<int32_t>{one_two}));
  EXPECT_EQ(smol->encode("12"), (std::vector<int32_t>{'1', '2'}));
  // "\s+(?!\S)": of three spaces before a word, the last joins the word (" t" merges).
  EXPECT_EQ(gpt2->encode("   t"), (std::vector<int32_t>{' ', ' ', 256}));
  // Pieces never merge across pre-token boundaries: "e" and "h" of "e'h" stay apart from "he".
  EXPECT_EQ(gpt2->encode("h'e"), (std::vector<int32_t>{'h', '\'', 'e'}));
}

TEST(Bpe, ArbitraryBytesRoundTrip) {
  auto tok = make_bpe_tokenizer(tiny_spec("smollm"));
  Rng rng(3);
  for (int n = 0; n < 200; ++n) {
    std::string s;
    for (uint64_t k = rng.below(40); k > 0; --k) s.push_back(static_cast<char>(rng.below(256)));
    EXPECT_EQ(tok->decode(tok->encode(s)), s);
    EXPECT_EQ(tok->decode(tok->encode(s, true)), s);
  }
}

TEST(Bpe, RefusesBadSpecs) {
  BpeSpec s = tiny_spec("gpt2");
  s.pre = "llama-bpe";
  EXPECT_THROW(make_bpe_tokenizer(s), ConfigError);
  s = tiny_spec("gpt2");
  s.merges.push_back({"q", "zz"});
  EXPECT_THROW(make_bpe_tokenizer(s), InputError);
  EXPECT_THROW(bpe_spec_from_hf(R"({"model": {"type": "Unigram"}})", "", "t.json"), ConfigError);
  EXPECT_THROW(bpe_spec_from_hf(R"({"model": {"type": "BPE", "byte_fallback": true}})", "", "t"),
               ConfigError);
}

TEST(Bpe, HfJsonRoundTrip) {
  for (const char* pre : {"gpt2", "smollm", "qwen2", "llama3"}) {
    auto tok = make_bpe_tokenizer(tiny_spec(pre));
    auto files = tok->to_hf_files();
    BpeSpec spec =
        bpe_spec_from_hf(files.at("tokenizer.json"), files.at("tokenizer_config.json"), "gen");
    EXPECT_EQ(spec.pre, pre);
    auto again = make_bpe_tokenizer(spec);
    EXPECT_EQ(again->vocab_size(), tok->vocab_size());
    EXPECT_EQ(again->eos_id(), tok->eos_id());
    EXPECT_EQ(again->chat_template().kind, "chatml");
    for (const char* s : {"12 the aaa", "<|im_start|>user\n x<|im_end|>", "héllo\n\n  wörld"})
      EXPECT_EQ(again->encode(s, true), tok->encode(s, true)) << s;
  }
}

TEST(Bpe, Qwen2AndLlama3PreTokenizers) {
  EXPECT_EQ(pretokenize("Hello.World 12345", "qwen2"),
            (std::vector<std::string>{"Hello", ".World", " ", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(pretokenize("Hello.World 12345", "llama3"),
            (std::vector<std::string>{"Hello", ".World", " ", "123", "45"}));
  EXPECT_EQ(pretokenize("I'LL go!\n\n  x", "qwen2"),
            (std::vector<std::string>{"I", "'LL", " go", "!\n\n", " ", " x"}));
  EXPECT_THROW(pretokenize("x", "bert"), ConfigError);
}

TEST(ChatTemplate, RecognisesChatmlAndItsDefaultSystemPrompt) {
  ChatTemplate c = chat_template_from_jinja(
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
      "'<|im_start|>system\nYou are helpful.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
      "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}");
  EXPECT_EQ(c.kind, "chatml");
  EXPECT_EQ(c.default_system, "You are helpful.");
  EXPECT_EQ(chat_template_from_jinja("{{ bos_token }}{{ m }}").kind, "plain");
}

TEST(Unicode, ClassesAndUtf8) {
  EXPECT_TRUE(unicode_is_letter(U'é'));
  EXPECT_TRUE(unicode_is_letter(0x4E2D));    // 中
  EXPECT_FALSE(unicode_is_letter(0x1F600));  // 😀
  EXPECT_TRUE(unicode_is_number(0x0663));    // Arabic-Indic 3
  EXPECT_TRUE(unicode_is_number(0x00BD));    // ½
  EXPECT_TRUE(unicode_is_whitespace(0x3000));
  EXPECT_TRUE(unicode_is_whitespace(0x85));
  EXPECT_FALSE(unicode_is_whitespace(0x200B));  // zero width space is Cf
  std::string s =
      "\xf0\x9f\x98\x80\xff"
      "a";
  size_t i = 0;
  EXPECT_EQ(utf8_next(s, i), 0x1F600u);
  EXPECT_EQ(utf8_next(s, i), 0xFFFDu);
  EXPECT_EQ(utf8_next(s, i), static_cast<uint32_t>('a'));
  EXPECT_EQ(i, s.size());
}
