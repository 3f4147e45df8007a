// One RL iteration (k1.5 by default; see lib/rl/rl-loss.cpp for every formula):
//   1. group the iteration's ready trajectories by group_id (the k answers to one prompt), each
//      group checked: exactly group_size answers, all to one prompt;
//   2. per optimizer step take groups_per_step groups, each rank its share; forward each
//      micro-batch of whole groups to get log π_θ of every answer token;
//   3. lib/rl turns log-probs, stored behaviour log-probs and rewards into d(loss)/d(logprob_t);
//      the model backpropagates those; gradients are summed over ranks; one AdamW step.
// The optimizer is reset at the start of the iteration when train.reset_optimizer (the report).
#include <algorithm>
#include <array>
#include <map>
#include <set>

#include "lib/rl/rl.h"
#include "lib/train/train.h"

namespace k1rl::train {

namespace {
using Group = std::vector<const buffer::Trajectory*>;

std::string describe_group(int64_t id) {
  const buffer::GroupKey k = buffer::GroupKey::unpack(id);
  return strfmt("group %lld (iteration %lld, rollout rank %d, prompt draw %lld)",
                static_cast<long long>(id), static_cast<long long>(k.iteration), k.rank,
                static_cast<long long>(k.index));
}

// Refuses a group that is not group_size distinct answers to one prompt: two prompt draws that
// share an id would otherwise share one baseline.
void check_group(int64_t id, const Group& g) {
  const int32_t k = g.front()->group_size;
  std::set<int64_t> prompts;
  std::set<int32_t> samples;
  for (auto* t : g) {
    prompts.insert(t->prompt_id);
    samples.insert(t->sample);
  }
  const bool sizes_agree =
      std::all_of(g.begin(), g.end(), [&](auto* t) { return t->group_size == k; });
  if (prompts.size() != 1 || !sizes_agree || static_cast<int64_t>(g.size()) != k ||
      static_cast<int64_t>(samples.size()) != k)
    throw InputError(
        "bad training group",
        strfmt("%s has %zu trajectories (%zu distinct samples) of %zu prompt(s); expected "
               "group_size = %d answers to one prompt",
               describe_group(id).c_str(), g.size(), samples.size(), prompts.size(), k),
        "the iteration's shards hold colliding group ids or a partial group; remove the "
        "iteration's shards from <run>/buffer and rerun it");
}

// The iteration's groups in group-id order, answers in sample order, each one checked.
std::vector<Group> make_groups(const std::vector<buffer::Trajectory>& trajs) {
  std::map<int64_t, Group> by_id;
  for (const auto& t : trajs) by_id[t.group_id].push_back(&t);
  std::vector<Group> groups;
  for (auto& [id, g] : by_id) {
    check_group(id, g);
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

// What one optimizer step sums over its groups (then over the ranks): the /train row.
struct StepSums {
  double loss = 0;         // the step's loss: the mean over its groups
  double kl_tokens = 0;    // Σ kl · loss tokens
  double clip_tokens = 0;  // Σ clip_frac · loss tokens
  double loss_tokens = 0;  // tokens in the loss
  double entropy_sum = 0;  // Σ entropy over answer tokens
  buffer::AnswerStats answers;

  static constexpr size_t kCount = 9;
  std::array<double, kCount> pack() const {
    return {loss,
            kl_tokens,
            clip_tokens,
            loss_tokens,
            entropy_sum,
            answers.answers,
            answers.reward_sum,
            answers.correct_sum,
            answers.length_sum};
  }
  void unpack(const std::array<double, kCount>& a) {
    loss = a[0], kl_tokens = a[1], clip_tokens = a[2], loss_tokens = a[3], entropy_sum = a[4];
    answers = {a[5], a[6], a[7], a[8]};
  }
};

// This rank's share of the step's groups [g0, g1): every size-th one.
std::vector<const Group*> my_share(const std::vector<Group>& groups, int64_t g0, int64_t g1,
                                   int rank, int size) {
  std::vector<const Group*> mine;
  for (int64_t g = g0; g < g1; ++g)
    if ((g - g0) % size == rank) mine.push_back(&groups[static_cast<size_t>(g)]);
  return mine;
}

// Splits `mine` into micro-batches [a, b) of whole groups of at most `max_tokens` tokens (a
// group larger than that is a micro-batch of its own).
std::vector<std::pair<size_t, size_t>> micro_batches(const std::vector<const Group*>& mine,
                                                     int64_t max_tokens) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t a = 0; a < mine.size();) {
    size_t b = a;
    int64_t tokens = 0;
    while (b < mine.size() && (b == a || tokens + group_tokens(*mine[b]) <= max_tokens))
      tokens += group_tokens(*mine[b++]);
    out.emplace_back(a, b);
    a = b;
  }
  return out;
}

// The packed sequences of groups [a, b); prompt tokens carry no loss.
model::Batch pack_batch(const std::vector<const Group*>& mine, size_t a, size_t b) {
  model::Batch batch;
  batch.cu.push_back(0);
  for (size_t gi = a; gi < b; ++gi)
    for (auto* t : *mine[gi]) {
      batch.tokens.insert(batch.tokens.end(), t->tokens.begin(), t->tokens.end());
      for (size_t i = 0; i < t->tokens.size(); ++i)
        batch.mask.push_back(static_cast<int32_t>(i) >= t->prompt_len);
      batch.cu.push_back(static_cast<int32_t>(batch.tokens.size()));
    }
  return batch;
}

// Forward and backward of one micro-batch: accumulates the gradient of the step's loss (each
// group's loss weighted by inv_groups) into the model and the statistics into `sums`.
void micro_batch_step(model::Model& model, const rl::LossConfig& lc,
                      const std::vector<const Group*>& mine, size_t a, size_t b, double inv_groups,
                      StepSums& sums) {
  const model::Batch batch = pack_batch(mine, a, b);
  const model::TokenOutputs& out = model.forward(batch);
  std::vector<float> dlogprob(batch.tokens.size(), 0.0f);
  size_t seq = 0;
  for (size_t gi = a; gi < b; ++gi) {
    std::vector<rl::AnswerView> views;
    std::vector<float*> grads;
    for (auto* t : *mine[gi]) {
      const size_t start =
          static_cast<size_t>(batch.cu[seq++]) + static_cast<size_t>(t->prompt_len);
      views.push_back({&out.logprob[start], t->logprobs.data(), t->segment_iter.data(),
                       t->answer_len(), t->reward});
      grads.push_back(&dlogprob[start]);
      for (int64_t i = 0; i < t->answer_len(); ++i)
        sums.entropy_sum += out.entropy[start + static_cast<size_t>(i)];
      sums.answers.add(t->reward, 0.0, t->answer_len());
    }
    const rl::LossStats st = rl::group_loss(lc, views, grads);
    for (size_t j = 0; j < grads.size(); ++j)  // the step's loss: the mean over its groups
      for (int64_t i = 0; i < views[j].T; ++i)
        grads[j][i] = static_cast<float>(grads[j][i] * inv_groups);
    sums.loss += st.loss * inv_groups;
    sums.kl_tokens += st.kl * static_cast<double>(st.tokens);
    sums.clip_tokens += st.clip_frac * static_cast<double>(st.tokens);
    sums.loss_tokens += static_cast<double>(st.tokens);
  }
  model.backward(dlogprob.data());
}

io::Row step_row(const StepSums& s, const optim::StepStats& st, int64_t step, int64_t iteration,
                 double seconds) {
  const double tok = std::max(1.0, s.loss_tokens);
  return {{"step", static_cast<double>(step)},
          {"iteration", static_cast<double>(iteration)},
          {"loss", s.loss},
          {"kl", s.kl_tokens / tok},
          {"clip_frac", s.clip_tokens / tok},
          {"entropy", s.entropy_sum / std::max(1.0, s.answers.length_sum)},
          {"reward_mean", s.answers.reward_mean()},
          {"answers", s.answers.answers},
          {"tokens", s.loss_tokens},
          {"grad_norm", st.grad_norm},
          {"lr", st.lr},
          {"time_s", seconds}};
}
}  // namespace

std::vector<io::Row> Trainer::rl_iteration(const std::vector<buffer::Trajectory>& trajs,
                                           int64_t iteration) {
  const rl::LossConfig lc = rl::LossConfig::from(cfg_, iteration);
  const std::vector<Group> groups = make_groups(trajs);
  std::vector<io::Row> rows;
  if (groups.empty()) {
    K1RL_LOG_WARN("iteration %lld: no ready groups to train on", static_cast<long long>(iteration));
    return rows;
  }
  if (tc_.reset_optimizer) opt_->reset();
  const int64_t G = static_cast<int64_t>(groups.size());
  const int64_t steps_per_epoch = (G + tc_.groups_per_step - 1) / tc_.groups_per_step;
  for (int64_t epoch = 0; epoch < tc_.epochs; ++epoch)
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const double t0 = seconds_since_start();
      const int64_t g0 = s * tc_.groups_per_step, g1 = std::min(G, g0 + tc_.groups_per_step);
      const std::vector<const Group*> mine = my_share(groups, g0, g1, rank_, size_);
      StepSums sums;
      model_->zero_grads();
      for (auto [a, b] : micro_batches(mine, tc_.micro_batch_tokens))
        micro_batch_step(*model_, lc, mine, a, b, 1.0 / static_cast<double>(g1 - g0), sums);
      allreduce(model_->grads(), model_->num_params());
      std::array<double, StepSums::kCount> packed = sums.pack();
      allreduce(packed.data(), static_cast<int>(packed.size()));
      sums.unpack(packed);
      const optim::StepStats st = opt_->step_with_lr(model_->params(), model_->grads(), tc_.rl_lr);
      ++step_;
      rows.push_back(step_row(sums, st, step_, iteration, seconds_since_start() - t0));
    }
  return rows;
}

}  // namespace k1rl::train
