// Sampling a checkpoint n times per prompt and scoring every answer with the task's checker,
// and shortest rejection sampling on the result.
#include "lib/long2short/long2short.h"

namespace k1rl::long2short {

const OptionTable<SampleConfig>& sample_options() {
  using S = SampleConfig;
  static const auto t =
      OptionTable<S>()
          .add("long2short.samples", &S::samples,
               "answers sampled per prompt (shortest rejection, DPO pairs)", Check().ge(1))
          .add("long2short.temperature", &S::temperature, "sampling temperature of those answers",
               Check().gt(0))
          .add("long2short.max_answer_tokens", &S::max_answer_tokens,
               "answer length limit when sampling", Check().ge(1))
          .add("long2short.max_prompts", &S::max_prompts,
               "sample the first N train prompts (0: all)", Check().ge(0))
          .add("long2short.max_batch", &S::max_batch, "sequences generated together",
               Check().ge(1));
  return t;
}

void declare_long2short_options(ConfigSpec& s) {
  sample_options().declare(s);
}

SampleConfig SampleConfig::from(const Config& cfg) {
  SampleConfig s = sample_options().read(cfg);  // every key was checked when cfg was read
  s.seed = static_cast<uint64_t>(cfg.get_int("run.seed"));
  return s;
}

std::vector<PromptSamples> sample_scored(const model::Model& model, const Tokenizer& tok,
                                         policy::PromptFormat format,
                                         const std::vector<Task>& tasks, Scorer& scorer,
                                         const SampleConfig& sc) {
  const size_t n =
      sc.max_prompts > 0 ? std::min<size_t>(tasks.size(), sc.max_prompts) : tasks.size();
  if (n == 0) throw InputError("nothing to sample", "the task file is empty", "check the tasks");
  model::SamplingParams sp;
  sp.temperature = sc.temperature;
  sp.stop_tokens = tok.stop_ids();
  if (sp.stop_tokens.empty() && tok.eos_id() >= 0) sp.stop_tokens = {tok.eos_id()};
  sp.max_answer_tokens = sc.max_answer_tokens;
  std::vector<PromptSamples> out(n);
  // A few hundred prompts per generate call keeps the progress line moving and memory small.
  const size_t chunk = 256;
  Progress progress("sample", static_cast<int64_t>(n));
  model::Generator gen(model, sc.max_batch);
  for (size_t p0 = 0; p0 < n; p0 += chunk) {
    const size_t p1 = std::min(n, p0 + chunk);
    std::vector<model::GenRequest> reqs;
    for (size_t p = p0; p < p1; ++p) {
      out[p].task = p;
      out[p].prompt = policy::prompt_tokens(tok, tasks[p].prompt, format);
      for (int64_t s = 0; s < sc.samples; ++s) {
        model::GenRequest r;
        r.id = static_cast<int64_t>(p) * sc.samples + s;
        r.prompt = out[p].prompt;
        r.seed = Rng(sc.seed ^ 0x5a3b1e, static_cast<uint64_t>(r.id)).next_u64();
        reqs.push_back(std::move(r));
      }
    }
    std::vector<model::GenResult> res = gen.generate(reqs, sp);
    std::vector<Answer> answers;
    for (size_t i = 0; i < res.size(); ++i) {
      const size_t p = p0 + i / static_cast<size_t>(sc.samples);
      Answer a;
      a.task = std::make_shared<Task>(tasks[p]);
      a.text = policy::answer_text(tok, res[i].tokens);
      a.length = static_cast<int64_t>(res[i].tokens.size());
      a.group = std::to_string(p);
      answers.push_back(std::move(a));
      out[p].answers.push_back(std::move(res[i].tokens));
    }
    std::vector<Score> scores = scorer.score_batch(std::move(answers), 0);
    for (size_t i = 0; i < scores.size(); ++i)
      out[p0 + i / static_cast<size_t>(sc.samples)].correct.push_back(scores[i].correct >= 1.0);
    progress.update(static_cast<int64_t>(p1));
  }
  progress.finish();
  return out;
}

std::vector<Task> shortest_rejection(const std::vector<PromptSamples>& samples,
                                     const std::vector<Task>& tasks, const Tokenizer& tok) {
  std::vector<Task> out;
  for (const auto& ps : samples) {
    size_t best = ps.answers.size();
    for (size_t j = 0; j < ps.answers.size(); ++j)
      if (ps.correct[j] &&
          (best == ps.answers.size() || ps.answers[j].size() < ps.answers[best].size()))
        best = j;
    if (best == ps.answers.size()) continue;
    Task t = tasks.at(ps.task);
    t.solution = policy::answer_text(tok, ps.answers[best]);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace k1rl::long2short
