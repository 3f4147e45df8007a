// Countdown generator: draws the numbers, combines them at random into one expression whose
// intermediate values are positive integers, and takes its value as the target. The worked
// solution lists the steps and checks that every number is used once.
#include <algorithm>

#include "lib/tasks/tasks-impl.h"

namespace k1rl::tasks_impl {

namespace {
struct Node {
  int64_t value;
  std::string text;
  int prec;  // 3 atom, 2 product, 1 sum
};

int op_prec(char op) {
  return op == '+' || op == '-' ? 1 : 2;
}

Node combine(const Node& l, const Node& r, char op) {
  int p = op_prec(op);
  std::string lt = l.prec < p ? "(" + l.text + ")" : l.text;
  bool right_paren = r.prec < p || (r.prec == p && (op == '-' || op == '/'));
  std::string rt = right_paren ? "(" + r.text + ")" : r.text;
  int64_t v = op == '+'   ? l.value + r.value
              : op == '-' ? l.value - r.value
              : op == '*' ? l.value * r.value
                          : l.value / r.value;
  return Node{v, lt + op + rt, p};
}
}  // namespace

Task gen_countdown(int d, Rng& rng) {
  static const int count[11] = {2, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};
  int n = count[d];
  int64_t max_n = d % 2 == 1 ? 10 : 25;
  int64_t max_target = d <= 4 ? 100 : 1000;
  for (int attempt = 0;; ++attempt) {
    std::vector<int64_t> nums;
    for (int i = 0; i < n; ++i) {
      if (d >= 9 && i == 0)
        nums.push_back(25 * uniform_int(rng, 1, 4));  // one big number
      else
        nums.push_back(uniform_int(rng, 1, max_n));
    }
    std::vector<Node> pool;
    for (int64_t v : nums) pool.push_back(Node{v, std::to_string(v), 3});
    std::vector<std::string> steps;
    bool ok = true;
    while (pool.size() > 1 && ok) {
      size_t i = rng.below(pool.size());
      size_t j = rng.below(pool.size() - 1);
      if (j >= i) ++j;
      Node l = pool[i], r = pool[j];
      std::vector<char> ops = {'+', '*'};
      if (l.value > r.value) ops.push_back('-');
      if (r.value > 1 && l.value % r.value == 0) ops.push_back('/');
      char op = ops[rng.below(ops.size())];
      if (op == '*' && (l.value == 1 || r.value == 1)) op = '+';  // keep every number meaningful
      Node m = combine(l, r, op);
      steps.push_back(strfmt("%lld%c%lld=%lld", (long long)l.value, op, (long long)r.value,
                             (long long)m.value));
      pool.erase(pool.begin() + static_cast<long>(std::max(i, j)));
      pool.erase(pool.begin() + static_cast<long>(std::min(i, j)));
      pool.push_back(m);
    }
    int64_t target = pool[0].value;
    if ((target < 1 || target > max_target) && attempt < 200) continue;
    Task t;
    t.task = "countdown";
    t.difficulty = d;
    t.numbers = nums;
    t.target = target;
    std::string list;
    for (size_t k = 0; k < nums.size(); ++k) list += (k ? " " : "") + std::to_string(nums[k]);
    t.prompt = "Make " + std::to_string(target) + " from " + list +
               " using + - * / and each number exactly once.";
    t.answer = pool[0].text;
    std::string s;
    for (const auto& st : steps) s += st + "\n";
    std::string used;
    std::vector<int64_t> sorted = nums;
    std::sort(sorted.begin(), sorted.end());
    for (size_t k = 0; k < sorted.size(); ++k) used += (k ? ", " : "") + std::to_string(sorted[k]);
    s += "Check: " + t.answer + " uses " + used + " once each and equals " +
         std::to_string(target) + ". Correct.\n";
    t.solution_long = s + "Answer: " + t.answer;
    t.solution = "Answer: " + t.answer;
    return t;
  }
}

}  // namespace k1rl::tasks_impl
