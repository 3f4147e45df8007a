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
  // Truncated: the same weights pw, restricted. Candidates: all tokens, or the top_k largest
  // (ties: lower id first).
  static thread_local std::vector<int32_t> cand;
  cand.resize(static_cast<size_t>(V));
  std::iota(cand.begin(), cand.end(), 0);
  auto higher = [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  double total = ptotal;
  if (filter_k) {
    std::nth_element(cand.begin(), cand.begin() + (p.top_k - 1), cand.end(), higher);
    cand.resize(static_cast<size_t>(p.top_k));
    total = 0;
    for (int32_t c : cand) total += pw[c];
  }
  size_t kept = cand.size();
  if (p.top_p < 1) {
    // The nucleus: the most likely candidates in order until their mass reaches top_p. Only a
    // prefix is sorted, grown 4x until it holds the nucleus (a full sort of 49k ids per token
    // cost more than the step's products at batch 64).
    const size_t n = cand.size();
    for (size_t m = std::min<size_t>(64, n);; m = std::min(n, 4 * m)) {
      std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m), cand.end(),
                        higher);
      double cum = 0, mass = 0;
      size_t i = 0;
      while (i < m && cum < p.top_p) mass += pw[cand[i]], cum += pw[cand[i]] / total, ++i;
      if (cum >= p.top_p || m == n) {
        kept = i;
        total = mass;
        break;
      }
    }
  } else {
    // Canonical order (by id) so the draw does not depend on nth_element's arrangement.
    std::sort(cand.begin(), cand.end());
  }
  const double u = rng.uniform() * total;
  double cum = 0;
  size_t pick = kept - 1;
  for (size_t i = 0; i < kept; ++i) {
    cum += pw[cand[i]];
    if (u < cum) {
      pick = i;
      break;
    }
  }
  *behaviour_logprob = static_cast<float>(std::log(double(pw[cand[pick]]) / total));
  *model_logprob = policy_lp(cand[pick]);
  return cand[pick];
}

}  // namespace k1rl::model
