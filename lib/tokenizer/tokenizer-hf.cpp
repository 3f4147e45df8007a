// Byte-level BPE specs from their two sources (Hugging Face tokenizer.json + tokenizer_config.json,
// GGUF tokenizer.ggml.* metadata), the chat template recogniser, and the Hugging Face files we
// write back on export.
#include "lib/tokenizer/tokenizer-impl.h"

namespace k1rl {
namespace {

// The GPT-2 pattern as tokenizer.json spells it in a Split pre-tokenizer.
const char* const kGpt2Regex =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Qwen2's and LLaMA-3's patterns, as their tokenizer.json spell them in a Split pre-tokenizer.
const char* const kQwen2Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char* const kLlama3Regex =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

const char* const kSupportedPre =
    "supported: ByteLevel with the GPT-2 regex, Digits(individual_digits) + ByteLevel (SmolLM), "
    "Split with the Qwen2 or LLaMA-3 regex + ByteLevel";

std::string token_content(const Json& j) {
  if (j.is_string()) return j.as_string();
  if (j.is_object() && j["content"].is_string()) return j["content"].as_string();
  return "";
}

bool bool_or(const Json& j, bool def) {
  return j.type() == Json::Type::boolean ? j.as_bool() : def;
}

// Maps a tokenizer.json pre_tokenizer to one of ours, or throws naming it.
std::string pre_from_hf(const Json& pre, const std::string& name) {
  auto byte_level = [&](const Json& b, bool want_regex) {
    if (!b.is_object() || b["type"].is_null() || b["type"].as_string() != "ByteLevel") return false;
    if (bool_or(b["add_prefix_space"], false))
      throw ConfigError(name, "uses ByteLevel(add_prefix_space = true)",
                        "only add_prefix_space = false is supported");
    return bool_or(b["use_regex"], true) == want_regex;
  };
  if (byte_level(pre, true)) return "gpt2";
  if (pre.is_object() && pre["type"].is_string() && pre["type"].as_string() == "Sequence") {
    const Json& seq = pre["pretokenizers"];
    if (seq.size() == 2) {
      const Json& a = seq.at(0);
      if (a["type"].is_string() && a["type"].as_string() == "Digits" &&
          bool_or(a["individual_digits"], false) && byte_level(seq.at(1), true))
        return "smollm";
      if (a["type"].is_string() && a["type"].as_string() == "Split" &&
          a["pattern"]["Regex"].is_string() && byte_level(seq.at(1), false)) {
        const std::string& re = a["pattern"]["Regex"].as_string();
        if (re == kGpt2Regex) return "gpt2";
        if (re == kQwen2Regex) return "qwen2";
        if (re == kLlama3Regex) return "llama3";
      }
    }
    if (seq.size() == 1 && byte_level(seq.at(0), true)) return "gpt2";
  }
  throw ConfigError(name, "has the pre-tokenizer " + pre.dump() + ", which is not supported",
                    kSupportedPre);
}

const char* const kChatmlJinja =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' and "
    "DEFAULT %}{{ '<|im_start|>system\\nSYSTEM<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

std::string chatml_jinja(const ChatTemplate& c) {
  std::string t = kChatmlJinja;
  auto put = [&](const std::string& what, const std::string& by) {
    size_t at = t.find(what);
    if (at != std::string::npos) t.replace(at, what.size(), by);
  };
  put("DEFAULT", c.default_system.empty() ? "false" : "true");
  std::string sys;
  for (char ch : c.default_system) sys += ch == '\'' ? std::string("\\'") : std::string(1, ch);
  put("SYSTEM", sys);
  return t;
}

}  // namespace

ChatTemplate chat_template_from_jinja(const std::string& jinja) {
  ChatTemplate c;
  c.source = jinja;
  if (jinja.find("<|im_start|>") == std::string::npos) return c;  // plain
  c.kind = "chatml";
  const std::string head = "<|im_start|>system\n";
  size_t at = jinja.find(head);
  if (at != std::string::npos) {
    size_t start = at + head.size(), end = jinja.find("<|im_end|>", start);
    std::string sys = jinja.substr(start, end == std::string::npos ? 0 : end - start);
    // A literal default system prompt, not an expression that inserts the message.
    if (sys.find("{{") == std::string::npos && sys.find('\'') == std::string::npos &&
        sys.find("message") == std::string::npos)
      c.default_system = sys;
  }
  return c;
}

namespace {
// A token id of tokenizer.json: an integer in [0, 2^24) (the largest real vocabularies hold a few
// hundred thousand), so that a corrupt id can neither index out of the table nor size it.
int64_t token_id(const Json& v, const std::string& name) {
  const int64_t id = v.as_int();
  if (id < 0 || id >= (int64_t{1} << 24))
    throw InputError(name, strfmt("has a token id %lld outside 0..2^24", (long long)id),
                     "the file is corrupt: download it again");
  return id;
}
}  // namespace

BpeSpec bpe_spec_from_hf(const std::string& tokenizer_json, const std::string& tokenizer_config,
                         const std::string& name) {
  Json j = Json::parse(tokenizer_json, name);
  const Json& model = j["model"];
  std::string type = model["type"].is_string() ? model["type"].as_string() : "(none)";
  if (type != "BPE")
    throw ConfigError(name, "has tokenizer model type " + type, "only byte-level BPE is supported");
  if (bool_or(model["byte_fallback"], false))
    throw ConfigError(name, "is a SentencePiece-style BPE (byte_fallback)",
                      "only byte-level BPE (GPT-2 family) is supported");
  if (!j["normalizer"].is_null())
    throw ConfigError(name, "has a normalizer " + j["normalizer"].dump(),
                      "only tokenizers without a normalizer are supported");
  BpeSpec s;
  s.pre = pre_from_hf(j["pre_tokenizer"], name);
  int64_t n = 0;
  for (const auto& [tok, id] : model["vocab"].members()) n = std::max(n, token_id(id, name) + 1);
  for (const auto& a :
       j["added_tokens"].is_array() ? j["added_tokens"].items() : std::vector<Json>{})
    n = std::max(n, token_id(a["id"], name) + 1);
  s.tokens.assign(n, std::string());
  std::vector<bool> seen(n, false);
  s.types.assign(n, 1);
  for (const auto& [tok, id] : model["vocab"].members()) {
    s.tokens[id.as_int()] = tok;
    seen[id.as_int()] = true;
  }
  if (j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"].items()) {
      int64_t id = a["id"].as_int();
      s.tokens[id] = a["content"].as_string();
      s.types[id] = bool_or(a["special"], false) ? 3 : 4;
      seen[id] = true;
    }
  for (int64_t id = 0; id < n; ++id)
    if (!seen[id])
      throw InputError(name, strfmt("has no token with id %lld", (long long)id),
                       "the vocabulary must be dense");
  for (const auto& m : model["merges"].items()) {
    if (m.is_array()) {
      s.merges.emplace_back(m.at(0).as_string(), m.at(1).as_string());
      continue;
    }
    const std::string& t = m.as_string();
    size_t sp = t.find(' ', 1);
    if (sp == std::string::npos) throw InputError(name, "has a merge without a space: " + t, "");
    s.merges.emplace_back(t.substr(0, sp), t.substr(sp + 1));
  }
  if (!tokenizer_config.empty()) {
    Json c = Json::parse(tokenizer_config, "tokenizer_config.json beside " + name);
    auto id_of = [&](const char* key) {
      std::string t = token_content(c[key]);
      for (int64_t id = 0; id < n && !t.empty(); ++id)
        if (s.tokens[id] == t) return static_cast<int32_t>(id);
      return -1;
    };
    s.bos = id_of("bos_token");
    s.eos = id_of("eos_token");
    s.pad = id_of("pad_token");
    s.unk = id_of("unk_token");
    const Json& ct = c["chat_template"];
    if (ct.is_string()) s.chat = chat_template_from_jinja(ct.as_string());
    if (ct.is_array())
      for (const auto& t : ct.items())
        if (t["name"].is_string() && t["name"].as_string() == "default")
          s.chat = chat_template_from_jinja(t["template"].as_string());
    s.hf_files["tokenizer_config.json"] = tokenizer_config;
  }
  s.hf_files["tokenizer.json"] = tokenizer_json;
  return s;
}

BpeSpec bpe_spec_from_gguf(const GgufMeta& meta, const std::string& name) {
  std::string model = meta.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    throw ConfigError(name, "has tokenizer model '" + model + "'",
                      "only byte-level BPE ('gpt2' in GGUF) is supported, not SentencePiece");
  BpeSpec s;
  std::string pre =
      meta.has("tokenizer.ggml.pre") ? meta.get_string("tokenizer.ggml.pre") : "default";
  if (pre == "smollm")
    s.pre = "smollm";
  else if (pre == "gpt-2" || pre == "gpt2" || pre == "default")
    s.pre = "gpt2";
  else if (pre == "qwen2")
    s.pre = "qwen2";
  else if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe")
    s.pre = "llama3";
  else
    throw ConfigError(name, "has GGUF pre-tokenizer '" + pre + "'",
                      "supported: smollm, gpt-2, default, qwen2, llama-bpe");
  s.tokens = meta.get("tokenizer.ggml.tokens").strs;
  if (meta.has("tokenizer.ggml.token_type")) {
    const auto& t = meta.get("tokenizer.ggml.token_type").ints;
    s.types.assign(t.begin(), t.end());
  }
  for (const auto& m : meta.get("tokenizer.ggml.merges").strs) {
    size_t sp = m.find(' ', 1);
    if (sp == std::string::npos) throw InputError(name, "has a merge without a space: " + m, "");
    s.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  s.bos = static_cast<int32_t>(meta.get_int("tokenizer.ggml.bos_token_id", -1));
  s.eos = static_cast<int32_t>(meta.get_int("tokenizer.ggml.eos_token_id", -1));
  s.pad = static_cast<int32_t>(meta.get_int("tokenizer.ggml.padding_token_id", -1));
  s.unk = static_cast<int32_t>(meta.get_int("tokenizer.ggml.unknown_token_id", -1));
  if (meta.has("tokenizer.chat_template"))
    s.chat = chat_template_from_jinja(meta.get_string("tokenizer.chat_template"));
  return s;
}

// tokenizer.json, tokenizer_config.json and special_tokens_map.json for a spec; files the spec was
// read from replace the generated ones.
std::map<std::string, std::string> bpe_hf_files(const BpeSpec& s) {
  Json added = Json::make_array(), decoder = Json::make_object(), vocab = Json::make_object();
  for (size_t id = 0; id < s.tokens.size(); ++id) {
    vocab.add(s.tokens[id], static_cast<int64_t>(id));
    int32_t ty = s.types.empty() ? 1 : s.types[id];
    if (ty != 3 && ty != 4) continue;
    Json a = Json::make_object();
    a.add("id", static_cast<int64_t>(id)).add("content", s.tokens[id]).add("single_word", false);
    a.add("lstrip", false).add("rstrip", false).add("normalized", ty != 3).add("special", ty == 3);
    added.push(a);
    Json d = Json::make_object();
    d.add("content", s.tokens[id]).add("lstrip", false).add("normalized", ty != 3);
    d.add("rstrip", false).add("single_word", false).add("special", ty == 3);
    decoder.add(std::to_string(id), d);
  }
  Json merges = Json::make_array();
  for (const auto& [a, b] : s.merges) merges.push(a + " " + b);
  auto byte_level = [](bool prefix, bool trim) {
    Json b = Json::make_object();
    b.add("type", "ByteLevel").add("add_prefix_space", prefix).add("trim_offsets", trim);
    return b.add("use_regex", true);
  };
  Json pre = byte_level(false, true);
  if (s.pre == "qwen2" || s.pre == "llama3") {
    Json pattern = Json::make_object(), split = Json::make_object(), seq = Json::make_array();
    pattern.add("Regex", s.pre == "qwen2" ? kQwen2Regex : kLlama3Regex);
    split.add("type", "Split")
        .add("pattern", pattern)
        .add("behavior", "Isolated")
        .add("invert", false);
    Json bl = byte_level(false, false);
    bl.set("use_regex", false);
    seq.push(split).push(bl);
    pre = Json::make_object();
    pre.add("type", "Sequence").add("pretokenizers", seq);
  } else if (s.pre == "smollm") {
    Json digits = Json::make_object();
    digits.add("type", "Digits").add("individual_digits", true);
    Json seq = Json::make_array();
    seq.push(digits).push(pre);
    pre = Json::make_object();
    pre.add("type", "Sequence").add("pretokenizers", seq);
  }
  Json model = Json::make_object();
  model.add("type", "BPE").add("dropout", Json()).add("unk_token", Json());
  model.add("continuing_subword_prefix", Json()).add("end_of_word_suffix", Json());
  model.add("fuse_unk", false)
      .add("byte_fallback", false)
      .add("vocab", vocab)
      .add("merges", merges);
  Json tj = Json::make_object();
  tj.add("version", "1.0")
      .add("truncation", Json())
      .add("padding", Json())
      .add("added_tokens", added);
  tj.add("normalizer", Json())
      .add("pre_tokenizer", pre)
      .add("post_processor", byte_level(true, false));
  tj.add("decoder", byte_level(true, true)).add("model", model);

  auto name_of = [&](int32_t id) { return id >= 0 ? Json(s.tokens[id]) : Json(); };
  Json cfg = Json::make_object(), map = Json::make_object();
  cfg.add("add_prefix_space", false).add("added_tokens_decoder", decoder);
  for (auto [key, id] : {std::pair<const char*, int32_t>{"bos_token", s.bos},
                         {"eos_token", s.eos},
                         {"pad_token", s.pad},
                         {"unk_token", s.unk}}) {
    cfg.add(key, name_of(id));
    if (id >= 0) map.add(key, s.tokens[id]);
  }
  if (s.chat.kind == "chatml" || !s.chat.source.empty())
    cfg.add("chat_template", s.chat.source.empty() ? chatml_jinja(s.chat) : s.chat.source);
  cfg.add("clean_up_tokenization_spaces", false).add("model_max_length", int64_t{1} << 30);
  cfg.add("tokenizer_class", "GPT2Tokenizer");
  std::map<std::string, std::string> files = {{"tokenizer.json", tj.dump(2)},
                                              {"tokenizer_config.json", cfg.dump(2)},
                                              {"special_tokens_map.json", map.dump(2)}};
  for (const auto& [k, v] : s.hf_files) files[k] = v;
  return files;
}

}  // namespace k1rl
