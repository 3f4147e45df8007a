// Prompt formats, task instructions and answer decoding (see policy.h; texts in docs/prompts.md).
#include "lib/policy/policy.h"

namespace k1rl::policy {

namespace {
// "\n" in a config value (an INI line cannot hold a newline) stands for a newline.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

const std::string kTemplateHelp =
    " ({prompt}: the task's prompt; text after {answer} opens the answer; \\n: a newline)";

std::vector<std::string> template_kinds() {
  std::vector<std::string> k = task_kinds();
  k.push_back("default");
  return k;
}
}  // namespace

// Chosen by measurement on SmolLM2-135M-Instruct (docs/prompts.md): the 135M model ignores a
// requested `Answer:` line, but completes one that the prompt opens ({answer}Answer:).
const std::map<std::string, std::string>& default_templates() {
  static const std::map<std::string, std::string> t = {
      {"addition", "What is {prompt}? Reply with the number only.{answer}Answer:"},
      {"multiplication", "What is {prompt}? Reply with the number only.{answer}Answer:"},
      {"linear", "{prompt}. Reply with the number only.{answer}Answer: x ="},
      {"countdown",
       "{prompt}\nGive the final expression on its own line as `Answer: <expression>`."},
      {"code", "{prompt}"},  // the prompt already asks for a ```python block
      {"default", "{prompt}\nGive the final answer on its own line as `Answer: <answer>`."},
  };
  return t;
}

std::map<std::string, std::string> PolicyConfig::default_template_options() {
  std::map<std::string, std::string> t;
  for (const std::string& k : template_kinds()) t[k] = escape(default_templates().at(k));
  return t;
}

const OptionTable<PolicyConfig>& policy_options() {
  using P = PolicyConfig;
  static const auto t = [] {
    OptionTable<P> o;
    o.choice("policy.prompt_format", &P::prompt_format, {"auto", "raw", "chat"},
             "how a task prompt is given to the model: raw bytes after <bos>, or the chat "
             "template (auto: chat for ChatML tokenizers)")
        .choice("policy.instructions", &P::instructions, {"auto", "on", "off"},
                "wrap each prompt in its task kind's template (policy.template_<kind>; auto: on "
                "for the chat format, off for raw)")
        .add("policy.system", &P::system,
             "chat: text of the system turn (empty: the chat template's default)");
    // {prompt} after {answer} does not count: the question would never be asked.
    const Check asks = Check().rule(
        [](const ConfigValue& v) {
          const std::string t = unescape(std::get<std::string>(v));
          return t.substr(0, t.find("{answer}")).find("{prompt}") != std::string::npos;
        },
        "a template with {prompt} (where the task's prompt goes) before any {answer}");
    for (const std::string& k : template_kinds())
      o.add(
          "policy.template_" + k, [k](P& p) -> std::string& { return p.templates[k]; },
          k == "default" ? "instruction of task kinds without their own" + kTemplateHelp
                         : "instruction of " + k + " tasks" + kTemplateHelp,
          asks);
    return o;
  }();
  return t;
}

void declare_policy_options(ConfigSpec& s) {
  policy_options().declare(s);
}

PolicyConfig PolicyConfig::from(const Config& cfg) {
  return policy_options().read(cfg);  // every key was checked when cfg was read
}

PromptFormat prompt_format(const Config& cfg, const Tokenizer& tok) {
  const PolicyConfig pc = PolicyConfig::from(cfg);
  PromptFormat f;
  f.style = pc.prompt_format == "chat"             ? PromptStyle::chat
            : pc.prompt_format == "raw"            ? PromptStyle::raw
            : tok.chat_template().kind == "chatml" ? PromptStyle::chat
                                                   : PromptStyle::raw;
  f.instructions =
      pc.instructions == "on" || (pc.instructions == "auto" && f.style == PromptStyle::chat);
  f.system = unescape(pc.system);
  for (const auto& [kind, text] : pc.templates) f.templates[kind] = unescape(text);
  return f;
}

namespace {
const std::string kAnswerMark = "{answer}";
const std::string* find_template(const PromptFormat& f, const Task& task) {
  if (!f.instructions) return nullptr;
  auto it = f.templates.find(task.task);
  if (it == f.templates.end()) it = f.templates.find("default");
  return it == f.templates.end() ? nullptr : &it->second;
}
}  // namespace

namespace {
// The template with every {prompt} replaced.
std::string fill(const std::string& t, const std::string& prompt) {
  const std::string key = "{prompt}";
  std::string out;
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, key.size(), key) == 0) {
      out += prompt;
      i += key.size();
    } else {
      out += t[i++];
    }
  }
  return out;
}
}  // namespace

std::string PromptFormat::instruction(const Task& task) const {
  const std::string* t = find_template(*this, task);
  return t ? fill(t->substr(0, t->find(kAnswerMark)), task.prompt) : task.prompt;
}

std::string PromptFormat::answer_prefix(const Task& task) const {
  const std::string* t = find_template(*this, task);
  const size_t at = t ? t->find(kAnswerMark) : std::string::npos;
  return at == std::string::npos ? "" : fill(t->substr(at + kAnswerMark.size()), task.prompt);
}

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const std::string& text,
                                   const PromptFormat& f) {
  if (f.style == PromptStyle::chat) {
    std::vector<ChatMessage> turns;
    if (!f.system.empty()) turns.push_back({"system", f.system});
    turns.push_back({"user", text});
    return tok.encode_chat(turns, true);
  }
  std::vector<int32_t> ids;
  if (tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  std::vector<int32_t> body = tok.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

std::vector<int32_t> prompt_tokens(const Tokenizer& tok, const Task& task, const PromptFormat& f) {
  std::vector<int32_t> ids = prompt_tokens(tok, f.instruction(task), f);
  const std::string prefix = f.answer_prefix(task);
  if (!prefix.empty()) {
    std::vector<int32_t> p = tok.encode(prefix);
    ids.insert(ids.end(), p.begin(), p.end());
  }
  return ids;
}

std::string prompt_text(const Tokenizer& tok, const Task& task, const PromptFormat& f) {
  return tok.decode(prompt_tokens(tok, task, f), /*skip_special=*/false);
}

std::vector<int32_t> sft_tokens(const Tokenizer& tok, const Task& task, const std::string& answer,
                                const PromptFormat& f, int32_t* prompt_len) {
  std::vector<int32_t> ids = prompt_tokens(tok, task, f);
  *prompt_len = static_cast<int32_t>(ids.size());
  std::vector<int32_t> body = tok.encode(answer);
  ids.insert(ids.end(), body.begin(), body.end());
  int32_t end = tok.eos_id();
  if (f.style == PromptStyle::chat && tok.token_id("<|im_end|>") >= 0)
    end = tok.token_id("<|im_end|>");
  if (end >= 0) ids.push_back(end);
  return ids;
}

std::string answer_text(const Tokenizer& tok, const std::vector<int32_t>& answer) {
  return tok.decode(answer, /*skip_special=*/true);
}

std::string answer_text(const Tokenizer& tok, const Task& task, const std::vector<int32_t>& answer,
                        const PromptFormat& f) {
  return f.answer_prefix(task) + answer_text(tok, answer);
}

}  // namespace k1rl::policy
