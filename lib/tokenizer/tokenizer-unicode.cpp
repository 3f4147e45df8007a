// UTF-8 decoding, the Unicode classes of the GPT-2 regex, GPT-2's byte alphabet and the
// pre-tokenizers written by hand (no regex engine): gpt2 and smollm (digits split first).
#include <algorithm>

#include "lib/tokenizer/tokenizer-impl.h"

namespace k1rl {
namespace {

bool in_table(uint32_t cp, const CodeRange* table, size_t n) {
  const CodeRange* end = table + n;
  const CodeRange* it =
      std::upper_bound(table, end, cp, [](uint32_t c, const CodeRange& r) { return c < r.first; });
  return it != table && cp <= (it - 1)->last;
}

// The class of a code point for the regex: letter, number, whitespace or other.
enum Cls : uint8_t { kL, kN, kS, kO };
Cls cls_of(uint32_t cp) {
  if (cp < 128) {
    if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return kL;
    if (cp >= '0' && cp <= '9') return kN;
    if (cp == ' ' || (cp >= 9 && cp <= 13)) return kS;
    return kO;
  }
  if (unicode_is_letter(cp)) return kL;
  if (unicode_is_number(cp)) return kN;
  if (unicode_is_whitespace(cp)) return kS;
  return kO;
}

struct Cp {
  uint32_t cp;
  uint32_t off;  // byte offset in the text
  Cls cls;
};

void decode_cps(std::string_view text, std::vector<Cp>& cps) {
  cps.clear();
  for (size_t i = 0; i < text.size();) {
    size_t at = i;
    uint32_t cp = utf8_next(text, i);
    cps.push_back({cp, static_cast<uint32_t>(at), cls_of(cp)});
  }
}

// Length in code points of a contraction ('s 't 're 've 'm 'll 'd) at k, or 0.
size_t contraction_at(const std::vector<Cp>& c, size_t k) {
  if (c[k].cp != '\'' || k + 1 >= c.size()) return 0;
  uint32_t a = c[k + 1].cp;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (k + 2 < c.size()) {
    uint32_t b = c[k + 2].cp;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

// End (exclusive, in code points) of the GPT-2 regex match starting at k.
size_t gpt2_match_end(const std::vector<Cp>& c, size_t k) {
  const size_t n = c.size();
  if (size_t len = contraction_at(c, k)) return k + len;
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': a space may lead a run of one class.
  size_t s = (c[k].cp == ' ' && k + 1 < n && c[k + 1].cls != kS) ? k + 1 : k;
  if (c[s].cls != kS) {
    size_t e = s + 1;
    while (e < n && c[e].cls == c[s].cls) ++e;
    return e;
  }
  // Whitespace: '\s+(?!\S)' leaves the last space to the next token when a non-space follows;
  // a single space before a non-space is matched by '\s+' alone.
  size_t e = k + 1;
  while (e < n && c[e].cls == kS) ++e;
  if (e == n) return e;
  return e - 1 > k ? e - 1 : e;
}

void gpt2_cps(std::string_view text, const std::vector<Cp>& c, size_t lo, size_t hi,
              std::vector<std::string_view>& out) {
  // Runs the regex on the code points [lo, hi) as if they were the whole text.
  std::vector<Cp> sub(c.begin() + lo, c.begin() + hi);
  size_t end_byte = hi < c.size() ? c[hi].off : text.size();
  for (size_t k = 0; k < sub.size();) {
    size_t e = gpt2_match_end(sub, k);
    size_t b0 = sub[k].off, b1 = e < sub.size() ? sub[e].off : end_byte;
    out.push_back(text.substr(b0, b1 - b0));
    k = e;
  }
}

}  // namespace

uint32_t utf8_next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  unsigned char b = p[i];
  if (b < 0x80) {
    ++i;
    return b;
  }
  int len = (b >= 0xC2 && b <= 0xDF)   ? 2
            : (b >= 0xE0 && b <= 0xEF) ? 3
            : (b >= 0xF0 && b <= 0xF4) ? 4
                                       : 0;
  if (len == 0 || i + len > n) {
    ++i;
    return 0xFFFD;
  }
  uint32_t cp = b & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) {
    unsigned char c = p[i + k];
    if ((c & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool unicode_is_letter(uint32_t cp) {
  return in_table(cp, unicode_tables::kLetter, unicode_tables::kLetterCount);
}
bool unicode_is_number(uint32_t cp) {
  return in_table(cp, unicode_tables::kNumber, unicode_tables::kNumberCount);
}
bool unicode_is_whitespace(uint32_t cp) {
  return in_table(cp, unicode_tables::kSpace, unicode_tables::kSpaceCount);
}

void pretokenize_gpt2(std::string_view text, std::vector<std::string_view>& out) {
  std::vector<Cp> c;
  decode_cps(text, c);
  gpt2_cps(text, c, 0, c.size(), out);
}

void pretokenize_smollm(std::string_view text, std::vector<std::string_view>& out) {
  std::vector<Cp> c;
  decode_cps(text, c);
  size_t lo = 0;
  for (size_t k = 0; k < c.size(); ++k) {
    if (c[k].cls != kN) continue;
    gpt2_cps(text, c, lo, k, out);
    size_t b1 = k + 1 < c.size() ? c[k + 1].off : text.size();
    out.push_back(text.substr(c[k].off, b1 - c[k].off));
    lo = k + 1;
  }
  gpt2_cps(text, c, lo, c.size(), out);
}

uint32_t byte_to_unicode(uint8_t b) {
  // Printable Latin-1 bytes map to themselves; the other 68 follow from U+0100 in byte order.
  auto printable = [](int x) {
    return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174;
  };
  if (printable(b)) return b;
  uint32_t n = 0;
  for (int x = 0; x < b; ++x)
    if (!printable(x)) ++n;
  return 256 + n;
}

int unicode_to_byte(uint32_t cp) {
  static const std::vector<int> inverse = [] {
    std::vector<int> inv(512, -1);
    for (int b = 0; b < 256; ++b) inv[byte_to_unicode(static_cast<uint8_t>(b))] = b;
    return inv;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

}  // namespace k1rl
