// k1rl tasks: verifiable task sets (generation, JSON Lines files, train/held-out splits) and the
// pure answer checkers (answer extraction, exact numbers, countdown expressions, program output).
// Used by k1rl-tasks (generation), k1rl-rollout (prompts) and lib/reward (scoring).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/core/core.h"
#include "lib/json/json.h"

namespace k1rl {

// ---------------------------------------------------------------------------------------------
// JSON: the project's one JSON value is k1rl::Json from lib/json (objects keep key order,
// strings are byte-transparent). Field helpers for the formats here:
const Json& json_at(const Json& obj, const std::string& key);  // InputError naming a missing key
std::string json_string(const Json& obj, const std::string& key, const std::string& def = "");
int64_t json_int(const Json& obj, const std::string& key, int64_t def = 0);
double json_double(const Json& obj, const std::string& key, double def = 0.0);
bool json_bool(const Json& obj, const std::string& key, bool def = false);

// Reads a JSON Lines file (blank lines skipped); InputError names the file and line.
std::vector<Json> read_jsonl(const std::string& path);
// Writes one object per line through a temporary name and a rename (atomic).
void write_jsonl(const std::string& path, const std::vector<Json>& rows);

// ---------------------------------------------------------------------------------------------
// Tasks (DESIGN.md "Formats/Tasks"): one JSON object per prompt.
//   id, task, prompt, answer, difficulty (1..10), tests (code), solution (short worked answer),
//   solution_long (the long, self-checking style), solution_concise (addition: the long one's
//   working alone, without its preamble, restatement and check), numbers + target (countdown).
struct TestCase {
  std::string input, output;
};

struct Task {
  std::string id;
  std::string task;  // kind: addition | multiplication | countdown | linear | code
  std::string prompt;
  std::string answer;  // numbers: canonical text; countdown: one valid expression; code: a program
  int difficulty = 1;
  std::vector<TestCase> tests;
  std::string solution, solution_long, solution_concise;
  std::vector<int64_t> numbers;  // countdown
  int64_t target = 0;            // countdown
};

Json task_to_json(const Task& t);
Task task_from_json(const Json& j);  // throws InputError on a missing or bad field
std::vector<Task> load_tasks(const std::string& path);
// Every task of several files, in order (logs how many each held).
std::vector<Task> load_task_files(const std::vector<std::string>& paths);
void save_tasks(const std::string& path, const std::vector<Task>& tasks);
// "fnv1a64:<16 hex>" over every task's id, kind, prompt and answer, in order.
std::string tasks_digest(const std::vector<Task>& tasks);

// The task kinds that generate_tasks knows.
const std::vector<std::string>& task_kinds();

struct TaskSetSpec {
  std::string kind = "addition";
  int min_difficulty = 1, max_difficulty = 2;
  int64_t train_count = 500, heldout_count = 100;
  uint64_t seed = 1;
  std::string name;  // id prefix; empty: the kind
};

struct TaskSet {
  std::vector<Task> train, heldout;  // disjoint prompts by construction
};

// Deterministic in (spec): the same spec gives byte-identical files. Difficulties are drawn
// uniformly in [min, max]. Throws InputError when the kind is unknown or the prompt space is too
// small for the counts asked (e.g. 1-digit addition has only 100 prompts).
TaskSet generate_tasks(const TaskSetSpec& spec);
// One task of a kind and difficulty from a stream (may repeat prompts; generate_tasks dedups).
Task generate_task(const std::string& kind, int difficulty, Rng& rng);

// [tasks] config section: what k1rl-tasks generates and which files the RL run reads.
void declare_tasks_options(ConfigSpec& spec);
TaskSetSpec task_set_spec_from_config(const Config& cfg);
const OptionTable<TaskSetSpec>& task_set_options();  // the generator keys, bound to TaskSetSpec

// ---------------------------------------------------------------------------------------------
// Checkers (DESIGN.md "Rewards"). The answer is the text after the last "Answer:" (to the end of
// that line) or inside the last \boxed{...}, whichever comes last; with neither, a response that
// is one bare number is its own answer.
struct Extracted {
  bool found = false;
  std::string text;  // the answer region
  std::string how;   // "answer" | "boxed" | "bare" | "" (none)
};
Extracted extract_answer(const std::string& response);

// Exact rational numbers for numeric answers and countdown (128-bit, overflow -> no value).
struct Rational {
  __int128 num = 0, den = 1;  // den > 0, gcd(num, den) = 1
  static std::optional<Rational> make(__int128 num, __int128 den);
  bool operator==(const Rational& o) const { return num == o.num && den == o.den; }
  std::string str() const;  // "7", "-7/3"
};
std::optional<Rational> rat_add(const Rational& a, const Rational& b);
std::optional<Rational> rat_sub(const Rational& a, const Rational& b);
std::optional<Rational> rat_mul(const Rational& a, const Rational& b);
std::optional<Rational> rat_div(const Rational& a, const Rational& b);  // none on b == 0

// Parses one number in the forms answers take: 42, -0, +7, 1,000 (groups of three), 0.5, .5,
// 5., 1e3, 3/6, \frac{1}{2}, -\dfrac{1}{2} (braces required), 1{,}000, $5$,
// **5**, x = 5, 5.  (trailing period), unicode minus. None when it is not exactly one number.
std::optional<Rational> parse_number(const std::string& text);

struct CheckResult {
  double score = 0.0;  // 1 correct, 0 wrong (code: fraction passed when asked)
  std::string reason;  // correct | wrong | no_answer | ambiguous | unparsable | wrong_numbers |
                       // div_by_zero | <sandbox status> ...
  std::string extracted;
};

// Numeric tasks (addition, multiplication, linear): exact rational equality with task.answer.
CheckResult check_numeric(const Task& task, const std::string& response);
// Countdown: the expression uses each given number exactly once and equals the target exactly.
CheckResult check_countdown(const Task& task, const std::string& response);
// Evaluates an arithmetic expression of integers with + - * / ( ) (also x × ÷ ·) in exact
// rational arithmetic; `literals` receives the integers used. None on a syntax error; sets
// *div_zero on a division by zero.
std::optional<Rational> eval_expression(const std::string& expr, std::vector<int64_t>* literals,
                                        bool* div_zero = nullptr);

// Code answers: the last ```python (or plain ```) fenced block; the whole response without one.
std::string extract_code(const std::string& response);
// Program output against expected: \r\n -> \n, trailing spaces per line and trailing blank lines
// ignored, everything else exact.
bool outputs_match(const std::string& got, const std::string& expected);

}  // namespace k1rl
