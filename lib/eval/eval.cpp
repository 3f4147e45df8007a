// Held-out evaluation (see eval.h).
#include <cmath>

#include "lib/eval/eval.h"
#include "lib/io/io.h"

namespace k1rl::eval {

const OptionTable<EvalConfig>& eval_options() {
  using E = EvalConfig;
  static const auto t =
      OptionTable<E>()
          .add("eval.max_prompts", &E::max_prompts, "held-out prompts evaluated (0: all)",
               Check().ge(0))
          .add("eval.samples", &E::samples,
               "k samples per prompt for pass@1 / pass@k (0: greedy only)", Check().ge(0))
          .add("eval.temperature", &E::temperature, "temperature of the sampled evaluation",
               Check().ge(0))
          .add("eval.max_answer_tokens", &E::max_answer_tokens, "answer length limit",
               Check().ge(1))
          .add("eval.max_batch", &E::max_batch, "sequences generated together", Check().ge(1));
  return t;
}

void declare_eval_options(ConfigSpec& s) {
  eval_options().declare(s);
}

EvalConfig EvalConfig::from(const Config& cfg) {
  return eval_options().read(cfg);
}

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n - c < k) return 1.0;
  double miss = 1.0;  // C(n−c, k)/C(n, k) as a product
  for (int64_t i = n - c + 1; i <= n; ++i)
    miss *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - miss;
}

namespace {
// Generates `samples` answers per prompt (sample index -1: greedy) and scores them; appends one
// record per answer and returns its correctness.
std::vector<double> run(const model::Model& model, const Tokenizer& tok,
                        const policy::PromptFormat& format, const std::vector<Task>& tasks,
                        int64_t n, int64_t samples, double temperature, const EvalConfig& ec,
                        Scorer& scorer, uint64_t seed, std::vector<EvalRecord>* records) {
  std::vector<model::GenRequest> reqs;
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t p = 0; p < n; ++p) {
    prompts.push_back(policy::prompt_tokens(tok, tasks[static_cast<size_t>(p)], format));
    for (int64_t s = 0; s < samples; ++s) {
      model::GenRequest r;
      r.id = p * samples + s;
      r.prompt = prompts.back();
      r.seed = Rng(seed, static_cast<uint64_t>(r.id)).next_u64();
      reqs.push_back(std::move(r));
    }
  }
  model::SamplingParams sp;
  sp.temperature = temperature;
  sp.stop_tokens = tok.stop_ids();
  if (sp.stop_tokens.empty() && tok.eos_id() >= 0) sp.stop_tokens = {tok.eos_id()};
  sp.max_answer_tokens = ec.max_answer_tokens;
  model::Generator gen(model, std::min<int64_t>(ec.max_batch, static_cast<int64_t>(reqs.size())));
  std::vector<model::GenResult> res = gen.generate(reqs, sp);
  std::vector<Answer> answers;
  for (size_t i = 0; i < res.size(); ++i) {
    Answer a;
    a.task = std::make_shared<Task>(tasks[i / static_cast<size_t>(samples)]);
    a.text = policy::answer_text(tok, *a.task, res[i].tokens, format);
    a.length = static_cast<int64_t>(res[i].tokens.size());
    a.group = std::to_string(i / static_cast<size_t>(samples));
    answers.push_back(std::move(a));
  }
  std::vector<Score> scores = scorer.score_batch(answers, 0);
  std::vector<double> correct;
  for (size_t i = 0; i < scores.size(); ++i) {
    correct.push_back(scores[i].correct);
    const size_t p = i / static_cast<size_t>(samples);
    EvalRecord e;
    e.prompt = static_cast<int64_t>(p);
    e.sample = temperature == 0 ? -1 : static_cast<int64_t>(i % static_cast<size_t>(samples));
    e.task_id = tasks[p].id;
    e.prompt_text = tok.decode(prompts[p], /*skip_special=*/false);
    e.answer_text = answers[i].text;
    e.extracted = scores[i].extracted;
    e.reason = scores[i].reason;
    e.reward = scores[i].total;
    e.correct = scores[i].correct;
    e.tokens = answers[i].length;
    e.finish = model::finish_name(res[i].finish);
    records->push_back(std::move(e));
  }
  return correct;
}
}  // namespace

EvalResult evaluate(const model::Model& model, const Tokenizer& tok,
                    const policy::PromptFormat& format, const std::vector<Task>& tasks,
                    Scorer& scorer, const EvalConfig& ec, uint64_t seed) {
  double t0 = seconds_since_start();
  EvalResult r;
  r.prompts = ec.max_prompts > 0
                  ? std::min<int64_t>(ec.max_prompts, static_cast<int64_t>(tasks.size()))
                  : static_cast<int64_t>(tasks.size());
  if (r.prompts == 0)
    throw InputError("nothing to evaluate", "the held-out task file is empty",
                     "check tasks.heldout_file");
  std::vector<double> g =
      run(model, tok, format, tasks, r.prompts, 1, 0.0, ec, scorer, seed, &r.records);
  double sum = 0, len = 0, truncated = 0;
  for (double c : g) sum += c >= 1.0;
  for (const EvalRecord& e : r.records) {
    len += static_cast<double>(e.tokens);
    truncated += e.finish == model::finish_name(model::Finish::length);
  }
  r.greedy_accuracy = sum / static_cast<double>(r.prompts);
  r.answer_len_mean = len / static_cast<double>(r.prompts);
  r.truncated_frac = truncated / static_cast<double>(r.prompts);
  r.k = ec.samples;
  r.pass1 = r.passk = std::nan("");
  if (ec.samples > 0) {
    std::vector<double> s = run(model, tok, format, tasks, r.prompts, ec.samples, ec.temperature,
                                ec, scorer, seed ^ 0xe7a1, &r.records);
    double p1 = 0, pk = 0;
    for (int64_t p = 0; p < r.prompts; ++p) {
      int64_t c = 0;
      for (int64_t j = 0; j < ec.samples; ++j)
        c += s[static_cast<size_t>(p * ec.samples + j)] >= 1.0;
      p1 += pass_at_k(ec.samples, c, 1);
      pk += pass_at_k(ec.samples, c, ec.samples);
    }
    r.pass1 = p1 / static_cast<double>(r.prompts);
    r.passk = pk / static_cast<double>(r.prompts);
  }
  r.seconds = seconds_since_start() - t0;
  return r;
}

void append_eval(const std::string& path, const EvalResult& r, const std::string& checkpoint,
                 int64_t iteration) {
  (void)checkpoint;
  io::append_rows(path, "eval/1", "eval",
                  {{{"iteration", static_cast<double>(iteration)},
                    {"prompts", static_cast<double>(r.prompts)},
                    {"greedy_accuracy", r.greedy_accuracy},
                    {"pass1", r.pass1},
                    {"passk", r.passk},
                    {"k", static_cast<double>(r.k)},
                    {"answer_len_mean", r.answer_len_mean},
                    {"truncated_frac", r.truncated_frac},
                    {"seconds", r.seconds}}});
}

void write_dump(const std::string& path, const std::vector<EvalRecord>& records) {
  std::string text;
  for (const EvalRecord& e : records) {
    Json j = Json::make_object();
    j.add("prompt", e.prompt)
        .add("sample", e.sample)
        .add("task_id", e.task_id)
        .add("prompt_text", e.prompt_text)
        .add("answer_text", e.answer_text)
        .add("extracted", e.extracted)
        .add("reason", e.reason)
        .add("reward", e.reward)
        .add("correct", e.correct)
        .add("tokens", e.tokens)
        .add("finish", e.finish);
    text += j.dump() + "\n";
  }
  io::publish_text(path, text);
}

std::string format_table(const std::vector<std::pair<std::string, EvalResult>>& rows) {
  std::string s = strfmt("%-28s %8s %8s %8s %8s %10s %8s\n", "policy", "prompts", "greedy",
                         "pass@1", "pass@k", "len(tok)", "trunc");
  for (const auto& [name, r] : rows)
    s += strfmt("%-28s %8lld %8.3f %8.3f %8.3f %10.1f %8.3f\n", name.c_str(),
                static_cast<long long>(r.prompts), r.greedy_accuracy, r.pass1, r.passk,
                r.answer_len_mean, r.truncated_frac);
  return s;
}

}  // namespace k1rl::eval
