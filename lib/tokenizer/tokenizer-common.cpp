// Parts of the Tokenizer interface shared by every tokenizer: decode by concatenating token bytes,
// and the chat templates (plain and ChatML) that turn a conversation into prompt text.
#include "lib/tokenizer/tokenizer.h"

namespace k1rl {

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  out.reserve(ids.size() * 3);
  for (int32_t id : ids) {
    if (skip_special && id >= 0 && id < vocab_size() && is_special(id)) continue;
    out += token_bytes(id);
  }
  return out;
}

std::string Tokenizer::apply_chat_template(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  const bool chatml = chat_.kind == "chatml";
  auto turn = [&](const std::string& role, const std::string& content) {
    if (chatml) return "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
    return role + ": " + content + "\n";
  };
  std::string out;
  if (!chat_.default_system.empty() && (messages.empty() || messages[0].role != "system"))
    out += turn("system", chat_.default_system);
  for (const auto& m : messages) out += turn(m.role, m.content);
  if (add_generation_prompt) out += chatml ? "<|im_start|>assistant\n" : "assistant: ";
  return out;
}

std::vector<int32_t> Tokenizer::encode_chat(const std::vector<ChatMessage>& messages,
                                            bool add_generation_prompt) const {
  return encode(apply_chat_template(messages, add_generation_prompt), /*parse_special=*/true);
}

}  // namespace k1rl
