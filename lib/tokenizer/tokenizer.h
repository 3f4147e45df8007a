// k1rl tokenizer: text <-> token ids behind one interface. The default is byte-level (ids 0..255
// are bytes, then <bos> <eos> <pad>); a byte-level BPE (GPT-2 style, as SmolLM2/LLaMA-3/Qwen2 use)
// is read from GGUF metadata, a Hugging Face tokenizer.json or a checkpoint. Config: [tokenizer].
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/core/core.h"

namespace k1rl {

// One turn of a conversation for an instruct model's chat template.
struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// How a tokenizer turns a conversation into prompt text.
struct ChatTemplate {
  // "plain": "<role>: <content>\n" per turn, generation prompt "assistant: ".
  // "chatml": "<|im_start|><role>\n<content><|im_end|>\n" per turn, generation prompt
  //           "<|im_start|>assistant\n" (SmolLM2, Qwen2).
  std::string kind = "plain";
  // Inserted as a first system turn when the conversation has none (empty: nothing inserted).
  std::string default_system;
  std::string source;  // the model's own template text (Jinja), kept for export; may be empty
};

// The tokenizer interface. Ids are int32 in [0, vocab_size()). Implementations are immutable
// after construction, so one instance may be shared by threads.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string kind() const = 0;  // "byte" | "bpe"
  virtual int32_t vocab_size() const = 0;

  // Text (any bytes, valid UTF-8 or not) -> ids. With parse_special, exact spellings of special
  // tokens in the text ("<|im_end|>", "<eos>") become their ids; without, they are plain text.
  // No bos/eos is added: callers add bos_id() themselves when the model wants one.
  virtual std::vector<int32_t> encode(std::string_view text, bool parse_special = false) const = 0;
  // Ids -> the bytes they stand for, concatenated (may be invalid UTF-8 when the ids cut a
  // character). Special tokens give their spelling, or nothing with skip_special. Throws
  // InputError on an id outside the vocabulary.
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The bytes of one token (a special: its spelling). Throws InputError when out of range.
  virtual std::string token_bytes(int32_t id) const = 0;
  virtual bool is_special(int32_t id) const = 0;
  // The id of a token from its spelling (bytes for the byte tokenizer, the vocabulary string for
  // BPE, or a special's spelling); -1 when there is none.
  virtual int32_t token_id(std::string_view spelling) const = 0;

  int32_t bos_id() const { return bos_; }  // -1 when the tokenizer has none
  int32_t eos_id() const { return eos_; }
  int32_t pad_id() const { return pad_; }
  // Ids that end an answer: eos and the end-of-turn token of the chat template (<|im_end|>).
  const std::vector<int32_t>& stop_ids() const { return stop_; }

  const ChatTemplate& chat_template() const { return chat_; }
  // The prompt text for a conversation; add_generation_prompt appends the assistant's header.
  std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt = true) const;
  // encode(apply_chat_template(...), parse_special = true).
  std::vector<int32_t> encode_chat(const std::vector<ChatMessage>& messages,
                                   bool add_generation_prompt = true) const;

  // Hugging Face files that describe this tokenizer: "tokenizer.json", "tokenizer_config.json",
  // "special_tokens_map.json" -> text. Checkpoints store them and export writes them.
  virtual std::map<std::string, std::string> to_hf_files() const = 0;

 protected:
  int32_t bos_ = -1, eos_ = -1, pad_ = -1;
  std::vector<int32_t> stop_;
  ChatTemplate chat_;
};

// ---------------------------------------------------------------------------------------------
// Byte-level tokenizer: ids 0..255 are the bytes, 256 <bos>, 257 <eos>, 258 <pad>; vocab 259.
// Every byte string round-trips: decode(encode(s)) == s.
constexpr int32_t kByteBos = 256, kByteEos = 257, kBytePad = 258, kByteVocab = 259;
std::unique_ptr<Tokenizer> make_byte_tokenizer();

// ---------------------------------------------------------------------------------------------
// Byte-level BPE. Token strings use GPT-2's byte-to-unicode alphabet ("Ġ" is the space byte).
struct BpeSpec {
  std::vector<std::string> tokens;  // id -> vocabulary string (specials: their spelling)
  std::vector<std::pair<std::string, std::string>> merges;  // by rank, best first
  // id -> GGUF token type: 1 normal, 3 control (a special token), 4 user-defined (an added token
  // matched whole in text, not special); other values count as normal. Empty: all normal.
  std::vector<int32_t> types;
  int32_t bos = -1, eos = -1, pad = -1, unk = -1;
  // Pre-tokenizer: "gpt2" (GPT-2 regex), "smollm" (each digit alone, then the GPT-2 regex),
  // "qwen2" (Qwen2's regex: letters may carry one leading symbol, digits alone), "llama3"
  // (the same with up to three digits together).
  std::string pre = "gpt2";
  ChatTemplate chat;
  // The Hugging Face files it was read from (to_hf_files returns them as they were); empty:
  // to_hf_files generates them from the fields above.
  std::map<std::string, std::string> hf_files;
};
std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec);
// From the text of a Hugging Face tokenizer.json (and tokenizer_config.json for the special ids
// and the chat template; may be empty). Unsupported models or pre-tokenizers are ConfigErrors.
BpeSpec bpe_spec_from_hf(const std::string& tokenizer_json, const std::string& tokenizer_config,
                         const std::string& name);
// From GGUF metadata (tokenizer.ggml.*); `name` (the file) is used in messages.
class GgufMeta;
BpeSpec bpe_spec_from_gguf(const GgufMeta& meta, const std::string& name);
// The pre-tokens of `text` under a pre-tokenizer ("gpt2", "smollm", "qwen2", "llama3"), before
// the byte mapping; exposed for tests. Throws ConfigError for another name.
std::vector<std::string> pretokenize(std::string_view text, const std::string& pre);
// Recognises a chat template's Jinja text ("<|im_start|>" -> chatml, its default system prompt).
ChatTemplate chat_template_from_jinja(const std::string& jinja);

// Loads a tokenizer from a file: *.gguf, a tokenizer.json, a Hugging Face folder holding one, or
// a checkpoint (*.h5) with a tokenizer/ group. Throws IoError/ConfigError naming the file.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

// Checkpoints keep their tokenizer in a group "tokenizer" (attribute kind = byte | bpe; for bpe
// one uint8 dataset per Hugging Face file, named as the file). `loc` is an open HDF5 file/group.
// Reading a file without the group gives the byte tokenizer.
void save_tokenizer_h5(int64_t loc, const Tokenizer& tok);
std::unique_ptr<Tokenizer> load_tokenizer_h5(int64_t loc, const std::string& name);

// [tokenizer] kind = byte | bpe, path = <gguf | tokenizer.json | folder | checkpoint.h5>.
void declare_tokenizer_options(ConfigSpec& spec);
std::unique_ptr<Tokenizer> make_tokenizer(const Config& cfg);

// ---------------------------------------------------------------------------------------------
// File formats the tokenizer reads, shared with lib/convert (JSON is lib/json's).

// GGUF (v2/v3) header: the key/value metadata and where the tensor infos start. Read with
// GgufMeta::read; lib/convert continues from tensor_info_offset to read the tensors.
class GgufMeta {
 public:
  struct Value {
    enum Kind { u, i, f, b, s, arr } kind = u;
    uint64_t uval = 0;
    int64_t ival = 0;
    double fval = 0;
    bool bval = false;
    std::string sval;
    Kind elem = u;                  // arrays: element kind
    std::vector<std::string> strs;  // arrays of strings
    std::vector<int64_t> ints;      // arrays of integers (and bools)
    std::vector<double> floats;     // arrays of floats
  };
  static GgufMeta read(const std::string& path);
  const std::string& path() const { return path_; }
  uint32_t version = 0;
  uint64_t tensor_count = 0;
  uint64_t tensor_info_offset = 0;  // byte offset of the first tensor info
  uint32_t alignment = 32;          // general.alignment or 32
  std::map<std::string, Value> kv;

  bool has(const std::string& key) const { return kv.count(key) != 0; }
  const Value& get(const std::string& key) const;  // IoError naming the key when missing
  std::string get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_double(const std::string& key, double def) const;

 private:
  std::string path_;
};

// UTF-8 helpers used by the BPE and exposed for tests.
// Decodes one code point at s[i], advancing i; invalid bytes give 0xFFFD and advance by one.
uint32_t utf8_next(std::string_view s, size_t& i);
void utf8_append(std::string& out, uint32_t cp);
// Unicode general category classes the GPT-2 regex uses (tables generated from Unicode data).
bool unicode_is_letter(uint32_t cp);      // \p{L}
bool unicode_is_number(uint32_t cp);      // \p{N}
bool unicode_is_whitespace(uint32_t cp);  // \s (Unicode White_Space, as the regex crates use)

}  // namespace k1rl
