// SFT warm-up: prompt + worked solution + end token, loss on the solution tokens only, averaged
// over every solution token of the step (all ranks), with the [optim] schedule. The solution of
// each drawn task: sft_solution (train.sft_style, train.sft_long_frac).
#include <algorithm>

#include "lib/train/train.h"

namespace k1rl::train {

namespace {
// Packs sequences [begin, end) of `seqs` into one batch with the loss on tokens >= prompt_len.
model::Batch pack(const std::vector<std::pair<std::vector<int32_t>, int32_t>>& seqs, size_t begin,
                  size_t end) {
  model::Batch b;
  b.cu.push_back(0);
  for (size_t i = begin; i < end; ++i) {
    const auto& [toks, plen] = seqs[i];
    b.tokens.insert(b.tokens.end(), toks.begin(), toks.end());
    for (size_t t = 0; t < toks.size(); ++t) b.mask.push_back(static_cast<int32_t>(t) >= plen);
    b.cu.push_back(static_cast<int32_t>(b.tokens.size()));
  }
  return b;
}
}  // namespace

const std::string& sft_solution(const TrainConfig& tc, const Task& t, Rng& rng) {
  const std::string& concise = t.solution_concise.empty() ? t.solution : t.solution_concise;
  const std::string* first = &t.solution;
  const std::string* second = &t.solution;
  if (tc.sft_style == "long") {
    const bool long_one =
        tc.sft_long_frac >= 1.0 || (tc.sft_long_frac > 0.0 && rng.uniform() < tc.sft_long_frac);
    first = long_one ? &t.solution_long : &concise;
    second = long_one ? &concise : &t.solution_long;
  }
  if (!first->empty()) return *first;
  return second->empty() ? t.answer : *second;
}

std::vector<io::Row> Trainer::sft(const std::vector<Task>& tasks, int64_t steps) {
  if (tasks.empty())
    throw InputError("no SFT data", "the task file is empty", "check tasks.train_file");
  const int64_t max_seq = model_->config().max_seq;
  std::vector<io::Row> rows;
  Progress progress("sft", steps);
  for (int64_t s = 0; s < steps; ++s) {
    double t0 = seconds_since_start();
    // Every rank draws the same global batch and keeps its share.
    std::vector<std::pair<std::vector<int32_t>, int32_t>> mine;
    for (int64_t i = 0; i < tc_.sft_batch; ++i) {
      const Task& t = tasks[rng_.below(tasks.size())];
      const std::string& sol = sft_solution(tc_, t, rng_);  // drawn on every rank
      if (i % size_ != rank_) continue;
      int32_t plen = 0;
      auto toks = policy::sft_tokens(*tok_, t, sol, format_, &plen);
      if (static_cast<int64_t>(toks.size()) > max_seq) toks.resize(static_cast<size_t>(max_seq));
      mine.emplace_back(std::move(toks), plen);
    }
    double counts[1] = {0};
    for (const auto& [toks, plen] : mine)
      counts[0] +=
          static_cast<double>(std::max<int64_t>(0, static_cast<int64_t>(toks.size()) - plen));
    allreduce(counts, 1);
    model_->zero_grads();
    double nll = 0;
    const float weight = counts[0] > 0 ? static_cast<float>(1.0 / counts[0]) : 0.0f;
    for (size_t a = 0; a < mine.size();) {  // micro-batches of at most micro_batch_tokens
      size_t b = a, tokens = 0;
      while (b < mine.size() && (b == a || tokens + mine[b].first.size() <=
                                               static_cast<size_t>(tc_.micro_batch_tokens)))
        tokens += mine[b++].first.size();
      nll += model_->cross_entropy_step(pack(mine, a, b), weight).nll_sum;
      a = b;
    }
    allreduce(model_->grads(), model_->num_params());
    double sums[1] = {nll};
    allreduce(sums, 1);
    optim::StepStats st = opt_->step(model_->params(), model_->grads());
    ++step_;
    double loss = counts[0] > 0 ? sums[0] / counts[0] : 0.0;
    rows.push_back({{"step", static_cast<double>(step_)},
                    {"sft", 1.0},
                    {"loss", loss},
                    {"grad_norm", st.grad_norm},
                    {"lr", st.lr},
                    {"tokens", counts[0]},
                    {"time_s", seconds_since_start() - t0}});
    progress.update(s + 1, strfmt("loss %.4f", loss));
  }
  progress.finish();
  return rows;
}

}  // namespace k1rl::train
