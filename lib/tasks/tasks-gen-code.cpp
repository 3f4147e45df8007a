// Code tasks: "write a Python program that reads stdin and prints the answer". Each template has
// a parameter K (and sometimes M) in its prompt, a reference Python program (the task's answer),
// and a C++ oracle that makes the test cases; tests/unit/tasks checks the two agree in the sandbox.
#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "lib/tasks/tasks-impl.h"

namespace k1rl::tasks_impl {

namespace {
using Ints = std::vector<int64_t>;

struct Params {
  int64_t K = 0, M = 0;
};

struct CodeTemplate {
  int difficulty;
  int64_t k_lo, k_hi, m_lo, m_hi;
  std::string what;     // prompt body after "Write a Python program that reads "
  std::string program;  // with {K} {M} {C} placeholders
  std::string plan;     // one line for the long solution
  std::function<TestCase(Rng&, const Params&)> make;
};

std::string fill(std::string s, const Params& p) {
  auto rep = [&](const std::string& from, const std::string& to) {
    for (size_t q = s.find(from); q != std::string::npos; q = s.find(from, q + to.size()))
      s.replace(q, from.size(), to);
  };
  rep("{K}", std::to_string(p.K));
  rep("{M}", std::to_string(p.M));
  rep("{C}", std::string(1, static_cast<char>('a' + (p.K % 26))));
  return s;
}

std::string join(const Ints& v, const char* sep = " ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += sep;
    s += std::to_string(v[i]);
  }
  return s;
}

Ints rand_ints(Rng& rng, int64_t n, int64_t lo, int64_t hi) {
  Ints v;
  for (int64_t i = 0; i < n; ++i) v.push_back(uniform_int(rng, lo, hi));
  return v;
}

std::string rand_word(Rng& rng, int64_t lo, int64_t hi, const std::string& alphabet) {
  std::string w;
  int64_t n = uniform_int(rng, lo, hi);
  for (int64_t i = 0; i < n; ++i) w += alphabet[rng.below(alphabet.size())];
  return w;
}

const std::string kLower = "abcdefghijklmnopqrstuvwxyz";

// "n\na1 a2 ...\n" for a list of integers.
std::string list_input(const Ints& v) {
  return std::to_string(v.size()) + "\n" + join(v) + "\n";
}

int64_t pmod(int64_t a, int64_t m) {
  return ((a % m) + m) % m;
}

bool is_prime(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

const std::vector<CodeTemplate>& templates() {
  static const std::vector<CodeTemplate> t = {
      {1, 1, 99, 0, 0, "one integer n and prints n + {K}.", "n = int(input())\nprint(n + {K})",
       "read n, add {K}, print.",
       [](Rng& r, const Params& p) {
         int64_t n = uniform_int(r, -1000, 1000);
         return TestCase{std::to_string(n) + "\n", std::to_string(n + p.K) + "\n"};
       }},
      {1, 2, 99, 0, 0, "one integer n and prints n * {K}.", "n = int(input())\nprint(n * {K})",
       "read n, multiply by {K}, print.",
       [](Rng& r, const Params& p) {
         int64_t n = uniform_int(r, -1000, 1000);
         return TestCase{std::to_string(n) + "\n", std::to_string(n * p.K) + "\n"};
       }},
      {2, 2, 50, 0, 0, "two integers a and b on one line and prints a * {K} + b.",
       "a, b = map(int, input().split())\nprint(a * {K} + b)", "split the line into a and b.",
       [](Rng& r, const Params& p) {
         int64_t a = uniform_int(r, -100, 100), b = uniform_int(r, -100, 100);
         return TestCase{strfmt("%lld %lld\n", (long long)a, (long long)b),
                         std::to_string(a * p.K + b) + "\n"};
       }},
      {2, 2, 9, 0, 0, "a word and prints it {K} times on one line, separated by single spaces.",
       "w = input().strip()\nprint(' '.join([w] * {K}))", "repeat the word with join.",
       [](Rng& r, const Params& p) {
         std::string w = rand_word(r, 1, 8, kLower), out;
         for (int64_t i = 0; i < p.K; ++i) out += (i ? " " : "") + w;
         return TestCase{w + "\n", out + "\n"};
       }},
      {3, 2, 999, 0, 0,
       "an integer n and then n integers on the next line, and prints their sum modulo {K}.",
       "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(xs) % {K})",
       "sum the list; Python's % is never negative for a positive modulus.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, 1, 10), -1000, 1000);
         int64_t s = std::accumulate(v.begin(), v.end(), int64_t{0});
         return TestCase{list_input(v), std::to_string(pmod(s, p.K)) + "\n"};
       }},
      {3, 0, 25, 0, 0,
       "a line of lowercase letters and prints how many times the letter '{C}' appears in it.",
       "s = input()\nprint(s.count('{C}'))", "use str.count.",
       [](Rng& r, const Params& p) {
         char c = static_cast<char>('a' + p.K);
         std::string alpha = std::string("abcde") + c;
         std::string s = rand_word(r, 5, 30, alpha);
         return TestCase{s + "\n", std::to_string(std::count(s.begin(), s.end(), c)) + "\n"};
       }},
      {4, 2, 20, 0, 0,
       "an integer n and then n integers on the next line, and prints how many of them are "
       "divisible by {K}.",
       "n = int(input())\nxs = list(map(int, input().split()))\nprint(sum(1 for x in xs if x % {K} "
       "== 0))",
       "count the numbers whose remainder is 0.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, 1, 15), -100, 100);
         int64_t c = std::count_if(v.begin(), v.end(), [&](int64_t x) { return x % p.K == 0; });
         return TestCase{list_input(v), std::to_string(c) + "\n"};
       }},
      {4, 2, 6, 0, 0,
       "a word and prints its characters at positions 0, {K}, 2*{K}, ... (counting from 0).",
       "s = input().strip()\nprint(s[::{K}])", "slice with step {K}.",
       [](Rng& r, const Params& p) {
         std::string s = rand_word(r, 1, 20, kLower), out;
         for (size_t i = 0; i < s.size(); i += static_cast<size_t>(p.K)) out += s[i];
         return TestCase{s + "\n", out + "\n"};
       }},
      {5, 1, 5, 0, 0,
       "an integer n and then n integers on the next line (n is at least {K}), and prints the {K} "
       "largest of them in decreasing order, separated by spaces.",
       "n = int(input())\nxs = sorted(map(int, input().split()), reverse=True)\nprint(' "
       "'.join(map(str, xs[:{K}])))",
       "sort in decreasing order and keep the first {K}.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, p.K, p.K + 8), -50, 50);
         Ints s = v;
         std::sort(s.rbegin(), s.rend());
         s.resize(static_cast<size_t>(p.K));
         return TestCase{list_input(v), join(s) + "\n"};
       }},
      {5, 2, 1000, 0, 0, "an integer n and prints the sum of i*i for i from 1 to n, modulo {K}.",
       "n = int(input())\nprint(sum(i * i for i in range(1, n + 1)) % {K})",
       "sum the squares with a generator.",
       [](Rng& r, const Params& p) {
         int64_t n = uniform_int(r, 1, 2000), s = 0;
         for (int64_t i = 1; i <= n; ++i) s += i * i;
         return TestCase{std::to_string(n) + "\n", std::to_string(s % p.K) + "\n"};
       }},
      {6, 2, 1000, 0, 0,
       "an integer n and prints the n-th Fibonacci number modulo {K}, where F(0) = 0 and F(1) = 1.",
       "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, (a + b) % {K}\nprint(a % "
       "{K})",
       "iterate the pair (F(i), F(i+1)) modulo {K}.",
       [](Rng& r, const Params& p) {
         int64_t n = uniform_int(r, 0, 500), a = 0, b = 1;
         for (int64_t i = 0; i < n; ++i) {
           int64_t c = (a + b) % p.K;
           a = b;
           b = c;
         }
         return TestCase{std::to_string(n) + "\n", std::to_string(a % p.K) + "\n"};
       }},
      {6, 0, 99, 0, 0,
       "an integer n and prints the smallest prime number that is at least n + {K}.",
       "def is_prime(m):\n    if m < 2:\n        return False\n    d = 2\n    while d * d <= m:\n"
       "        if m % d == 0:\n            return False\n        d += 1\n    return True\n\n"
       "n = int(input())\nm = n + {K}\nwhile not is_prime(m):\n    m += 1\nprint(m)",
       "trial division from n + {K} upwards.",
       [](Rng& r, const Params& p) {
         int64_t n = uniform_int(r, 1, 1000), m = n + p.K;
         while (!is_prime(m)) ++m;
         return TestCase{std::to_string(n) + "\n", std::to_string(m) + "\n"};
       }},
      {7, 1, 50, 0, 0, "two positive integers a and b on one line and prints gcd(a, b) * {K}.",
       "import math\na, b = map(int, input().split())\nprint(math.gcd(a, b) * {K})",
       "use math.gcd.",
       [](Rng& r, const Params& p) {
         int64_t g = uniform_int(r, 1, 50), a = g * uniform_int(r, 1, 200),
                 b = g * uniform_int(r, 1, 200);
         return TestCase{strfmt("%lld %lld\n", (long long)a, (long long)b),
                         std::to_string(std::gcd(a, b) * p.K) + "\n"};
       }},
      {7, 1, 4, 0, 0,
       "a line of words separated by spaces (at least {K} words) and prints word number {K} "
       "(counting from 1) when the words are sorted by length, ties broken alphabetically.",
       "ws = input().split()\nws.sort(key=lambda w: (len(w), w))\nprint(ws[{K} - 1])",
       "sort with the key (length, word).",
       [](Rng& r, const Params& p) {
         std::vector<std::string> ws;
         int64_t n = uniform_int(r, p.K, p.K + 5);
         for (int64_t i = 0; i < n; ++i) ws.push_back(rand_word(r, 1, 7, kLower));
         std::string line;
         for (size_t i = 0; i < ws.size(); ++i) line += (i ? " " : "") + ws[i];
         std::sort(ws.begin(), ws.end(), [](const std::string& a, const std::string& b) {
           return a.size() != b.size() ? a.size() < b.size() : a < b;
         });
         return TestCase{line + "\n", ws[static_cast<size_t>(p.K - 1)] + "\n"};
       }},
      {8, 2, 6, 1000, 1000000,
       "an integer n and prints the number of ways to climb n stairs taking 1 to {K} steps at a "
       "time, modulo {M}.",
       "n = int(input())\nw = [1] + [0] * n\nfor i in range(1, n + 1):\n"
       "    w[i] = sum(w[max(0, i - {K}):i]) % {M}\nprint(w[n])",
       "dynamic programming: ways(i) is the sum of the previous {K} ways.",
       [](Rng& r, const Params& p) {
         int64_t n = uniform_int(r, 0, 300);
         Ints w(static_cast<size_t>(n + 1), 0);
         w[0] = 1;
         for (int64_t i = 1; i <= n; ++i) {
           int64_t s = 0;
           for (int64_t j = std::max<int64_t>(0, i - p.K); j < i; ++j)
             s += w[static_cast<size_t>(j)];
           w[static_cast<size_t>(i)] = s % p.M;
         }
         return TestCase{std::to_string(n) + "\n",
                         std::to_string(w[static_cast<size_t>(n)]) + "\n"};
       }},
      {8, 1, 3, 0, 0,
       "a word and prints the length of its longest substring that has at most {K} distinct "
       "letters.",
       "s = input().strip()\nbest = 0\nfor i in range(len(s)):\n    seen = set()\n"
       "    for j in range(i, len(s)):\n        seen.add(s[j])\n        if len(seen) > {K}:\n"
       "            break\n        best = max(best, j - i + 1)\nprint(best)",
       "try every start and extend while the set of letters stays small.",
       [](Rng& r, const Params& p) {
         std::string s = rand_word(r, 1, 25, "abcd");
         size_t best = 0;
         for (size_t i = 0; i < s.size(); ++i) {
           std::set<char> seen;
           for (size_t j = i; j < s.size(); ++j) {
             seen.insert(s[j]);
             if (static_cast<int64_t>(seen.size()) > p.K) break;
             best = std::max(best, j - i + 1);
           }
         }
         return TestCase{s + "\n", std::to_string(best) + "\n"};
       }},
      {9, 10, 100, 0, 0,
       "an integer n and then n non-negative integers on the next line, and prints the length of "
       "the longest run of consecutive elements whose sum is at most {K}.",
       "n = int(input())\nxs = list(map(int, input().split()))\nbest = 0\nfor i in range(n):\n"
       "    s = 0\n    for j in range(i, n):\n        s += xs[j]\n        if s > {K}:\n"
       "            break\n        best = max(best, j - i + 1)\nprint(best)",
       "try every start and extend while the sum stays within {K}.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, 1, 30), 0, 20);
         int64_t best = 0;
         for (size_t i = 0; i < v.size(); ++i) {
           int64_t s = 0;
           for (size_t j = i; j < v.size(); ++j) {
             s += v[j];
             if (s > p.K) break;
             best = std::max<int64_t>(best, static_cast<int64_t>(j - i + 1));
           }
         }
         return TestCase{list_input(v), std::to_string(best) + "\n"};
       }},
      {9, 2, 12, 0, 0,
       "an integer n and then n integers on the next line, and prints the number of pairs i < j "
       "with a[i] + a[j] divisible by {K}.",
       "n = int(input())\na = list(map(int, input().split()))\nc = 0\nfor i in range(n):\n"
       "    for j in range(i + 1, n):\n        if (a[i] + a[j]) % {K} == 0:\n            c += "
       "1\nprint(c)",
       "check every pair.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, 1, 30), -50, 50);
         int64_t c = 0;
         for (size_t i = 0; i < v.size(); ++i)
           for (size_t j = i + 1; j < v.size(); ++j) c += (v[i] + v[j]) % p.K == 0;
         return TestCase{list_input(v), std::to_string(c) + "\n"};
       }},
      {10, 2, 20, 0, 0,
       "an integer n and then n integers on the next line (n is at least {K}), and prints the "
       "largest sum of {K} consecutive elements.",
       "n = int(input())\na = list(map(int, input().split()))\ns = sum(a[:{K}])\nbest = s\n"
       "for i in range({K}, n):\n    s += a[i] - a[i - {K}]\n    best = max(best, s)\nprint(best)",
       "a sliding window of width {K}.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, p.K, p.K + 15), -100, 100);
         int64_t best = INT64_MIN;
         for (size_t i = 0; i + static_cast<size_t>(p.K) <= v.size(); ++i) {
           int64_t s = 0;
           for (size_t j = i; j < i + static_cast<size_t>(p.K); ++j) s += v[j];
           best = std::max(best, s);
         }
         return TestCase{list_input(v), std::to_string(best) + "\n"};
       }},
      {10, 2, 5, 0, 0,
       "an integer n and then n integers on the next line, and prints how many distinct values "
       "appear at least {K} times.",
       "from collections import Counter\nn = int(input())\nc = Counter(map(int, input().split()))\n"
       "print(sum(1 for v in c.values() if v >= {K}))",
       "count occurrences with collections.Counter.",
       [](Rng& r, const Params& p) {
         Ints v = rand_ints(r, uniform_int(r, 1, 40), 0, 9);
         std::map<int64_t, int64_t> cnt;
         for (int64_t x : v) ++cnt[x];
         int64_t c = 0;
         for (const auto& kv : cnt) c += kv.second >= p.K;
         return TestCase{list_input(v), std::to_string(c) + "\n"};
       }},
  };
  return t;
}
}  // namespace

Task gen_code(int d, Rng& rng) {
  std::vector<const CodeTemplate*> pick;
  for (const auto& t : templates())
    if (t.difficulty == d) pick.push_back(&t);
  const CodeTemplate& t = *pick[rng.below(pick.size())];
  Params p;
  p.K = uniform_int(rng, t.k_lo, t.k_hi);
  p.M = t.m_hi > 0 ? uniform_int(rng, t.m_lo, t.m_hi) : 0;
  Task task;
  task.task = "code";
  task.difficulty = d;
  task.prompt = "Write a Python program that reads " + fill(t.what, p) +
                " Reply with the program in a ```python block.";
  task.answer = fill(t.program, p) + "\n";
  for (int i = 0; i < 4; ++i) task.tests.push_back(t.make(rng, p));
  std::string block = "```python\n" + task.answer + "```";
  task.solution = block;
  const TestCase& t0 = task.tests[0];
  std::string in = t0.input, out = t0.output;
  while (!in.empty() && in.back() == '\n') in.pop_back();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  for (auto& c : in)
    if (c == '\n') c = '|';
  task.solution_long = "Plan: " + fill(t.plan, p) + "\n" + block + "\nCheck: for the input \"" +
                       in + "\" (lines separated by |) it prints " + out + ", as expected.";
  return task;
}

}  // namespace k1rl::tasks_impl
