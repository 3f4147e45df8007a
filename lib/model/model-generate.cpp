// Continuous batching over a KV cache: a step feeds every running sequence at once (a joining
// sequence's whole context, the others' last sampled token), samples one token per sequence
// from its own stream, retires finished sequences and admits waiting ones into free slots.
#include <algorithm>
#include <limits>
#include <map>

#include "lib/model/model-impl.h"

namespace k1rl::model {

const char* finish_name(Finish f) {
  switch (f) {
    case Finish::stop:
      return "stop";
    case Finish::length:
      return "length";
    case Finish::segment:
      return "segment";
    case Finish::repeated:
      return "repeated";
    default:
      return "budget";
  }
}

Generator::Generator(const Model& model, int64_t max_batch, int64_t capacity, KvType kv)
    : model_(model),
      max_batch_(max_batch),
      capacity_(capacity < 0 ? model.config().max_seq : std::min(capacity, model.config().max_seq)),
      cache_(model, max_batch, capacity_, kv) {}

// For each request, the slot whose kept keys and values it continues from (-1: none) and how
// many of its prompt + answer tokens they cover: the longest common prefix of what the slot
// holds and the request's tokens, short of the last token (whose logits the first step needs),
// written with the current weights (or any, with continue_stale). Each slot goes to one request
// at most.
std::vector<Generator::Resume> Generator::kept_slots(const std::vector<GenRequest>& requests,
                                                     uint64_t version) const {
  const KvCache::Scratch& S = *cache_.scratch_;
  std::vector<Resume> out(requests.size());
  std::map<uint64_t, int32_t> by_key;
  for (size_t s = 0; s < S.kept.size() && static_cast<int64_t>(s) < max_batch_; ++s)
    if (S.kept[s].key != 0 && (continue_stale_ || S.kept[s].version == version))
      by_key.emplace(S.kept[s].key, static_cast<int32_t>(s));
  for (size_t i = 0; i < requests.size() && !by_key.empty(); ++i) {
    const GenRequest& q = requests[i];
    auto it = q.key != 0 ? by_key.find(q.key) : by_key.end();
    if (it == by_key.end()) continue;
    const std::vector<int32_t>& kept = S.kept[static_cast<size_t>(it->second)].tokens;
    const size_t n = q.prompt.size() + q.answer.size();
    size_t common = 0;
    auto token = [&](size_t j) {
      return j < q.prompt.size() ? q.prompt[j] : q.answer[j - q.prompt.size()];
    };
    while (common < kept.size() && common + 1 < n && kept[common] == token(common)) ++common;
    if (common == 0) continue;
    out[i] = {it->second, static_cast<int64_t>(common)};
    by_key.erase(it);
  }
  return out;
}

namespace {
struct Running {
  size_t req;
  int32_t slot;
  int64_t cached = 0;         // tokens already in the slot's cache
  std::vector<int32_t> feed;  // tokens to run next step
  Rng rng;
  uint64_t version = 0;  // the weights that wrote its oldest cached keys and values
};
}  // namespace

std::vector<GenResult> Generator::generate(const std::vector<GenRequest>& requests,
                                           const SamplingParams& params, int64_t token_budget) {
  const int64_t V = model_.config().vocab;
  if (!(params.temperature >= 0) || !(params.top_p > 0 && params.top_p <= 1) || params.top_k < 0)
    throw InputError("bad sampling parameters",
                     strfmt("temperature %g, top_p %g, top_k %lld", params.temperature,
                            params.top_p, (long long)params.top_k),
                     "need temperature >= 0, 0 < top_p <= 1, top_k >= 0");
  KvCache::Scratch& S = *cache_.scratch_;
  const uint64_t version = model_.weights_version();
  {
    const double t0 = seconds_since_start();
    if (cache_.pack_weights(model_)) {  // the parameters changed since the last pack
      ++stats_.packs;
      if (profile_) stats_.pack_s += seconds_since_start() - t0;
    }
  }
  std::vector<GenResult> res(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) res[i].id = requests[i].id;
  int64_t budget = token_budget < 0 ? std::numeric_limits<int64_t>::max() : token_budget;
  // Requests that continue from a kept cache (GenRequest::key) hold their slot; the rest is free.
  const std::vector<Resume> resume = kept_slots(requests, version);
  std::vector<char> held(static_cast<size_t>(max_batch_), 0);
  for (const Resume& r : resume)
    if (r.slot >= 0) held[static_cast<size_t>(r.slot)] = 1;
  std::vector<int32_t> free_slots;
  for (int64_t s = max_batch_ - 1; s >= 0; --s)
    if (!held[static_cast<size_t>(s)]) free_slots.push_back(static_cast<int32_t>(s));
  // Admission order: requests holding a kept slot first (the slot is theirs, and a request
  // waiting for a free slot must not wait behind them while they hold all of them), then the
  // rest, each in request order.
  std::vector<size_t> order;
  for (int pass = 0; pass < 2; ++pass)
    for (size_t i = 0; i < requests.size(); ++i)
      if ((resume[i].slot >= 0) == (pass == 0)) order.push_back(i);
  std::vector<Running> run;
  size_t next = 0;  // into order
  // Requests without `fill` not yet retired: while there are any, fill requests may start.
  int64_t own_left = 0;
  for (const GenRequest& q : requests) own_left += !q.fill;
  std::vector<int32_t> tokens, q_cu, slots, start;
  FloatBuffer& logits = cache_.scratch_->logits;  // [B, V], kept with the cache's memory
  struct Draw {
    int32_t tok = 0;
    float blp = 0, mlp = 0;
  };
  std::vector<Draw> drawn;

  auto answer_len = [&](size_t r) {
    return static_cast<int64_t>(requests[r].answer.size() + res[r].tokens.size());
  };
  // Repeat detection over the answer so far (a parked answer's earlier tokens, then this call's).
  auto loops = [&](const GenRequest& q, const GenResult& r) {
    const int64_t A = static_cast<int64_t>(q.answer.size());
    auto at = [&](int64_t i) { return i < A ? q.answer[i] : r.tokens[i - A]; };
    return ends_in_loop(at, A + static_cast<int64_t>(r.tokens.size()), params.repeat_max_period,
                        params.repeat_min_tokens);
  };
  // A sequence that leaves open with a key keeps its slot's keys and values for a later call.
  auto retire = [&](Running& s, Finish f) {
    res[s.req].finish = f;
    res[s.req].rng_state = s.rng.state();
    const GenRequest& q = requests[s.req];
    if (q.key != 0 && (f == Finish::segment || f == Finish::budget)) {
      KvCache::Scratch::Kept& k = S.kept[static_cast<size_t>(s.slot)];
      k.key = q.key, k.version = s.version;  // a stale continuation stays stale
      k.tokens = q.prompt;
      k.tokens.insert(k.tokens.end(), q.answer.begin(), q.answer.end());
      k.tokens.insert(k.tokens.end(), res[s.req].tokens.begin(), res[s.req].tokens.end());
      k.tokens.resize(static_cast<size_t>(s.cached));
    }
    free_slots.push_back(s.slot);
    own_left -= !q.fill;
    s.req = SIZE_MAX;
  };

  while (true) {
    const double step_t0 = profile_ ? seconds_since_start() : 0;
    // Admit waiting requests in admission order: into their kept slot, or a free one.
    while (next < order.size() && budget > 0) {
      const size_t i = order[next];
      const Resume& kept = resume[i];
      if (kept.slot < 0 && free_slots.empty()) break;
      const GenRequest& q = requests[i];
      if (q.fill && own_left == 0) break;  // the call's own work is done: fill no more slots
      GenResult& r = res[i];
      ++next;
      Running s{i, -1, 0, {}, Rng(q.seed), version};
      if (!q.rng_state.empty()) s.rng.set_state(q.rng_state);
      if (q.prompt.empty())
        throw InputError(strfmt("empty prompt in request %lld", (long long)q.id),
                         "a sequence needs at least one token", "start prompts with <bos>");
      s.feed = q.prompt;
      s.feed.insert(s.feed.end(), q.answer.begin(), q.answer.end());
      r.rng_state = s.rng.state();
      const bool ends = static_cast<int64_t>(q.answer.size()) >= params.max_answer_tokens ||
                        static_cast<int64_t>(s.feed.size()) >= capacity_;
      if (ends || q.max_new_tokens == 0) {
        r.finish = ends ? Finish::length : Finish::segment;
        own_left -= !q.fill;
        if (kept.slot >= 0 && ends) {  // its kept cache is of no further use
          S.kept[static_cast<size_t>(kept.slot)].key = 0;
          free_slots.push_back(kept.slot);
        }
        continue;
      }
      if (kept.slot >= 0) {
        s.slot = kept.slot;
        s.cached = kept.tokens;
        s.version = S.kept[static_cast<size_t>(kept.slot)].version;
        s.feed.erase(s.feed.begin(), s.feed.begin() + kept.tokens);
        stats_.kept_tokens += kept.tokens;
      } else {  // preferably a slot that keeps nothing another request may continue from
        auto f = std::find_if(free_slots.rbegin(), free_slots.rend(), [&](int32_t slot) {
          return S.kept[static_cast<size_t>(slot)].key == 0;
        });
        if (f != free_slots.rend()) std::swap(*f, free_slots.back());
        s.slot = free_slots.back();
        free_slots.pop_back();
      }
      run.push_back(std::move(s));
    }
    if (run.empty()) break;

    // One packed forward for every running sequence.
    tokens.clear(), slots.clear(), start.clear();
    q_cu.assign(1, 0);
    for (const Running& s : run) {
      tokens.insert(tokens.end(), s.feed.begin(), s.feed.end());
      q_cu.push_back(static_cast<int32_t>(tokens.size()));
      slots.push_back(s.slot);
      start.push_back(static_cast<int32_t>(s.cached));
    }
    const int64_t B = static_cast<int64_t>(run.size());
    const int64_t N = static_cast<int64_t>(tokens.size());
    StepProfile* prof = profile_ ? (N > B ? &stats_.prefill : &stats_.decode) : nullptr;
    const double timed0 = prof ? prof->total() : 0;
    if (prof) ++prof->steps, prof->rows += N;
    size_scratch(logits, B * V);
    cache_.scratch_->profile = prof;
    model_.forward_cached(tokens.data(), q_cu.data(), B, slots.data(), start.data(), cache_,
                          logits.data());
    cache_.scratch_->profile = nullptr;
    ++stats_.steps;
    const double sample_t0 = prof ? seconds_since_start() : 0;

    // The first min(B, budget) sequences sample, each from its own logits and stream (in
    // parallel); the rest of this step's sequences wait, open, for a later call.
    const int64_t samplers = std::min<int64_t>(B, budget);
    drawn.resize(static_cast<size_t>(samplers));
#pragma omp parallel for schedule(static) if (samplers * V > (1 << 16))
    for (int64_t b = 0; b < samplers; ++b)
      drawn[b].tok =
          sample_token(logits.data() + b * V, V, params, run[b].rng, &drawn[b].blp, &drawn[b].mlp);
    if (prof) (*prof)[StepOp::sample] += seconds_since_start() - sample_t0;
    for (int64_t b = 0; b < B; ++b) {
      Running& s = run[b];
      (s.feed.size() > 1 || s.cached == 0 ? stats_.prefill_tokens : stats_.decode_tokens) +=
          s.feed.size();
      s.cached += static_cast<int64_t>(s.feed.size());
      if (b >= samplers) {
        retire(s, Finish::budget);
        continue;
      }
      GenResult& r = res[s.req];
      const float blp = drawn[b].blp, mlp = drawn[b].mlp;
      const int32_t tok = drawn[b].tok;
      --budget;
      r.tokens.push_back(tok);
      r.logprobs.push_back(blp);
      r.model_logprobs.push_back(mlp);
      const GenRequest& q = requests[s.req];
      if (std::find(params.stop_tokens.begin(), params.stop_tokens.end(), tok) !=
          params.stop_tokens.end())
        retire(s, Finish::stop);
      else if (params.repeat_min_tokens > 0 && loops(q, r))
        retire(s, Finish::repeated);
      else if (answer_len(s.req) >= params.max_answer_tokens || s.cached + 1 >= capacity_)
        retire(s, Finish::length);
      else if (q.max_new_tokens >= 0 && static_cast<int64_t>(r.tokens.size()) >= q.max_new_tokens)
        retire(s, Finish::segment);
      else if (budget <= 0)
        retire(s, Finish::budget);
      else
        s.feed.assign(1, tok);
    }
    if (own_left == 0)  // what still runs only filled free slots: it waits for a later call
      for (Running& s : run)
        if (s.req != SIZE_MAX) retire(s, Finish::budget);
    run.erase(
        std::remove_if(run.begin(), run.end(), [](const Running& s) { return s.req == SIZE_MAX; }),
        run.end());
    if (prof)
      (*prof)[StepOp::other] += (seconds_since_start() - step_t0) - (prof->total() - timed0);
  }
  // Requests never admitted (budget spent; fill requests after the own work ended) stay open
  // with no new tokens.
  for (; next < order.size(); ++next) {
    const size_t i = order[next];
    Rng rng(requests[i].seed);
    if (!requests[i].rng_state.empty()) rng.set_state(requests[i].rng_state);
    res[i].finish = Finish::budget;
    res[i].rng_state = rng.state();
  }
  return res;
}

}  // namespace k1rl::model
