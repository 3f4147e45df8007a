// Generators for addition, multiplication and linear equations, each with a short solution and
// a long, self-checking one (column arithmetic or solving steps, then a check by the inverse).
#include <algorithm>
#include <cstdlib>

#include "lib/tasks/tasks-impl.h"

namespace k1rl::tasks_impl {

namespace {
int64_t pow10i(int k) {
  int64_t p = 1;
  while (k-- > 0) p *= 10;
  return p;
}

// A non-negative integer with exactly k digits (k == 1: 0..9).
int64_t with_digits(Rng& rng, int k) {
  if (k <= 1) return uniform_int(rng, 0, 9);
  return uniform_int(rng, pow10i(k - 1), pow10i(k) - 1);
}

std::string num(int64_t v) {
  return std::to_string(v);
}

// The column lines (and the last carry) of the long addition.
std::string addition_columns(int64_t a, int64_t b) {
  std::string s;
  int64_t x = a, y = b, carry = 0;
  do {
    int64_t dx = x % 10, dy = y % 10, sum = dx + dy + carry;
    s += strfmt("%lld+%lld+%lld=%lld: write %lld, carry %lld.\n", (long long)dx, (long long)dy,
                (long long)carry, (long long)sum, (long long)(sum % 10), (long long)(sum / 10));
    carry = sum / 10;
    x /= 10;
    y /= 10;
  } while (x > 0 || y > 0);
  if (carry) s += strfmt("Write the last carry %lld.\n", (long long)carry);
  return s;
}

std::string long_addition(int64_t a, int64_t b) {
  std::string s = "Add column by column from the right.\n" + addition_columns(a, b);
  int64_t c = a + b;
  s += strfmt("So %lld+%lld=%lld.\nCheck: %lld-%lld=%lld. Correct.\nAnswer: %lld", (long long)a,
              (long long)b, (long long)c, (long long)c, (long long)b, (long long)a, (long long)c);
  return s;
}

std::string long_multiplication(int64_t a, int64_t b) {
  std::string s = "Multiply by each digit of " + num(b) + " from the right, then add.\n";
  int64_t y = b, place = 1, total = 0;
  std::vector<int64_t> parts;
  do {
    int64_t d = y % 10, part = a * d * place;
    s += strfmt("%lld*%lld=%lld\n", (long long)a, (long long)(d * place), (long long)part);
    parts.push_back(part);
    total += part;
    y /= 10;
    place *= 10;
  } while (y > 0);
  if (parts.size() > 1) {
    s += "Add: ";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i) s += "+";
      s += num(parts[i]);
    }
    s += strfmt("=%lld.\n", (long long)total);
  }
  if (b != 0)
    s += strfmt("Check: %lld/%lld=%lld. Correct.\n", (long long)total, (long long)b, (long long)a);
  else
    s += "Check: anything times 0 is 0. Correct.\n";
  s += "Answer: " + num(total);
  return s;
}
}  // namespace

Task gen_addition(int d, Rng& rng) {
  int64_t a = with_digits(rng, d);
  int64_t b = with_digits(rng, d == 1 ? 1 : static_cast<int>(uniform_int(rng, 1, d)));
  if (rng.below(2)) std::swap(a, b);
  Task t;
  t.task = "addition";
  t.difficulty = d;
  t.prompt = num(a) + "+" + num(b) + "=";
  t.answer = num(a + b);
  t.solution = t.answer;
  t.solution_long = long_addition(a, b);
  t.solution_concise = addition_columns(a, b) + "Answer: " + t.answer;
  return t;
}

Task gen_multiplication(int d, Rng& rng) {
  static const int digits[11][2] = {{1, 1}, {1, 1}, {2, 1}, {2, 2}, {3, 1}, {3, 2},
                                    {3, 3}, {4, 3}, {4, 4}, {5, 4}, {6, 5}};
  int64_t a = with_digits(rng, digits[d][0]);
  int64_t b = with_digits(rng, digits[d][1]);
  if (rng.below(2)) std::swap(a, b);
  Task t;
  t.task = "multiplication";
  t.difficulty = d;
  t.prompt = num(a) + "*" + num(b) + "=";
  t.answer = num(a * b);
  t.solution = t.answer;
  t.solution_long = long_multiplication(a, b);
  return t;
}

// ---------------------------------------------------------------------------------------------
// Linear equations a*x + b = c*x + e (a != c), shown in a form that depends on the difficulty.
namespace {
Rational R(int64_t n, int64_t d = 1) {
  return *Rational::make(n, d);
}

// "3x", "-x", "x", "(2/3)x"
std::string x_term(const Rational& a) {
  if (a.den == 1) {
    if (a.num == 1) return "x";
    if (a.num == -1) return "-x";
    return a.str() + "x";
  }
  std::string s = "(";
  s += a.str();
  return s + ")x";
}

// Appends " + v" / " - v" (or nothing when v is 0 and `skip_zero`).
std::string plus_term(const Rational& v) {
  if (v.num == 0) return "";
  Rational m = v;
  if (m.num < 0) m.num = -m.num;
  return (v.num < 0 ? " - " : " + ") + m.str();
}

// "(3)" for negatives in checks so that 3*-2 reads 3*(-2).
std::string par(const Rational& v) {
  if (v.num >= 0 && v.den == 1) return v.str();
  std::string s = "(";
  s += v.str();
  return s + ")";
}

int64_t nonzero(Rng& rng, int64_t lo, int64_t hi) {
  for (;;) {
    int64_t v = uniform_int(rng, lo, hi);
    if (v != 0) return v;
  }
}
}  // namespace

Task gen_linear(int d, Rng& rng) {
  // Left a*x + b, right c*x + e; the text may show a factored form.
  Rational a = R(1), b = R(0), c = R(0), e = R(0), x = R(0);
  std::string lhs, rhs;
  if (d <= 4) {
    int64_t A = d == 1 ? 1 : d == 4 ? nonzero(rng, -9, 9) : uniform_int(rng, 2, 9);
    if (d == 4 && (A == 1 || A == -1)) A = 7;
    int64_t X = d == 4 ? uniform_int(rng, -10, 10) : uniform_int(rng, 0, d == 1 ? 9 : 10);
    int64_t B = d == 2 ? 0 : d == 4 ? nonzero(rng, -20, 20) : uniform_int(rng, 1, d == 1 ? 9 : 20);
    a = R(A), b = R(B), x = R(X), e = R(A * X + B);
  } else if (d == 5 || d == 7) {
    int64_t A = nonzero(rng, -9, 9), C = nonzero(rng, -9, 9);
    if (A == C) C = A + 1 == 0 ? 2 : A + 1;
    int64_t B = nonzero(rng, -20, 20);
    if (d == 5) {
      int64_t X = uniform_int(rng, -10, 10);
      a = R(A), c = R(C), b = R(B), x = R(X),
      e = *rat_sub(*rat_add(*rat_mul(a, x), b), *rat_mul(c, x));
    } else {
      a = R(A), c = R(C), b = R(B), e = R(nonzero(rng, -30, 30));
    }
  } else if (d == 6) {
    a = R(uniform_int(rng, 2, 12)), b = R(nonzero(rng, -30, 30)), e = R(nonzero(rng, -30, 30));
  } else if (d == 8 || d == 9) {
    // A(x + P) [+ Q] = C(x + S): expands to A x + (A P + Q) = C x + C S.
    int64_t A = nonzero(rng, -12, 12), C = nonzero(rng, -12, 12);
    if (A == C) C = -A;
    int64_t P = nonzero(rng, -15, 15), S = nonzero(rng, -15, 15),
            Q = d == 9 ? nonzero(rng, -20, 20) : 0;
    a = R(A), c = R(C), b = R(A * P + Q), e = R(C * S);
    lhs = (A == 1    ? ""
           : A == -1 ? "-"
                     : std::to_string(A)) +
          "(x" + plus_term(R(P)) + ")" + plus_term(R(Q));
    rhs = (C == 1 ? "" : C == -1 ? "-" : std::to_string(C)) + "(x" + plus_term(R(S)) + ")";
  } else {  // 10: fractional coefficients
    a = R(nonzero(rng, -9, 9), uniform_int(rng, 2, 9));
    c = R(nonzero(rng, -9, 9), uniform_int(rng, 2, 9));
    if (a == c) c = *rat_add(c, R(1));
    b = R(nonzero(rng, -20, 20), uniform_int(rng, 1, 4));
    e = R(nonzero(rng, -20, 20), uniform_int(rng, 1, 4));
  }
  Rational da = *rat_sub(a, c), de = *rat_sub(e, b);
  x = *rat_div(de, da);
  if (lhs.empty()) {
    lhs = x_term(a) + plus_term(b);
    rhs = c.num == 0 ? e.str() : x_term(c) + plus_term(e);
  }
  Task t;
  t.task = "linear";
  t.difficulty = d;
  t.prompt = "Solve for x: " + lhs + " = " + rhs;
  t.answer = x.str();
  Rational lv = *rat_add(*rat_mul(a, x), b), rv = *rat_add(*rat_mul(c, x), e);
  std::string s = lhs + " = " + rhs + "\n";
  if (c.num != 0 || lhs.find('(') != std::string::npos)
    s += "Expand and collect x on the left, numbers on the right: " + x_term(da) + " = " +
         de.str() + "\n";
  else if (b.num != 0)
    s += "Subtract " + par(b) + " from both sides: " + x_term(a) + " = " + de.str() + "\n";
  if (!(da == R(1))) s += "Divide both sides by " + par(da) + ": x = " + x.str() + "\n";
  s += "Check: left side " + lv.str() + ", right side " + rv.str() + ". Equal, so correct.\n";
  t.solution_long = s + "Answer: " + x.str();
  t.solution = x_term(da) + " = " + de.str() + ", so x = " + x.str() + ".\nAnswer: " + x.str();
  return t;
}

}  // namespace k1rl::tasks_impl
