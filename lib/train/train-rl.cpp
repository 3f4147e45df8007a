// One RL iteration (k1.5 by default; see lib/rl/rl-loss.cpp for every formula):
//   1. group the iteration's ready trajectories by group_id (the k answers to one prompt);
//   2. per optimizer step take groups_per_step groups, each rank its share; forward each
//      micro-batch of whole groups to get log π_θ of every answer token;
//   3. lib/rl turns log-probs, stored behaviour log-probs and rewards into d(loss)/d(logprob_t);
//      the model backpropagates those; gradients are summed over ranks; one AdamW step.
// The optimizer is reset at the start of the iteration when train.reset_optimizer (the report).
#include <algorithm>
#include <map>

#include "lib/rl/rl.h"
#include "lib/train/train.h"

namespace k1rl::train {

namespace {
using Group = std::vector<const buffer::Trajectory*>;

std::vector<Group> make_groups(const std::vector<buffer::Trajectory>& trajs) {
  std::map<int64_t, Group> by_id;
  for (const auto& t : trajs) by_id[t.group_id].push_back(&t);
  std::vector<Group> groups;
  for (auto& [id, g] : by_id) {
    std::sort(g.begin(), g.end(), [](auto* a, auto* b) { return a->sample < b->sample; });
    groups.push_back(std::move(g));
  }
  return groups;
}

int64_t group_tokens(const Group& g) {
  int64_t n = 0;
  for (auto* t : g) n += static_cast<int64_t>(t->tokens.size());
  return n;
}
}  // namespace

std::vector<io::Row> Trainer::rl_iteration(const std::vector<buffer::Trajectory>& trajs,
                                           int64_t iteration) {
  const rl::LossConfig lc = rl::LossConfig::from(cfg_, iteration);
  std::vector<Group> groups = make_groups(trajs);
  std::vector<io::Row> rows;
  if (groups.empty()) {
    K1RL_LOG_WARN("iteration %lld: no ready groups to train on", static_cast<long long>(iteration));
    return rows;
  }
  if (tc_.reset_optimizer) opt_->reset();
  const int64_t G = static_cast<int64_t>(groups.size());
  const int64_t steps_per_epoch = (G + tc_.groups_per_step - 1) / tc_.groups_per_step;
  for (int64_t epoch = 0; epoch < tc_.epochs; ++epoch) {
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      double t0 = seconds_since_start();
      const int64_t g0 = s * tc_.groups_per_step, g1 = std::min(G, g0 + tc_.groups_per_step);
      std::vector<const Group*> mine;
      for (int64_t g = g0; g < g1; ++g)
        if ((g - g0) % size_ == rank_) mine.push_back(&groups[static_cast<size_t>(g)]);
      const double inv_groups = 1.0 / static_cast<double>(g1 - g0);
      // sums: loss, kl·tokens, clip·tokens, loss tokens, entropy sum, reward sum, answers, answer
      // tokens
      double sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      model_->zero_grads();
      for (size_t a = 0; a < mine.size();) {
        size_t b = a;
        int64_t tokens = 0;
        while (b < mine.size() &&
               (b == a || tokens + group_tokens(*mine[b]) <= tc_.micro_batch_tokens))
          tokens += group_tokens(*mine[b++]);
        model::Batch batch;
        batch.cu.push_back(0);
        for (size_t gi = a; gi < b; ++gi)
          for (auto* t : *mine[gi]) {
            batch.tokens.insert(batch.tokens.end(), t->tokens.begin(), t->tokens.end());
            for (size_t i = 0; i < t->tokens.size(); ++i)
              batch.mask.push_back(static_cast<int32_t>(i) >= t->prompt_len);
            batch.cu.push_back(static_cast<int32_t>(batch.tokens.size()));
          }
        const model::TokenOutputs& out = model_->forward(batch);
        std::vector<float> dlogprob(batch.tokens.size(), 0.0f);
        size_t seq = 0;
        for (size_t gi = a; gi < b; ++gi) {
          std::vector<rl::AnswerView> views;
          std::vector<float*> grads;
          for (auto* t : *mine[gi]) {
            size_t start =
                static_cast<size_t>(batch.cu[seq++]) + static_cast<size_t>(t->prompt_len);
            views.push_back({&out.logprob[start], t->logprobs.data(), t->segment_iter.data(),
                             t->answer_len(), t->reward});
            grads.push_back(&dlogprob[start]);
            for (int64_t i = 0; i < t->answer_len(); ++i)
              sums[4] += out.entropy[start + static_cast<size_t>(i)];
            sums[5] += t->reward;
            sums[7] += static_cast<double>(t->answer_len());
            sums[6] += 1;
          }
          rl::LossStats st = rl::group_loss(lc, views, grads);
          for (size_t j = 0; j < grads.size(); ++j)  // the step's loss: the mean over its groups
            for (int64_t i = 0; i < views[j].T; ++i)
              grads[j][i] = static_cast<float>(grads[j][i] * inv_groups);
          sums[0] += st.loss * inv_groups;
          sums[1] += st.kl * static_cast<double>(st.tokens);
          sums[2] += st.clip_frac * static_cast<double>(st.tokens);
          sums[3] += static_cast<double>(st.tokens);
        }
        model_->backward(dlogprob.data());
        a = b;
      }
      allreduce(model_->grads(), model_->num_params());
      allreduce(sums, 8);
      optim::StepStats st = opt_->step_with_lr(model_->params(), model_->grads(), tc_.rl_lr);
      ++step_;
      const double tok = std::max(1.0, sums[3]);
      rows.push_back({{"step", static_cast<double>(step_)},
                      {"iteration", static_cast<double>(iteration)},
                      {"loss", sums[0]},
                      {"kl", sums[1] / tok},
                      {"clip_frac", sums[2] / tok},
                      {"entropy", sums[4] / std::max(1.0, sums[7])},
                      {"reward_mean", sums[5] / std::max(1.0, sums[6])},
                      {"answers", sums[6]},
                      {"tokens", sums[3]},
                      {"grad_norm", st.grad_norm},
                      {"lr", st.lr},
                      {"time_s", seconds_since_start() - t0}});
    }
  }
  return rows;
}

}  // namespace k1rl::train
