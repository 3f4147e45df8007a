// Countdown: reach a target from given numbers with + - * / and parentheses, each number used
// exactly once. The checker evaluates the answer expression in exact rational arithmetic.
#include <algorithm>
#include <cctype>

#include "lib/tasks/tasks.h"

namespace k1rl {

namespace {
// Recursive descent over: expr = term {(+|-) term}; term = factor {(*|/) factor};
// factor = integer | ( expr ) | [ expr ]. No unary minus: countdown uses the given numbers only.
class ExprParser {
 public:
  ExprParser(const std::string& s, std::vector<int64_t>* lits) : s_(normalise(s)), lits_(lits) {}

  std::optional<Rational> parse() {
    auto v = expr(0);
    skip();
    if (!v || p_ != s_.size()) return std::nullopt;
    return v;
  }
  bool div_zero = false;

 private:
  std::string s_;
  size_t p_ = 0;
  std::vector<int64_t>* lits_;

  static std::string normalise(std::string s) {
    auto rep = [&](const std::string& from, const std::string& to) {
      for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
    };
    rep("\xC3\x97", "*");      // ×
    rep("\xC3\xB7", "/");      // ÷
    rep("\xC2\xB7", "*");      // ·
    rep("\xE2\x88\x92", "-");  // unicode minus
    rep("\\times", "*");
    rep("\\cdot", "*");
    rep("\\div", "/");
    rep("\\left", "");
    rep("\\right", "");
    for (auto& c : s)
      if (c == 'x' || c == 'X') c = '*';
    return s;
  }
  void skip() {
    while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) ++p_;
  }
  std::optional<Rational> expr(int depth) {
    auto a = term(depth);
    for (;;) {
      skip();
      if (!a || p_ >= s_.size() || (s_[p_] != '+' && s_[p_] != '-')) return a;
      char op = s_[p_++];
      auto b = term(depth);
      if (!b) return std::nullopt;
      a = op == '+' ? rat_add(*a, *b) : rat_sub(*a, *b);
    }
  }
  std::optional<Rational> term(int depth) {
    auto a = factor(depth);
    for (;;) {
      skip();
      if (!a || p_ >= s_.size() || (s_[p_] != '*' && s_[p_] != '/')) return a;
      char op = s_[p_++];
      auto b = factor(depth);
      if (!b) return std::nullopt;
      if (op == '/' && b->num == 0) {
        div_zero = true;
        return std::nullopt;
      }
      a = op == '*' ? rat_mul(*a, *b) : rat_div(*a, *b);
    }
  }
  std::optional<Rational> factor(int depth) {
    if (depth > 64) return std::nullopt;
    skip();
    if (p_ >= s_.size()) return std::nullopt;
    char c = s_[p_];
    if (c == '(' || c == '[' || c == '{') {
      char close = c == '(' ? ')' : c == '[' ? ']' : '}';
      ++p_;
      auto v = expr(depth + 1);
      skip();
      if (!v || p_ >= s_.size() || s_[p_] != close) return std::nullopt;
      ++p_;
      return v;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    int64_t v = 0;
    int nd = 0;
    while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) {
      if (++nd > 15) return std::nullopt;
      v = v * 10 + (s_[p_++] - '0');
    }
    if (lits_) lits_->push_back(v);
    return Rational::make(v, 1);
  }
};

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// The expression part of an answer region: strips $..$, **..**, a trailing period, and an
// "= target" on either side ("(3+5)*3 = 24" or "24 = (3+5)*3").
std::string expression_part(std::string s) {
  s = trim(s);
  for (int i = 0; i < 4; ++i) {
    if (s.size() >= 2 && s.front() == '$' && s.back() == '$') s = trim(s.substr(1, s.size() - 2));
    if (s.size() >= 4 && s.rfind("**", 0) == 0 && s.compare(s.size() - 2, 2, "**") == 0)
      s = trim(s.substr(2, s.size() - 4));
    if (!s.empty() && s.back() == '.') s = trim(s.substr(0, s.size() - 1));
  }
  size_t eq = s.find('=');
  if (eq == std::string::npos) return s;
  std::string lhs = trim(s.substr(0, eq)), rhs = trim(s.substr(eq + 1));
  auto has_op = [](const std::string& t) {
    return t.find_first_of("+-*/x()") != std::string::npos;
  };
  return has_op(lhs) || !has_op(rhs) ? lhs : rhs;
}
}  // namespace

std::optional<Rational> eval_expression(const std::string& expr, std::vector<int64_t>* literals,
                                        bool* div_zero) {
  if (expr.size() > 1000) return std::nullopt;
  ExprParser p(expr, literals);
  auto v = p.parse();
  if (div_zero) *div_zero = p.div_zero;
  return v;
}

CheckResult check_countdown(const Task& task, const std::string& response) {
  CheckResult r;
  Extracted ex = extract_answer(response);
  if (!ex.found) {  // a bare expression as the whole response is its own answer
    std::string t = trim(response);
    if (!t.empty() && t.find('\n') == std::string::npos &&
        eval_expression(expression_part(t), nullptr)) {
      ex.found = true;
      ex.text = t;
    }
  }
  if (!ex.found) {
    r.reason = "no_answer";
    return r;
  }
  r.extracted = ex.text;
  std::vector<int64_t> used;
  bool dz = false;
  auto v = eval_expression(expression_part(ex.text), &used, &dz);
  if (!v) {
    r.reason = dz ? "div_by_zero" : "unparsable";
    return r;
  }
  std::vector<int64_t> given = task.numbers;
  std::sort(given.begin(), given.end());
  std::sort(used.begin(), used.end());
  if (used != given) {
    r.reason = "wrong_numbers";
    return r;
  }
  bool ok = v->den == 1 && v->num == task.target;
  r.score = ok ? 1.0 : 0.0;
  r.reason = ok ? "correct" : "wrong";
  return r;
}

}  // namespace k1rl
