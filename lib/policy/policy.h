// k1rl policy: how tasks become token sequences for the policy model, shared by training (SFT,
// RL), rollout and evaluation so that all of them see the same prompt. Two steps:
//   1. instruction: the task's prompt goes through its kind's template ("{prompt}\nGive the final
//      answer on its own line as `Answer: <number>`.", docs/prompts.md has every default); on by
//      default for chat models, off for raw ones (which keep the bare prompt);
//   2. format:  raw:  [<bos>] text        (the tiny byte-level default: short prompts)
//               chat: the tokenizer's chat template with the text as the user turn (instruct
//                     models), optionally with a system turn of our own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lib/core/core.h"
#include "lib/tasks/tasks.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::policy {

// The built-in templates (docs/prompts.md), with "default" for kinds without their own.
const std::map<std::string, std::string>& default_templates();

// The [policy] section as written in the config (resolved against the tokenizer by
// prompt_format): texts keep "\n" for a newline, as an INI line cannot hold one. Every template
// has {prompt} before any {answer} (checked where declared).
struct PolicyConfig {
  std::string prompt_format = "auto";  // auto | raw | chat
  std::string instructions = "auto";   // auto | on | off
  std::string system;                  // chat: system turn ("": the chat template's default)
  std::map<std::string, std::string> templates = default_template_options();  // kind -> text
  static PolicyConfig from(const Config& cfg);
  // default_templates() of every task kind and "default", as config texts ("\n" for newlines).
  static std::map<std::string, std::string> default_template_options();
};
const OptionTable<PolicyConfig>& policy_options();  // [policy], bound to PolicyConfig
void declare_policy_options(ConfigSpec& spec);      // [policy] (policy_options)

enum class PromptStyle { raw, chat };

struct PromptFormat {
  PromptStyle style = PromptStyle::raw;
  bool instructions = false;  // apply the per-kind templates
  std::string system;         // chat: system turn ("" keeps the chat template's default)
  std::map<std::string, std::string> templates;  // task kind -> template; "default" for others
  // The text the model is asked: the kind's template up to {answer}, with {prompt} replaced by
  // the task's prompt (the bare prompt when instructions are off).
  std::string instruction(const Task& task) const;
  // The start of the answer written for the model (the template's text after {answer}, e.g.
  // "Answer:"): it ends the prompt, and the answer as scored is this prefix + what the model wrote.
  std::string answer_prefix(const Task& task) const;
};

// [policy] and the tokenizer: prompt_format auto = chat when the tokenizer has a ChatML template;
// instructions auto = on for chat, off for raw.
PromptFormat prompt_format(const Config& cfg, const Tokenizer& tok);

// The prompt tokens of a task: instruction, then the format, then the answer prefix.
std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const Task& task, const PromptFormat& f);
// The same for a text that is already the instruction (no template applied).
std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const std::string& text,
                                   const PromptFormat& f);
// The prompt exactly as the model sees it (its tokens decoded, special tokens included).
std::string prompt_text(const Tokenizer& tok, const Task& task, const PromptFormat& f);

// prompt + answer + end of answer (eos, or the chat template's end-of-turn) for SFT; prompt_len
// receives the number of prompt tokens (which carry no loss).
std::vector<int32_t> sft_tokens(const Tokenizer& tok, const Task& task, const std::string& answer,
                                const PromptFormat& f, int32_t* prompt_len);

// The text of an answer: its tokens decoded without special tokens (a final stop token dropped).
std::string answer_text(const Tokenizer& tok, const std::vector<int32_t>& answer);
// The answer as scored: the task's answer prefix, then the answer's text.
std::string answer_text(const Tokenizer& tok, const Task& task, const std::vector<int32_t>& answer,
                        const PromptFormat& f);

}  // namespace k1rl::policy
