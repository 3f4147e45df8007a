// UTF-8 decoding, the Unicode classes the pre-tokenizer regexes use, and GPT-2's byte alphabet.
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

}  // namespace

CharClass char_class(uint32_t cp) {
  if (cp < 128) {
    if ((cp | 32) >= 'a' && (cp | 32) <= 'z') return kLetter;
    if (cp >= '0' && cp <= '9') return kNumber;
    if (cp == ' ' || (cp >= 9 && cp <= 13)) return kSpace;
    return kOther;
  }
  if (unicode_is_letter(cp)) return kLetter;
  if (unicode_is_number(cp)) return kNumber;
  if (unicode_is_whitespace(cp)) return kSpace;
  return kOther;
}

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
