// Prompt formats and answer decoding (see policy.h).
#include "lib/policy/policy.h"

namespace k1rl::policy {

void declare_policy_options(ConfigSpec& s) {
  s.add_choice("policy.prompt_format", "auto", {"auto", "raw", "chat"},
               "how a task prompt is given to the model: raw bytes after <bos>, or the chat "
               "template (auto: chat for ChatML tokenizers)");
}

PromptFormat prompt_format(const Config& cfg, const Tokenizer& tok) {
  const std::string& f = cfg.get_string("policy.prompt_format");
  if (f == "raw") return PromptFormat::raw;
  if (f == "chat") return PromptFormat::chat;
  return tok.chat_template().kind == "chatml" ? PromptFormat::chat : PromptFormat::raw;
}

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const std::string& prompt,
                                   PromptFormat f) {
  if (f == PromptFormat::chat) return tok.encode_chat({{"user", prompt}}, true);
  std::vector<int32_t> ids;
  if (tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  std::vector<int32_t> body = tok.encode(prompt);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::vector<int32_t> sft_tokens(const Tokenizer& tok, const std::string& prompt,
                                const std::string& answer, PromptFormat f, int32_t* prompt_len) {
  std::vector<int32_t> ids = prompt_tokens(tok, prompt, f);
  *prompt_len = static_cast<int32_t>(ids.size());
  std::vector<int32_t> body = tok.encode(answer);
  ids.insert(ids.end(), body.begin(), body.end());
  int32_t end = tok.eos_id();
  if (f == PromptFormat::chat && tok.token_id("<|im_end|>") >= 0) end = tok.token_id("<|im_end|>");
  if (end >= 0) ids.push_back(end);
  return ids;
}

std::string answer_text(const Tokenizer& tok, const std::vector<int32_t>& answer) {
  return tok.decode(answer, /*skip_special=*/true);
}

}  // namespace k1rl::policy
