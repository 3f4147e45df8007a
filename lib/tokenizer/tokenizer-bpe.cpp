// Byte-level BPE (GPT-2 family): added/special tokens are cut out of the text first, the rest is
// pre-tokenized by the regex of the model family, each piece is mapped to GPT-2's byte alphabet
// and merged by rank. Matches Hugging Face tokenizers' BPE with a ByteLevel pre-tokenizer.
#include <algorithm>
#include <unordered_map>

#include "lib/tokenizer/tokenizer-impl.h"

namespace k1rl {

std::map<std::string, std::string> bpe_hf_files(const BpeSpec& spec);  // tokenizer-hf.cpp

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeSpec spec) : spec_(std::move(spec)) {
    const int32_t n = static_cast<int32_t>(spec_.tokens.size());
    if (n == 0) throw InputError("BPE tokenizer", "has an empty vocabulary", "check the file");
    if (!spec_.types.empty() && static_cast<int32_t>(spec_.types.size()) != n)
      throw InputError("BPE tokenizer",
                       strfmt("has %zu token types for %d tokens", spec_.types.size(), n),
                       "check the file");
    pretokenize("", spec_.pre);  // throws ConfigError naming an unknown pre-tokenizer
    vocab_.reserve(n);
    bytes_.resize(n);
    for (int32_t id = 0; id < n; ++id) {
      const std::string& t = spec_.tokens[id];
      vocab_.emplace(t, id);  // the first id wins on duplicates
      int32_t ty = type_of(id);
      if (ty == 3 || ty == 4) {
        bytes_[id] = t;
        added_.push_back({t, id});
      } else {
        bytes_[id] = token_to_bytes(t);
      }
    }
    std::sort(added_.begin(), added_.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (int b = 0; b < 256; ++b) {
      std::string s;
      utf8_append(s, byte_to_unicode(static_cast<uint8_t>(b)));
      auto it = vocab_.find(s);
      byte_ids_[b] = it != vocab_.end() ? it->second : spec_.unk;
    }
    merges_.reserve(spec_.merges.size());
    for (size_t r = 0; r < spec_.merges.size(); ++r) {
      const auto& [a, b] = spec_.merges[r];
      auto ia = vocab_.find(a), ib = vocab_.find(b), im = vocab_.find(a + b);
      if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end())
        throw InputError(strfmt("BPE merge %zu '%s %s'", r, a.c_str(), b.c_str()),
                         "names a token that is not in the vocabulary", "check the tokenizer file");
      merges_.emplace(pair_key(ia->second, ib->second),
                      Merge{static_cast<int32_t>(r), im->second});  // the first rank wins
    }
    bos_ = spec_.bos;
    eos_ = spec_.eos;
    pad_ = spec_.pad;
    chat_ = spec_.chat;
    if (eos_ >= 0) stop_.push_back(eos_);
    if (chat_.kind == "chatml") {
      int32_t end = token_id("<|im_end|>");
      if (end >= 0 && end != eos_) stop_.push_back(end);
    }
  }

  std::string kind() const override { return "bpe"; }
  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.tokens.size()); }

  std::vector<int32_t> encode(std::string_view text, bool parse_special) const override {
    std::vector<int32_t> ids;
    std::vector<std::string_view> pieces;
    size_t plain = 0;  // start of the text not yet encoded
    for (size_t i = 0; i < text.size();) {
      int32_t hit = added_at(text, i, parse_special);
      if (hit < 0) {
        ++i;
        continue;
      }
      encode_plain(text.substr(plain, i - plain), ids, pieces);
      ids.push_back(hit);
      i += spec_.tokens[hit].size();
      plain = i;
    }
    encode_plain(text.substr(plain), ids, pieces);
    return ids;
  }

  std::string token_bytes(int32_t id) const override {
    if (id < 0 || id >= vocab_size())
      throw InputError(strfmt("token id %d", id),
                       strfmt("outside the BPE vocabulary [0, %d)", vocab_size()),
                       "check that the model's vocab matches the tokenizer");
    return bytes_[id];
  }
  bool is_special(int32_t id) const override {
    return id >= 0 && id < vocab_size() && type_of(id) == 3;
  }
  int32_t token_id(std::string_view s) const override {
    auto it = vocab_.find(std::string(s));
    return it == vocab_.end() ? -1 : it->second;
  }
  std::map<std::string, std::string> to_hf_files() const override { return bpe_hf_files(spec_); }

 private:
  struct Merge {
    int32_t rank, merged;
  };

  int32_t type_of(int32_t id) const { return spec_.types.empty() ? 1 : spec_.types[id]; }

  static std::string token_to_bytes(const std::string& t) {
    std::string out;
    for (size_t i = 0; i < t.size();) {
      size_t at = i;
      int b = unicode_to_byte(utf8_next(t, i));
      if (b >= 0)
        out.push_back(static_cast<char>(b));
      else
        out.append(t, at, i - at);  // not in the byte alphabet: keep the character
    }
    return out;
  }

  // The longest added token whose spelling starts at text[i] (specials only with parse_special).
  int32_t added_at(std::string_view text, size_t i, bool parse_special) const {
    for (const auto& [s, id] : added_) {
      if (!parse_special && type_of(id) == 3) continue;
      if (text.compare(i, s.size(), s) == 0) return id;
    }
    return -1;
  }

  void encode_plain(std::string_view text, std::vector<int32_t>& ids,
                    std::vector<std::string_view>& pieces) const {
    if (text.empty()) return;
    pieces.clear();
    pretokenize(text, spec_.pre, pieces);
    std::vector<int32_t> sym;
    for (std::string_view p : pieces) {
      sym.clear();
      for (unsigned char b : p) {
        if (byte_ids_[b] < 0)
          throw InputError(strfmt("byte 0x%02x", b), "has no token and the vocabulary has no unk",
                           "use a byte-level vocabulary");
        sym.push_back(byte_ids_[b]);
      }
      merge_all(sym);
      ids.insert(ids.end(), sym.begin(), sym.end());
    }
  }

  // Repeatedly merges the pair of lowest rank, every non-overlapping occurrence left to right
  // (the same result as a heap ordered by rank then position, since a merge's products only
  // take part in merges of higher rank).
  void merge_all(std::vector<int32_t>& sym) const {
    while (sym.size() > 1) {
      int32_t best = INT32_MAX, a = -1, b = -1, merged = -1;
      for (size_t k = 0; k + 1 < sym.size(); ++k) {
        auto it = merges_.find(pair_key(sym[k], sym[k + 1]));
        if (it != merges_.end() && it->second.rank < best) {
          best = it->second.rank;
          a = sym[k];
          b = sym[k + 1];
          merged = it->second.merged;
        }
      }
      if (merged < 0) return;
      size_t w = 0;
      for (size_t k = 0; k < sym.size(); ++k) {
        if (k + 1 < sym.size() && sym[k] == a && sym[k + 1] == b) {
          sym[w++] = merged;
          ++k;
        } else {
          sym[w++] = sym[k];
        }
      }
      sym.resize(w);
    }
  }

  BpeSpec spec_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<std::string> bytes_;
  std::vector<std::pair<std::string, int32_t>> added_;  // longest first
  int32_t byte_ids_[256];
};

}  // namespace

std::unique_ptr<Tokenizer> make_bpe_tokenizer(BpeSpec spec) {
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace k1rl
