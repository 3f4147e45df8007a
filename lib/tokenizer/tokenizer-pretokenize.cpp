// The pre-tokenizers, written by hand (no regex engine): each finds where the model family's
// regex match starting at a code point ends.
//   gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   smollm: every \p{N} alone (HF Digits(individual_digits)), then gpt2 on the rest
//   qwen2:  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//           \s*[\r\n]+|\s+(?!\S)|\s+
//   llama3: qwen2 with \p{N}{1,3}
#include "lib/tokenizer/tokenizer-impl.h"

namespace k1rl {
namespace {

struct Cp {
  uint32_t cp;
  uint32_t off;  // byte offset in the text
  CharClass cls;
};

void decode_cps(std::string_view text, std::vector<Cp>& cps) {
  cps.clear();
  for (size_t i = 0; i < text.size();) {
    size_t at = i;
    uint32_t cp = utf8_next(text, i);
    cps.push_back({cp, static_cast<uint32_t>(at), char_class(cp)});
  }
}

uint32_t lower(uint32_t cp) {
  return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

// Length in code points of a contraction ('s 't 're 've 'm 'll 'd) at k, or 0.
size_t contraction_at(const std::vector<Cp>& c, size_t k, bool any_case) {
  if (c[k].cp != '\'' || k + 1 >= c.size()) return 0;
  uint32_t a = any_case ? lower(c[k + 1].cp) : c[k + 1].cp;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (k + 2 < c.size()) {
    uint32_t b = any_case ? lower(c[k + 2].cp) : c[k + 2].cp;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

size_t run_end(const std::vector<Cp>& c, size_t s, CharClass cls) {
  size_t e = s;
  while (e < c.size() && c[e].cls == cls) ++e;
  return e;
}

// '\s+(?!\S)|\s+' at a whitespace code point k: the last space of a run before a non-space is
// left to the next token, unless the run is that one space.
size_t space_run_end(const std::vector<Cp>& c, size_t k) {
  size_t e = run_end(c, k, kSpace);
  if (e == c.size()) return e;
  return e - 1 > k ? e - 1 : e;
}

size_t gpt2_match_end(const std::vector<Cp>& c, size_t k) {
  const size_t n = c.size();
  if (size_t len = contraction_at(c, k, false)) return k + len;
  // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': a space may lead a run of one class.
  size_t s = (c[k].cp == ' ' && k + 1 < n && c[k + 1].cls != kSpace) ? k + 1 : k;
  if (c[s].cls != kSpace) return run_end(c, s + 1, c[s].cls);
  return space_run_end(c, k);
}

bool is_crlf(uint32_t cp) {
  return cp == '\r' || cp == '\n';
}

size_t qwen_match_end(const std::vector<Cp>& c, size_t k, size_t max_digits) {
  const size_t n = c.size();
  if (size_t len = contraction_at(c, k, true)) return k + len;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c[k].cls == kLetter) return run_end(c, k + 1, kLetter);
  if (c[k].cls != kNumber && !is_crlf(c[k].cp) && k + 1 < n && c[k + 1].cls == kLetter)
    return run_end(c, k + 2, kLetter);
  // \p{N} or \p{N}{1,3}
  if (c[k].cls == kNumber) {
    size_t e = k + 1;
    while (e < n && e - k < max_digits && c[e].cls == kNumber) ++e;
    return e;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  size_t s = (c[k].cp == ' ' && k + 1 < n && c[k + 1].cls == kOther) ? k + 1 : k;
  if (c[s].cls == kOther) {
    size_t e = run_end(c, s + 1, kOther);
    while (e < n && is_crlf(c[e].cp)) ++e;
    return e;
  }
  // '\s*[\r\n]+': the whitespace run up to and including its last \r or \n.
  size_t e = run_end(c, k, kSpace);
  for (size_t p = e; p > k; --p)
    if (is_crlf(c[p - 1].cp)) return p;
  return space_run_end(c, k);
}

// Runs a matcher over the code points [lo, hi) as if they were the whole text.
template <class Match>
void split_cps(std::string_view text, const std::vector<Cp>& c, size_t lo, size_t hi,
               std::vector<std::string_view>& out, Match match) {
  std::vector<Cp> sub(c.begin() + lo, c.begin() + hi);
  size_t end_byte = hi < c.size() ? c[hi].off : text.size();
  for (size_t k = 0; k < sub.size();) {
    size_t e = match(sub, k);
    size_t b0 = sub[k].off, b1 = e < sub.size() ? sub[e].off : end_byte;
    out.push_back(text.substr(b0, b1 - b0));
    k = e;
  }
}

}  // namespace

void pretokenize(std::string_view text, const std::string& pre,
                 std::vector<std::string_view>& out) {
  std::vector<Cp> c;
  decode_cps(text, c);
  if (pre == "gpt2") {
    split_cps(text, c, 0, c.size(), out, gpt2_match_end);
  } else if (pre == "smollm") {
    size_t lo = 0;
    for (size_t k = 0; k < c.size(); ++k) {
      if (c[k].cls != kNumber) continue;
      split_cps(text, c, lo, k, out, gpt2_match_end);
      size_t b1 = k + 1 < c.size() ? c[k + 1].off : text.size();
      out.push_back(text.substr(c[k].off, b1 - c[k].off));
      lo = k + 1;
    }
    split_cps(text, c, lo, c.size(), out, gpt2_match_end);
  } else if (pre == "qwen2" || pre == "llama3") {
    const size_t digits = pre == "qwen2" ? 1 : 3;
    split_cps(text, c, 0, c.size(), out, [digits](const std::vector<Cp>& s, size_t k) {
      return qwen_match_end(s, k, digits);
    });
  } else {
    throw ConfigError("BPE pre-tokenizer '" + pre + "'", "is not supported",
                      "supported: gpt2, smollm, qwen2, llama3");
  }
}

std::vector<std::string> pretokenize(std::string_view text, const std::string& pre) {
  std::vector<std::string_view> v;
  pretokenize(text, pre, v);
  return {v.begin(), v.end()};
}

}  // namespace k1rl
