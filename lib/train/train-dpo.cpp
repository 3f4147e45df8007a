// DPO steps (train.mode = dpo, long2short; the loss and its formula: lib/rl/rl-dpo.cpp). Each
// step draws train.dpo_batch pairs (the same draw on every rank), each rank takes its share,
// forwards chosen and rejected sequences of whole pairs in micro-batches, turns the summed answer
// log-probs and the stored reference sums into d(loss)/d(logprob_t) (the step's loss is the mean
// over its pairs), backpropagates, and the gradients are summed over ranks before one AdamW step
// with the [optim] schedule. The pairs and their π_ref sums come from lib/long2short.
#include <algorithm>

#include "lib/rl/rl.h"
#include "lib/train/train.h"

namespace k1rl::train {

std::vector<io::Row> Trainer::dpo(const std::vector<DpoPairRef>& pairs, int64_t steps,
                                  int64_t batch) {
  if (pairs.empty())
    throw InputError("no DPO pairs", "no prompt had a correct answer and a rejected one",
                     "sample more answers per prompt (long2short.samples) or start from a "
                     "stronger checkpoint");
  const rl::DpoConfig dc = rl::DpoConfig::from(cfg_);
  std::vector<io::Row> rows;
  Progress progress("dpo", steps);
  for (int64_t s = 0; s < steps; ++s) {
    double t0 = seconds_since_start();
    std::vector<const DpoPairRef*> mine;
    for (int64_t i = 0; i < batch; ++i) {
      const DpoPairRef* p = &pairs[rng_.below(pairs.size())];
      if (i % size_ == rank_) mine.push_back(p);
    }
    const double scale = 1.0 / static_cast<double>(batch);
    // sums: loss, margin, margin > 0, chosen tokens, rejected tokens, chosen reward, rejected
    double sums[7] = {0, 0, 0, 0, 0, 0, 0};
    model_->zero_grads();
    for (size_t a = 0; a < mine.size();) {
      size_t b = a;
      int64_t tokens = 0;
      auto size_of = [&](size_t i) {
        return static_cast<int64_t>(mine[i]->chosen->size() + mine[i]->rejected->size());
      };
      while (b < mine.size() && (b == a || tokens + size_of(b) <= tc_.micro_batch_tokens))
        tokens += size_of(b++);
      model::Batch batch_;
      batch_.cu.push_back(0);
      for (size_t i = a; i < b; ++i)
        for (const std::vector<int32_t>* seq : {mine[i]->chosen, mine[i]->rejected}) {
          batch_.tokens.insert(batch_.tokens.end(), seq->begin(), seq->end());
          for (size_t t = 0; t < seq->size(); ++t)
            batch_.mask.push_back(static_cast<int32_t>(t) >= mine[i]->prompt_len);
          batch_.cu.push_back(static_cast<int32_t>(batch_.tokens.size()));
        }
      model::ForwardOptions fo;
      fo.entropy = false;
      const model::TokenOutputs& out = model_->forward(batch_, fo);
      std::vector<float> dlogprob(batch_.tokens.size(), 0.0f);
      for (size_t i = a; i < b; ++i) {
        const DpoPairRef& p = *mine[i];
        const size_t w0 = static_cast<size_t>(batch_.cu[2 * (i - a)]) + p.prompt_len;
        const size_t l0 = static_cast<size_t>(batch_.cu[2 * (i - a) + 1]) + p.prompt_len;
        const int64_t Tw = static_cast<int64_t>(p.chosen->size()) - p.prompt_len;
        const int64_t Tl = static_cast<int64_t>(p.rejected->size()) - p.prompt_len;
        rl::DpoPairView v{&out.logprob[w0], Tw, p.ref_chosen, &out.logprob[l0], Tl, p.ref_rejected};
        rl::DpoStats st = rl::dpo_loss(dc, v, &dlogprob[w0], &dlogprob[l0], scale);
        sums[0] += st.loss * scale;
        sums[1] += st.margin;
        sums[2] += st.margin > 0;
        sums[3] += static_cast<double>(Tw);
        sums[4] += static_cast<double>(Tl);
        sums[5] += st.reward_w;
        sums[6] += st.reward_l;
      }
      model_->backward(dlogprob.data());
      a = b;
    }
    allreduce(model_->grads(), model_->num_params());
    allreduce(sums, 7);
    optim::StepStats st = opt_->step(model_->params(), model_->grads());
    ++step_;
    const double n = static_cast<double>(batch);
    rows.push_back({{"step", static_cast<double>(step_)},
                    {"dpo", 1.0},
                    {"loss", sums[0]},
                    {"dpo_margin", sums[1] / n},
                    {"dpo_accuracy", sums[2] / n},
                    {"dpo_chosen_len", sums[3] / n},
                    {"dpo_rejected_len", sums[4] / n},
                    {"dpo_reward_chosen", sums[5] / n},
                    {"dpo_reward_rejected", sums[6] / n},
                    {"grad_norm", st.grad_norm},
                    {"lr", st.lr},
                    {"time_s", seconds_since_start() - t0}});
    progress.update(s + 1, strfmt("loss %.4f margin %.3f", sums[0], sums[1] / n));
  }
  progress.finish();
  return rows;
}

}  // namespace k1rl::train
