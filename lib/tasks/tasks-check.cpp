// Answer checkers: extraction (Answer: / \boxed{} / a bare number), exact rational numbers with the
// formats models write (1,000  -0  3/6  \frac{1}{2}  $5$), numeric checking, code extraction and
// program output comparison. Countdown lives in tasks-countdown.cpp.
#include <algorithm>
#include <cctype>

#include "lib/tasks/tasks.h"

namespace k1rl {

// ---------------------------------------------------------------------------------------------
// Rationals in 128 bits; every operation reports overflow as "no value".
namespace {
__int128 gcd128(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::string i128_str(__int128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  std::string s;
  while (v != 0) {
    int d = static_cast<int>(v % 10);
    s += static_cast<char>('0' + (d < 0 ? -d : d));
    v /= 10;
  }
  if (neg) s += '-';
  std::reverse(s.begin(), s.end());
  return s;
}
}  // namespace

std::optional<Rational> Rational::make(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  __int128 g = gcd128(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  Rational r;
  r.num = num;
  r.den = den;
  return r;
}

std::string Rational::str() const {
  return den == 1 ? i128_str(num) : i128_str(num) + "/" + i128_str(den);
}

std::optional<Rational> rat_add(const Rational& a, const Rational& b) {
  __int128 x, y, d;
  if (__builtin_mul_overflow(a.num, b.den, &x) || __builtin_mul_overflow(b.num, a.den, &y) ||
      __builtin_add_overflow(x, y, &x) || __builtin_mul_overflow(a.den, b.den, &d))
    return std::nullopt;
  return Rational::make(x, d);
}

std::optional<Rational> rat_sub(const Rational& a, const Rational& b) {
  Rational nb = b;
  nb.num = -nb.num;
  return rat_add(a, nb);
}

std::optional<Rational> rat_mul(const Rational& a, const Rational& b) {
  __int128 n, d;
  if (__builtin_mul_overflow(a.num, b.num, &n) || __builtin_mul_overflow(a.den, b.den, &d))
    return std::nullopt;
  return Rational::make(n, d);
}

std::optional<Rational> rat_div(const Rational& a, const Rational& b) {
  if (b.num == 0) return std::nullopt;
  __int128 n, d;
  if (__builtin_mul_overflow(a.num, b.den, &n) || __builtin_mul_overflow(a.den, b.num, &d))
    return std::nullopt;
  return Rational::make(n, d);
}

// ---------------------------------------------------------------------------------------------
// Number parsing.
namespace {
std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
}

// Index just past the '}' closing the '{' at `open`, or npos.
size_t close_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{')
      ++depth;
    else if (s[i] == '}' && --depth == 0)
      return i + 1;
  }
  return std::string::npos;
}

// Strips the wrappers answers come in: $..$, **..**, \(..\), \[..\], {..}, \text{..},
// \boxed{..}, a trailing period, "x =".
std::string unwrap(std::string s) {
  for (int guard = 0; guard < 16; ++guard) {
    std::string before = s;
    s = trim(s);
    const std::pair<const char*, const char*> pairs[] = {
        {"$", "$"}, {"**", "**"}, {"\\(", "\\)"}, {"\\[", "\\]"}, {"`", "`"}};
    for (const auto& pr : pairs)
      if (s.size() >= 2 * std::string(pr.first).size() && starts_with(s, pr.first) &&
          ends_with(s, pr.second))
        s = s.substr(std::string(pr.first).size(),
                     s.size() - std::string(pr.first).size() - std::string(pr.second).size());
    for (const char* cmd : {"\\boxed{", "\\text{", "\\mathrm{", "\\mathbf{", "{"})
      if (starts_with(s, cmd) && close_brace(s, std::string(cmd).size() - 1) == s.size())
        s = s.substr(std::string(cmd).size(), s.size() - std::string(cmd).size() - 1);
    if (!s.empty() && s.back() == '.' && s.size() >= 2 &&
        (std::isdigit(static_cast<unsigned char>(s[s.size() - 2])) || s[s.size() - 2] == '}' ||
         s[s.size() - 2] == '$' || s[s.size() - 2] == '*'))
      s.pop_back();
    // "x = 5": one variable letter then '='.
    if (s.size() >= 2 && std::isalpha(static_cast<unsigned char>(s[0]))) {
      size_t k = 1;
      while (k < s.size() && s[k] == ' ') ++k;
      if (k < s.size() && s[k] == '=') s = s.substr(k + 1);
    }
    if (s == before) break;
  }
  return trim(s);
}

// Unsigned decimal: 1,000  0.5  .5  5.  1e3. No sign.
std::optional<Rational> parse_decimal(const std::string& s) {
  size_t i = 0, n = s.size();
  __int128 mant = 0;
  int digits = 0, frac = 0, group = -1;  // group: digits since the last comma (-1: no comma)
  bool lead_group_ok = true, any = false;
  int first_group = 0;
  auto push = [&](char c) -> bool {
    if (digits >= 36) return false;
    mant = mant * 10 + (c - '0');
    if (mant != 0 || digits > 0) ++digits;
    any = true;
    return true;
  };
  for (; i < n && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == ','); ++i) {
    if (s[i] == ',') {
      if (group == -1) {
        if (first_group < 1 || first_group > 3) lead_group_ok = false;
      } else if (group != 3) {
        return std::nullopt;
      }
      group = 0;
      continue;
    }
    if (!push(s[i])) return std::nullopt;
    if (group >= 0)
      ++group;
    else
      ++first_group;
  }
  if (group >= 0 && (group != 3 || !lead_group_ok)) return std::nullopt;
  if (i < n && s[i] == '.') {
    ++i;
    for (; i < n && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
      if (!push(s[i])) return std::nullopt;
      ++frac;
    }
  }
  if (!any) return std::nullopt;
  int exp10 = 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    int e = 0, ed = 0;
    for (; i < n && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++ed) {
      e = e * 10 + (s[i] - '0');
      if (e > 60) return std::nullopt;
    }
    if (ed == 0) return std::nullopt;
    exp10 = neg ? -e : e;
  }
  if (i != n) return std::nullopt;
  int shift = exp10 - frac;
  __int128 den = 1;
  for (; shift > 0; --shift)
    if (__builtin_mul_overflow(mant, static_cast<__int128>(10), &mant)) return std::nullopt;
  for (; shift < 0; ++shift)
    if (__builtin_mul_overflow(den, static_cast<__int128>(10), &den)) return std::nullopt;
  return Rational::make(mant, den);
}

std::optional<Rational> parse_signed(std::string s, int depth);

// \frac{A}{B}, \dfrac{A}{B}, \tfrac{A}{B}
std::optional<Rational> parse_frac(const std::string& s, int depth) {
  size_t p = 0;
  for (const char* cmd : {"\\frac", "\\dfrac", "\\tfrac"})
    if (starts_with(s, cmd)) p = std::string(cmd).size();
  if (p == 0 || p >= s.size() || s[p] != '{') return std::nullopt;
  size_t e1 = close_brace(s, p);
  if (e1 == std::string::npos || e1 >= s.size() || s[e1] != '{') return std::nullopt;
  size_t e2 = close_brace(s, e1);
  if (e2 != s.size()) return std::nullopt;
  auto a = parse_signed(s.substr(p + 1, e1 - p - 2), depth + 1);
  auto b = parse_signed(s.substr(e1 + 1, e2 - e1 - 2), depth + 1);
  if (!a || !b) return std::nullopt;
  return rat_div(*a, *b);
}

std::optional<Rational> parse_signed(std::string s, int depth) {
  if (depth > 4) return std::nullopt;
  s = unwrap(s);
  replace_all(s, "\xE2\x88\x92", "-");  // unicode minus
  replace_all(s, "{,}", ",");
  replace_all(s, "\\,", "");
  replace_all(s, "\\!", "");
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s = trim(s.substr(1));
  }
  std::optional<Rational> v;
  if (starts_with(s, "\\")) {
    v = parse_frac(s, depth);
  } else if (size_t slash = s.find('/'); slash != std::string::npos) {
    if (s.find('/', slash + 1) != std::string::npos) return std::nullopt;
    auto a = parse_signed(s.substr(0, slash), depth + 1);
    auto b = parse_signed(s.substr(slash + 1), depth + 1);
    if (a && b) v = rat_div(*a, *b);
  } else if (!s.empty() && s[0] != '+' && s[0] != '-') {
    v = parse_decimal(s);
  }
  if (v && neg) v->num = -v->num;
  return v;
}
}  // namespace

std::optional<Rational> parse_number(const std::string& text) {
  if (text.size() > 200) return std::nullopt;
  return parse_signed(text, 0);
}

// ---------------------------------------------------------------------------------------------
// Extraction.
Extracted extract_answer(const std::string& response) {
  Extracted ex;
  // Last "answer:" in any letter case.
  size_t pos_a = std::string::npos;
  static const std::string key = "answer:";
  for (size_t i = 0; i + key.size() <= response.size(); ++i) {
    size_t k = 0;
    while (k < key.size() && std::tolower(static_cast<unsigned char>(response[i + k])) == key[k])
      ++k;
    if (k == key.size()) pos_a = i;
  }
  size_t pos_b = response.rfind("\\boxed{");
  if (pos_b != std::string::npos && (pos_a == std::string::npos || pos_b > pos_a)) {
    size_t open = pos_b + 6;
    size_t end = close_brace(response, open);
    if (end != std::string::npos) {
      ex.found = true;
      ex.how = "boxed";
      ex.text = trim(response.substr(open + 1, end - open - 2));
      return ex;
    }
  }
  if (pos_a != std::string::npos) {
    size_t start = pos_a + key.size();
    size_t eol = response.find('\n', start);
    std::string line =
        response.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
    std::string t = trim(line);
    // "**Answer:** 42": drop the closing bold marker (but keep "Answer: **42**" whole).
    size_t k = 0;
    while (k < t.size() && (t[k] == '*' || t[k] == '_')) ++k;
    if (k > 0 && !ends_with(t, t.substr(0, k))) t = trim(t.substr(k));
    if (t.empty() && eol != std::string::npos) {  // "Answer:\n42": take the next non-empty line
      size_t p = eol + 1;
      while (p < response.size()) {
        size_t e = response.find('\n', p);
        std::string l =
            trim(response.substr(p, e == std::string::npos ? std::string::npos : e - p));
        if (!l.empty()) {
          t = l;
          break;
        }
        if (e == std::string::npos) break;
        p = e + 1;
      }
    }
    if (!t.empty()) {
      ex.found = true;
      ex.how = "answer";
      ex.text = t;
    }
    return ex;
  }
  std::string t = trim(response);
  if (!t.empty() && parse_number(t)) {
    ex.found = true;
    ex.how = "bare";
    ex.text = t;
  }
  return ex;
}

namespace {
// The one number an answer region states: the whole region, the part after its last '=', or
// the single whitespace-separated token that is a number (more than one different: ambiguous).
std::optional<Rational> region_number(const std::string& region, bool* ambiguous) {
  *ambiguous = false;
  if (auto v = parse_number(region)) return v;
  size_t eq = region.rfind('=');
  if (eq != std::string::npos)
    if (auto v = parse_number(region.substr(eq + 1))) return v;
  std::optional<Rational> found;
  size_t p = 0;
  while (p < region.size()) {
    while (p < region.size() && std::isspace(static_cast<unsigned char>(region[p]))) ++p;
    size_t e = p;
    while (e < region.size() && !std::isspace(static_cast<unsigned char>(region[e]))) ++e;
    if (e == p) break;
    std::string tok = region.substr(p, e - p);
    while (!tok.empty() && std::string(",;:!?)").find(tok.back()) != std::string::npos)
      tok.pop_back();
    if (!tok.empty() && tok[0] == '(') tok = tok.substr(1);
    if (auto v = parse_number(tok)) {
      if (found && !(*found == *v)) {
        *ambiguous = true;
        return std::nullopt;
      }
      found = v;
    }
    p = e;
  }
  return found;
}
}  // namespace

CheckResult check_numeric(const Task& task, const std::string& response) {
  CheckResult r;
  auto want = parse_number(task.answer);
  if (!want)
    throw InputError("task '" + task.id + "'", "its answer '" + task.answer + "' is not a number",
                     "regenerate the task file with k1rl-tasks");
  Extracted ex = extract_answer(response);
  if (!ex.found) {
    r.reason = "no_answer";
    return r;
  }
  r.extracted = ex.text;
  bool ambiguous = false;
  auto got = region_number(ex.text, &ambiguous);
  if (!got) {
    r.reason = ambiguous ? "ambiguous" : "unparsable";
    return r;
  }
  bool ok = *got == *want;
  r.score = ok ? 1.0 : 0.0;
  r.reason = ok ? "correct" : "wrong";
  return r;
}

// ---------------------------------------------------------------------------------------------
// Code.
std::string extract_code(const std::string& response) {
  // Walk the fences in order and keep the last complete block.
  std::string last;
  bool have = false;
  size_t p = 0;
  for (;;) {
    size_t open = response.find("```", p);
    if (open == std::string::npos) break;
    size_t eol = response.find('\n', open);
    if (eol == std::string::npos) break;
    size_t close = response.find("```", eol + 1);
    if (close == std::string::npos) {  // unterminated final fence: take the rest
      last = response.substr(eol + 1);
      have = true;
      break;
    }
    last = response.substr(eol + 1, close - eol - 1);
    have = true;
    p = close + 3;
  }
  return have ? last : response;
}

namespace {
std::vector<std::string> norm_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  lines.push_back(cur);
  for (auto& l : lines)
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) l.pop_back();
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}
}  // namespace

bool outputs_match(const std::string& got, const std::string& expected) {
  return norm_lines(got) == norm_lines(expected);
}

}  // namespace k1rl
