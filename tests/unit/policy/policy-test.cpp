// Task instructions: raw models keep the bare prompt unless asked; chat models get the kind's
// template as the user turn and the text after {answer} opening the answer; overrides, escapes
// and a template without {prompt} are handled as documented (docs/prompts.md).
#include <gtest/gtest.h>

#include "lib/app/app.h"
#include "lib/policy/policy.h"

using namespace k1rl;

namespace {
Config config(std::vector<std::string> args) {
  ConfigSpec spec;
  declare_all_options(spec);
  return Config::parse(spec, "", "test", args);
}

Task task(const std::string& kind, const std::string& prompt) {
  Task t;
  t.task = kind;
  t.prompt = prompt;
  return t;
}

// GPT-2's byte-to-unicode alphabet: the vocabulary string of byte b.
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

// A ChatML byte-level BPE (256 bytes, <|im_start|>, <|im_end|>) with a default system prompt.
std::unique_ptr<Tokenizer> chat_tokenizer() {
  BpeSpec s;
  for (int b = 0; b < 256; ++b) s.tokens.push_back(byte_char(b));
  s.tokens.push_back("<|im_start|>");
  s.tokens.push_back("<|im_end|>");
  s.types.assign(s.tokens.size(), 1);
  s.types[256] = s.types[257] = 3;
  s.eos = 257;
  s.chat.kind = "chatml";
  s.chat.default_system = "You are helpful.";
  return make_bpe_tokenizer(s);
}
}  // namespace

TEST(Policy, RawModelsKeepTheBarePrompt) {
  auto tok = make_byte_tokenizer();
  Config cfg = config({});
  policy::PromptFormat f = policy::prompt_format(cfg, *tok);
  EXPECT_EQ(f.style, policy::PromptStyle::raw);
  EXPECT_FALSE(f.instructions);
  Task t = task("addition", "12+7=");
  std::vector<int32_t> want = {tok->bos_id()};
  for (char c : std::string("12+7=")) want.push_back(static_cast<unsigned char>(c));
  EXPECT_EQ(policy::prompt_tokens(*tok, t, f), want);
  EXPECT_EQ(policy::answer_text(*tok, t, tok->encode("19"), f), "19");
  int32_t plen = 0;
  std::vector<int32_t> sft = policy::sft_tokens(*tok, t, "19", f, &plen);
  EXPECT_EQ(plen, static_cast<int32_t>(want.size()));
  EXPECT_EQ(sft.back(), tok->eos_id());
}

TEST(Policy, RawModelsTakeInstructionsWhenAsked) {
  auto tok = make_byte_tokenizer();
  Config cfg = config({"--policy.instructions=on", "--policy.template_addition=Sum {prompt}\\nok"});
  policy::PromptFormat f = policy::prompt_format(cfg, *tok);
  Task t = task("addition", "1+2=");
  EXPECT_EQ(f.instruction(t), "Sum 1+2=\nok");
  EXPECT_EQ(tok->decode(policy::prompt_tokens(*tok, t, f), true), "Sum 1+2=\nok");
  // A kind without its own template uses the default one.
  EXPECT_EQ(f.instruction(task("word", "How many?")),
            "How many?\nGive the final answer on its own line as `Answer: <answer>`.");
}

TEST(Policy, ChatModelsGetTheTemplateAsTheUserTurn) {
  auto tok = chat_tokenizer();
  Config cfg = config({});
  policy::PromptFormat f = policy::prompt_format(cfg, *tok);
  EXPECT_EQ(f.style, policy::PromptStyle::chat);
  EXPECT_TRUE(f.instructions);
  Task t = task("addition", "3+2=");
  EXPECT_EQ(policy::prompt_text(*tok, t, f),
            "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nWhat is 3+2=? Reply "
            "with the number only.<|im_end|>\n<|im_start|>assistant\nAnswer:");
  EXPECT_EQ(f.answer_prefix(t), "Answer:");
  // The answer as scored starts with the prefix the prompt ended with.
  EXPECT_EQ(policy::answer_text(*tok, t, tok->encode(" 5"), f), "Answer: 5");
  int32_t plen = 0;
  std::vector<int32_t> sft = policy::sft_tokens(*tok, t, " 5", f, &plen);
  EXPECT_EQ(std::vector<int32_t>(sft.begin(), sft.begin() + plen),
            policy::prompt_tokens(*tok, t, f));
  EXPECT_EQ(sft.back(), tok->token_id("<|im_end|>"));
  // Code prompts already say how to answer: no template text, no prefix.
  Task c = task("code", "Write a program.");
  EXPECT_EQ(f.instruction(c), "Write a program.");
  EXPECT_EQ(f.answer_prefix(c), "");
}

TEST(Policy, OverridesSystemTurnAndOff) {
  auto tok = chat_tokenizer();
  Task t = task("linear", "Solve for x: x + 1 = 3");
  Config cfg =
      config({"--policy.system=Be brief.", "--policy.template_linear={prompt}?{answer}x="});
  policy::PromptFormat f = policy::prompt_format(cfg, *tok);
  EXPECT_EQ(policy::prompt_text(*tok, t, f),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSolve for x: x + 1 = "
            "3?<|im_end|>\n<|im_start|>assistant\nx=");
  Config off = config({"--policy.instructions=off"});
  policy::PromptFormat g = policy::prompt_format(off, *tok);
  EXPECT_EQ(g.instruction(t), t.prompt);
  EXPECT_EQ(g.answer_prefix(t), "");
}

TEST(Policy, TemplateWithoutPromptIsAConfigError) {
  // Refused where the key is declared, when the config is read, naming the key.
  try {
    config({"--policy.template_addition=Add."});
    ADD_FAILURE() << "a template without {prompt} was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(e.line().find("for policy.template_addition "), std::string::npos) << e.line();
  }
  // {prompt} only after {answer} does not count: the question would never be asked.
  EXPECT_THROW(config({"--policy.template_addition=Q{answer}{prompt}"}), ConfigError);
  // An escaped newline before {prompt} is fine, and reaches the format unescaped.
  auto tok = chat_tokenizer();
  policy::PromptFormat f = policy::prompt_format(
      config({"--policy.instructions=on", "--policy.template_code=Code:\\n{prompt}"}), *tok);
  EXPECT_EQ(f.templates.at("code"), "Code:\n{prompt}");
}

TEST(Policy, DefaultsReadBackFromPrintedConfig) {
  // The defaults hold newlines; --print-config writes them escaped and they parse back equal.
  auto tok = chat_tokenizer();
  Config cfg = config({});
  const std::string& text = cfg.get_string("policy.template_countdown");
  EXPECT_NE(text.find("\\n"), std::string::npos);
  policy::PromptFormat f = policy::prompt_format(cfg, *tok);
  EXPECT_EQ(f.templates.at("countdown"), policy::default_templates().at("countdown"));
}
