// The default byte-level tokenizer: one id per byte (0..255) plus <bos> <eos> <pad> (256..258).
// Any byte string round-trips, including invalid UTF-8.
#include <cstring>

#include "lib/tokenizer/tokenizer.h"

namespace k1rl {
namespace {

const char* const kSpecials[3] = {"<bos>", "<eos>", "<pad>"};

class ByteTokenizer final : public Tokenizer {
 public:
  ByteTokenizer() {
    bos_ = kByteBos;
    eos_ = kByteEos;
    pad_ = kBytePad;
    stop_ = {kByteEos};
  }
  std::string kind() const override { return "byte"; }
  int32_t vocab_size() const override { return kByteVocab; }

  std::vector<int32_t> encode(std::string_view text, bool parse_special) const override {
    std::vector<int32_t> ids;
    ids.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
      if (parse_special && text[i] == '<') {
        int32_t hit = special_at(text, i);
        if (hit >= 0) {
          ids.push_back(hit);
          i += std::strlen(kSpecials[hit - kByteBos]);
          continue;
        }
      }
      ids.push_back(static_cast<unsigned char>(text[i]));
      ++i;
    }
    return ids;
  }

  std::string token_bytes(int32_t id) const override {
    if (id < 0 || id >= kByteVocab)
      throw InputError(strfmt("token id %d", id),
                       "outside the byte tokenizer's vocabulary [0, 259)",
                       "check that the model's vocab matches the tokenizer");
    if (id < 256) return std::string(1, static_cast<char>(id));
    return kSpecials[id - kByteBos];
  }
  bool is_special(int32_t id) const override { return id >= 256 && id < kByteVocab; }
  int32_t token_id(std::string_view s) const override {
    if (s.size() == 1) return static_cast<unsigned char>(s[0]);
    for (int k = 0; k < 3; ++k)
      if (s == kSpecials[k]) return kByteBos + k;
    return -1;
  }

  std::map<std::string, std::string> to_hf_files() const override {
    throw InputError("byte tokenizer", "has no Hugging Face tokenizer.json form",
                     "export models that were imported with a BPE tokenizer");
  }

 private:
  static int32_t special_at(std::string_view text, size_t i) {
    for (int k = 0; k < 3; ++k)
      if (text.substr(i, std::strlen(kSpecials[k])) == kSpecials[k]) return kByteBos + k;
    return -1;
  }
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() {
  return std::make_unique<ByteTokenizer>();
}

}  // namespace k1rl
