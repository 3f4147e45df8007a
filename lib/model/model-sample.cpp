// Sampling one token from a row of logits: temperature, top-k, top-p (nucleus), greedy at
// temperature 0. Ties break towards the lower token id so that results never depend on sort
// stability; the only randomness is one uniform draw from the sequence's own stream.
// Two log-probabilities come back (docs/rl.md "Sampling and the loss"): the behaviour one of the
// distribution actually drawn from (truncated by top-k/top-p), and the policy one the trainer
// recomputes, log softmax(z/T) over the whole vocabulary (T = 1 when greedy).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/ops.h"
#include "lib/model/model.h"

namespace k1rl::model {

int32_t sample_token(const float* z, int64_t V, const SamplingParams& p, Rng& rng,
                     float* behaviour_logprob, float* model_logprob) {
  if (!(p.temperature >= 0) || !(p.top_p > 0 && p.top_p <= 1) || p.top_k < 0)
    throw InputError(
        "bad sampling parameters",
        strfmt("temperature %g, top_p %g, top_k %lld", p.temperature, p.top_p, (long long)p.top_k),
        "need temperature >= 0, 0 < top_p <= 1, top_k >= 0");
  int32_t best = 0;
  for (int64_t k = 1; k < V; ++k)
    if (z[k] > z[best]) best = static_cast<int32_t>(k);
  const double zmax = z[best];
  // Policy log-probability, log softmax(z/T) untruncated (the trainer's convention): lse of z/T
  // from the vectorised exponential, in double.
  const double inv_pt = p.temperature > 0 ? 1.0 / p.temperature : 1.0;
  static thread_local std::vector<float> pw;
  pw.resize(static_cast<size_t>(V));
  ops::exp_weights(pw.data(), z, V, static_cast<float>(inv_pt), static_cast<float>(zmax * inv_pt));
  double ptotal = 0;
  for (float x : pw) ptotal += x;
  const double plse = zmax * inv_pt + std::log(ptotal);
  auto policy_lp = [&](int64_t k) { return static_cast<float>(z[k] * inv_pt - plse); };
  if (p.temperature == 0) {
    *behaviour_logprob = 0.f;
    *model_logprob = policy_lp(best);
    return best;
  }
  const double inv_t = 1.0 / p.temperature;
  const bool filter_k = p.top_k > 0 && p.top_k < V;
  if (!filter_k && p.top_p >= 1) {
    // Plain sampling: the policy distribution itself (weights exp((z - zmax)/T)).
    const double u = rng.uniform() * ptotal;
    double cum = 0;
    int64_t pick = V - 1;
    for (int64_t k = 0; k < V; ++k) {
      cum += pw[k];
      if (u < cum) {
        pick = k;
        break;
      }
    }
    *behaviour_logprob = static_cast<float>(std::log(double(pw[pick]) / ptotal));
    *model_logprob = policy_lp(pick);
    return static_cast<int32_t>(pick);
  }
  // Candidates: all tokens, or the top_k largest (ties: lower id first).
  std::vector<int32_t> cand(static_cast<size_t>(V));
  std::iota(cand.begin(), cand.end(), 0);
  auto higher = [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  if (filter_k) {
    std::nth_element(cand.begin(), cand.begin() + (p.top_k - 1), cand.end(), higher);
    cand.resize(static_cast<size_t>(p.top_k));
  }
  std::vector<double> w(cand.size());
  double total = 0;
  for (size_t i = 0; i < cand.size(); ++i) total += (w[i] = std::exp((z[cand[i]] - zmax) * inv_t));
  if (p.top_p < 1) {
    std::vector<size_t> order(cand.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return higher(cand[a], cand[b]); });
    double cum = 0, kept_total = 0;
    std::vector<int32_t> kept;
    std::vector<double> kw;
    for (size_t i : order) {
      kept.push_back(cand[i]);
      kw.push_back(w[i]);
      kept_total += w[i];
      cum += w[i] / total;
      if (cum >= p.top_p) break;
    }
    cand = std::move(kept);
    w = std::move(kw);
    total = kept_total;
  } else if (filter_k) {
    // Canonical order (by id) so the draw does not depend on nth_element's arrangement.
    std::vector<size_t> order(cand.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cand[a] < cand[b]; });
    std::vector<int32_t> c2;
    std::vector<double> w2;
    for (size_t i : order) c2.push_back(cand[i]), w2.push_back(w[i]);
    cand = std::move(c2);
    w = std::move(w2);
  }
  const double u = rng.uniform() * total;
  double cum = 0;
  size_t pick = cand.size() - 1;
  for (size_t i = 0; i < cand.size(); ++i) {
    cum += w[i];
    if (u < cum) {
      pick = i;
      break;
    }
  }
  *behaviour_logprob = static_cast<float>(std::log(w[pick] / total));
  *model_logprob = policy_lp(cand[pick]);
  return cand[pick];
}

}  // namespace k1rl::model
