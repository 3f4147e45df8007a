// k1rl policy: how tasks become token sequences for the policy model, shared by training (SFT,
// RL), rollout and evaluation so that all of them see the same prompt format.
//   raw:  [<bos>] prompt-bytes            (the tiny byte-level default: short prompts)
//   chat: the tokenizer's chat template with the prompt as the user turn (instruct models)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lib/core/core.h"
#include "lib/tokenizer/tokenizer.h"

namespace k1rl::policy {

void declare_policy_options(ConfigSpec& spec);  // [policy]

enum class PromptFormat { raw, chat };
// policy.prompt_format: auto = chat when the tokenizer has a ChatML template, raw otherwise.
PromptFormat prompt_format(const Config& cfg, const Tokenizer& tok);

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const std::string& prompt, PromptFormat f);

// prompt + answer + end of answer (eos, or the chat template's end-of-turn) for SFT; prompt_len
// receives the number of prompt tokens (which carry no loss).
std::vector<int32_t> sft_tokens(const Tokenizer& tok, const std::string& prompt,
                                const std::string& answer, PromptFormat f, int32_t* prompt_len);

// The text of an answer: its tokens decoded without special tokens (a final stop token dropped).
std::string answer_text(const Tokenizer& tok, const std::vector<int32_t>& answer);

}  // namespace k1rl::policy
