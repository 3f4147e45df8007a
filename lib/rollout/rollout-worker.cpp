// One rank's rollout iteration (see rollout.h), top to bottom: start the new groups, generate
// (parked answers first, under the budget, with repeat detection), score the groups whose answers
// all ended, then the shard and the /rollout metrics row.
#include <algorithm>
#include <map>

#include "lib/rollout/rollout.h"

namespace k1rl::rollout {

namespace {
const std::vector<std::string> kComponents = {"correct", "length", "repetition"};

// Removes the refill groups (rows from first_fill on) none of whose answers got a token: they
// never started. Returns how many refill groups stay.
int64_t drop_unstarted(std::vector<buffer::Trajectory>& rows, size_t first_fill) {
  std::map<int64_t, bool> started;  // group id -> some answer has a token
  for (size_t i = first_fill; i < rows.size(); ++i)
    started[rows[i].group_id] |= rows[i].answer_len() > 0;
  const auto gone = [&](const buffer::Trajectory& t) { return !started.at(t.group_id); };
  rows.erase(
      std::remove_if(rows.begin() + static_cast<std::ptrdiff_t>(first_fill), rows.end(), gone),
      rows.end());
  int64_t kept = 0;
  for (const auto& [gid, s] : started) kept += s;
  return kept;
}
}  // namespace

RolloutWorker::RolloutWorker(const Config& cfg, const Tokenizer& tok,
                             const std::vector<Task>& tasks)
    : cfg_(cfg),
      rc_(RolloutConfig::from(cfg)),
      tok_(tok),
      tasks_(tasks),
      format_(policy::prompt_format(cfg, tok)),
      seed_(static_cast<uint64_t>(cfg.get_int("run.seed"))) {
  if (rc_.refill_prompts > 0 && !rc_.partial)
    K1RL_LOG_WARN("rollout.refill_prompts = %lld is ignored: refill needs rollout.partial = true",
                  static_cast<long long>(rc_.refill_prompts));
  if (rc_.parked_cache == ParkedCache::stale && !rc_.partial)
    K1RL_LOG_WARN(
        "rollout.parked_cache = stale is ignored: nothing is parked without "
        "rollout.partial = true");
  else if (rc_.parked_cache == ParkedCache::stale)
    K1RL_LOG_INFO(
        "rollout.parked_cache = stale: parked answers continue from the keys and values "
        "of the policy that wrote them, not re-prefilled after a training step");
}

std::vector<int32_t> RolloutWorker::prompt_tokens(int64_t prompt) const {
  return policy::prompt_tokens(tok_, tasks_.at(static_cast<size_t>(prompt)), format_);
}

IterationResult RolloutWorker::run(const model::Model& model, int64_t iteration, int32_t rank,
                                   std::vector<buffer::Trajectory> pending,
                                   const std::vector<int64_t>& new_prompts, const ScoreFn& score,
                                   const std::vector<int64_t>& refill) {
  const double t0 = seconds_since_start();
  const int64_t max_seq = model.config().max_seq;
  std::vector<buffer::Trajectory> rows = std::move(pending);  // parked ones first
  const int64_t too_long = start_groups(new_prompts, 0, iteration, rank, max_seq, rows);
  const size_t first_fill = rows.size();
  if (rc_.partial)  // a refill prompt too long for max_seq is skipped like a new one, uncounted
    start_groups(refill, static_cast<int64_t>(new_prompts.size()), iteration, rank, max_seq, rows);
  const GenerateStats gen = generate(model, iteration, rows, first_fill);
  const int64_t refilled = drop_unstarted(rows, first_fill);
  ScoreStats scored = score_groups(rows, iteration, score);

  int64_t open = 0, truncated = 0, repeated = 0;
  for (const auto& t : rows) {
    open += t.status == buffer::Status::open;
    truncated += t.status == buffer::Status::truncated && t.ready;
    repeated += t.status == buffer::Status::repeated && t.ready;
  }
  const buffer::AnswerStats& a = scored.answers;
  IterationResult out;
  out.metrics = {
      {"iteration", static_cast<double>(iteration)},
      {"rank", static_cast<double>(rank)},
      {"prompts_new",
       static_cast<double>(static_cast<int64_t>(new_prompts.size()) + refilled - too_long)},
      {"prompts_refill", static_cast<double>(refilled)},
      {"prompts_too_long", static_cast<double>(too_long)},
      {"answers_ended", static_cast<double>(gen.ended)},
      {"answers_ready", a.answers},
      {"answers_open", static_cast<double>(open)},
      {"truncated", static_cast<double>(truncated)},
      {"repeated", static_cast<double>(repeated)},
      {"tokens", static_cast<double>(gen.tokens)},
      {"prefill_tokens", static_cast<double>(gen.prefill_tokens)},
      {"kept_tokens", static_cast<double>(gen.kept_tokens)},
      {"gen_s", gen.seconds},
      {"slot_util", gen.slot_util},
      {"kv_cache_mb", static_cast<double>(gen.kv_bytes) / (1024.0 * 1024.0)},
      {"tokens_per_s", gen.seconds > 0 ? static_cast<double>(gen.tokens) / gen.seconds : 0.0},
      {"ended_per_s", gen.seconds > 0 ? static_cast<double>(gen.ended) / gen.seconds : 0.0},
      {"reward_mean", a.reward_mean()},
      {"accuracy", a.accuracy()},
      {"answer_len_mean", a.answer_len_mean()},
      {"time_s", seconds_since_start() - t0}};
  out.prompt_success = std::move(scored.prompt_success);
  out.shard.iteration = iteration;
  out.shard.rank = rank;
  out.shard.component_names = kComponents;
  out.shard.rows = std::move(rows);
  return out;
}

bool RolloutWorker::prompt_fits(int64_t prompt, int64_t max_seq) const {
  return static_cast<int64_t>(prompt_tokens(prompt).size()) + rc_.max_answer_tokens <= max_seq;
}

int64_t RolloutWorker::start_groups(const std::vector<int64_t>& new_prompts, int64_t first,
                                    int64_t iteration, int32_t rank, int64_t max_seq,
                                    std::vector<buffer::Trajectory>& rows) const {
  const int64_t k = rc_.samples_per_prompt;
  int64_t too_long = 0;
  for (size_t i = 0; i < new_prompts.size(); ++i) {
    const int64_t p = new_prompts[i];
    if (p < 0 || p >= static_cast<int64_t>(tasks_.size()))
      throw InputError("bad prompt index",
                       strfmt("%lld of %zu", static_cast<long long>(p), tasks_.size()),
                       "the task file changed during the run");
    const int64_t group_id =
        buffer::GroupKey{iteration, rank, first + static_cast<int64_t>(i)}.pack();
    std::vector<int32_t> pt = prompt_tokens(p);
    if (static_cast<int64_t>(pt.size()) + rc_.max_answer_tokens > max_seq) {
      K1RL_LOG_WARN(
          "skipping prompt %lld (%s): %zu prompt tokens + rollout.max_answer_tokens = %lld exceed "
          "model.max_seq = %lld; it is not generated or trained",
          static_cast<long long>(p), tasks_[static_cast<size_t>(p)].id.c_str(), pt.size(),
          static_cast<long long>(rc_.max_answer_tokens), static_cast<long long>(max_seq));
      ++too_long;
      continue;
    }
    for (int64_t j = 0; j < k; ++j) {
      buffer::Trajectory t;
      t.prompt_id = p;
      t.sample = static_cast<int32_t>(j);
      t.group_id = group_id;
      t.group_size = static_cast<int32_t>(k);
      t.task = tasks_[static_cast<size_t>(p)].task;
      t.iteration_started = iteration;
      t.prompt_len = static_cast<int32_t>(pt.size());
      t.tokens = pt;
      t.components.assign(kComponents.size(), 0.0);
      rows.push_back(std::move(t));
    }
  }
  return too_long;
}

model::SamplingParams RolloutWorker::sampling_params() const {
  model::SamplingParams sp;
  sp.temperature = rc_.temperature;
  sp.top_p = rc_.top_p;
  sp.top_k = rc_.top_k;
  sp.stop_tokens = tok_.stop_ids();
  if (sp.stop_tokens.empty() && tok_.eos_id() >= 0) sp.stop_tokens = {tok_.eos_id()};
  sp.max_answer_tokens = rc_.max_answer_tokens;
  sp.repeat_max_period = rc_.repeat_max_period;  // checked after every token: a loop ends early
  sp.repeat_min_tokens = rc_.repeat_min_tokens;
  return sp;
}

namespace {
// Names a trajectory across iterations (GenRequest::key: its kept cache); never 0.
uint64_t trajectory_key(const buffer::Trajectory& t) {
  uint64_t h = static_cast<uint64_t>(t.group_id) * 0x9e3779b97f4a7c15ULL;
  h ^= (static_cast<uint64_t>(t.sample) + 1) * 0xbf58476d1ce4e5b9ULL;
  return h == 0 ? 1 : h;
}

// One generation request per open trajectory; `rows[open[r]]` is the trajectory of request r.
struct Requests {
  std::vector<size_t> open;
  std::vector<model::GenRequest> reqs;
  int64_t longest = 0;  // prompt + max answer over the requests: the KV cache's capacity
};

// Appends one generated segment to its trajectory and sets its status when it ended (the
// generator stops a looping answer as soon as the loop is detectable: Finish::repeated).
void append_segment(buffer::Trajectory& t, const model::GenResult& g, int64_t iteration) {
  t.tokens.insert(t.tokens.end(), g.tokens.begin(), g.tokens.end());
  t.logprobs.insert(t.logprobs.end(), g.model_logprobs.begin(), g.model_logprobs.end());
  t.segment_iter.insert(t.segment_iter.end(), g.tokens.size(), static_cast<int32_t>(iteration));
  if (!g.tokens.empty()) ++t.n_segments;
  t.rng = g.rng_state;
  if (g.finish == model::Finish::stop)
    t.status = buffer::Status::finished;
  else if (g.finish == model::Finish::repeated)
    t.status = buffer::Status::repeated;
  else if (g.finish == model::Finish::length)
    t.status = buffer::Status::truncated;
}
}  // namespace

GenerateStats RolloutWorker::generate(const model::Model& model, int64_t iteration,
                                      std::vector<buffer::Trajectory>& rows, size_t first_fill) {
  Requests q;
  for (size_t i = 0; i < rows.size(); ++i) {
    const buffer::Trajectory& t = rows[i];
    if (t.ended()) continue;
    model::GenRequest r;
    r.id = static_cast<int64_t>(i);
    r.prompt.assign(t.tokens.begin(), t.tokens.begin() + t.prompt_len);
    r.answer.assign(t.tokens.begin() + t.prompt_len, t.tokens.end());
    r.seed = Rng(seed_ ^ (static_cast<uint64_t>(t.group_id) * 0x9e3779b97f4a7c15ULL),
                 static_cast<uint64_t>(t.sample))
                 .next_u64();
    r.rng_state = t.rng;
    r.max_new_tokens = rc_.partial ? rc_.segment_tokens : -1;
    if (rc_.partial) r.key = trajectory_key(t);
    r.fill = i >= first_fill;
    q.longest = std::max<int64_t>(q.longest, t.prompt_len + rc_.max_answer_tokens);
    q.open.push_back(i);
    q.reqs.push_back(std::move(r));
  }
  GenerateStats st;
  if (q.reqs.empty()) return st;
  // Partial: the same layout every iteration (all max_batch slots, capacity only grown), so that
  // parked answers find their kept keys and values again.
  const int64_t cap = std::min<int64_t>(model.config().max_seq, q.longest);  // prompt + answer
  capacity_ = std::max(capacity_, cap);
  const int64_t n = static_cast<int64_t>(q.reqs.size());
  model::Generator gen(model, rc_.partial ? rc_.max_batch : std::min(rc_.max_batch, n),
                       rc_.partial ? capacity_ : cap, rc_.kv_cache);
  gen.set_continue_stale(rc_.partial && rc_.parked_cache == ParkedCache::stale);
  const double g0 = seconds_since_start();
  std::vector<model::GenResult> res =
      gen.generate(q.reqs, sampling_params(), rc_.partial ? rc_.token_budget : -1);
  st.seconds = seconds_since_start() - g0;
  const model::GenStats& gs = gen.stats();
  st.prefill_tokens = gs.prefill_tokens;
  st.kept_tokens = gs.kept_tokens;
  st.kv_bytes = gen.kv_bytes();
  if (gs.steps > 0)
    st.slot_util =
        static_cast<double>(gs.decode_tokens) / static_cast<double>(gs.steps * rc_.max_batch);
  for (size_t r = 0; r < res.size(); ++r) {
    buffer::Trajectory& t = rows[q.open[r]];
    append_segment(t, res[r], iteration);
    st.tokens += static_cast<int64_t>(res[r].tokens.size());
    st.ended += t.ended();
  }
  return st;
}

ScoreStats RolloutWorker::score_groups(std::vector<buffer::Trajectory>& rows, int64_t iteration,
                                       const ScoreFn& score) const {
  // The groups whose answers have all ended, as answers for the scorer.
  std::map<int64_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < rows.size(); ++i) groups[rows[i].group_id].push_back(i);
  std::vector<Answer> answers;
  std::vector<size_t> answer_row;
  for (const auto& [gid, members] : groups) {
    bool done = static_cast<int32_t>(members.size()) == rows[members[0]].group_size;
    for (size_t i : members) done = done && rows[i].ended();
    if (!done) continue;
    for (size_t i : members) {
      const buffer::Trajectory& t = rows[i];
      Answer a;
      a.task_id = tasks_[static_cast<size_t>(t.prompt_id)].id;
      a.text = policy::answer_text(
          tok_, tasks_[static_cast<size_t>(t.prompt_id)],
          std::vector<int32_t>(t.tokens.begin() + t.prompt_len, t.tokens.end()), format_);
      a.length = t.answer_len();
      a.group = std::to_string(gid);
      a.repeated = t.status == buffer::Status::repeated;
      answers.push_back(std::move(a));
      answer_row.push_back(i);
    }
  }
  std::vector<Score> scores;
  if (!answers.empty()) scores = score(answers, iteration);
  if (scores.size() != answers.size())
    throw RuntimeFault("reward scores lost",
                       strfmt("%zu answers sent, %zu scores back", answers.size(), scores.size()),
                       "check the reward service log");
  // Rewards into the trajectories; success per group for the prompt sampler.
  ScoreStats st;
  std::map<int64_t, std::pair<double, int>> success;
  for (size_t a = 0; a < answers.size(); ++a) {
    buffer::Trajectory& t = rows[answer_row[a]];
    t.reward = scores[a].total;
    t.components = {scores[a].correct, scores[a].length, scores[a].repetition};
    t.ready = true;
    st.answers.add(t.reward, scores[a].correct, t.answer_len());
    auto& s = success[t.group_id];
    s.first += scores[a].correct;
    s.second += 1;
  }
  for (const auto& [gid, s] : success)
    st.prompt_success.emplace_back(rows[groups[gid][0]].prompt_id, s.first / s.second);
  return st;
}

}  // namespace k1rl::rollout
