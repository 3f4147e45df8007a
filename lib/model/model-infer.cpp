// The inference path: new tokens of several sequences (a whole prompt when a sequence joins, one
// token per decode step) run in one packed forward that appends their keys/values to the KV
// cache and attends over everything cached for that sequence. Same ops as training.
#include "kernels/ops.h"
#include "lib/model/model-impl.h"

namespace k1rl::model {

KvCache::KvCache(const ModelConfig& cfg, int64_t slots, int64_t capacity)
    : slots_(slots), capacity_(capacity), scratch_(std::make_unique<Scratch>()) {
  if (slots < 1 || capacity < 1)
    throw InputError("bad KV cache size",
                     strfmt("%lld slots of %lld tokens", (long long)slots, (long long)capacity),
                     "ask for at least one slot and one token");
  layer_stride_ = slots * capacity * cfg.kv_heads * cfg.head_dim();
  k_.assign(static_cast<size_t>(layer_stride_ * cfg.layers), 0.f);
  v_.assign(static_cast<size_t>(layer_stride_ * cfg.layers), 0.f);
}

KvCache::~KvCache() = default;

void Model::forward_cached(const int32_t* tokens, const int32_t* q_cu, int64_t B,
                           const int32_t* slots, const int32_t* start, KvCache& kc, float* logits,
                           bool all_rows) const {
  const Impl& I = *impl_;
  KvCache::Scratch& S = *kc.scratch_;
  const int64_t N = q_cu[B], C = cfg_.dim, D = cfg_.head_dim(), H = cfg_.heads, Hkv = cfg_.kv_heads;
  const int64_t HD = H * D, KD = Hkv * D, QKV = HD + 2 * KD, F = cfg_.ffn_dim, V = cfg_.vocab;
  const int64_t cap = kc.capacity();
  const float eps = static_cast<float>(cfg_.norm_eps);
  const float* P = params_.data();
  if (N <= 0) return;

  S.pos.resize(N);
  S.kv_start.resize(B);
  S.kv_len.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t nq = q_cu[b + 1] - q_cu[b];
    const int64_t end = static_cast<int64_t>(start[b]) + nq;
    if (slots[b] < 0 || slots[b] >= kc.slots() || start[b] < 0 || nq < 1 || end > cap ||
        end > cfg_.max_seq)
      throw InputError("bad cached forward step",
                       strfmt("sequence %lld: slot %d, positions %d..%lld (cache holds %lld, "
                              "max_seq %lld)",
                              (long long)b, slots[b], start[b], (long long)end - 1, (long long)cap,
                              (long long)cfg_.max_seq),
                       "this is a bug in the generation loop");
    S.kv_start[b] = static_cast<int32_t>(slots[b] * cap);
    S.kv_len[b] = static_cast<int32_t>(end);
    for (int64_t i = 0; i < nq; ++i) S.pos[q_cu[b] + i] = static_cast<int32_t>(start[b] + i);
  }
  for (int64_t i = 0; i < N; ++i)
    if (tokens[i] < 0 || tokens[i] >= cfg_.vocab)
      throw InputError("bad token id", strfmt("%d is outside [0, %lld)", tokens[i], (long long)V),
                       "the prompt was encoded with another tokenizer");
  const ops::AttnShape sh{B, H, Hkv, D, q_cu, S.kv_start.data(), S.kv_len.data(), true};

  S.x.resize(N * C), S.ln.resize(N * C), S.qkv.resize(N * QKV), S.att.resize(N * HD);
  S.gu.resize(N * 2 * F), S.h.resize(N * F);
  float *x = S.x.data(), *ln = S.ln.data(), *qkv = S.qkv.data(), *att = S.att.data();
  ops::embedding_forward(x, P + I.lay.embed, tokens, N, C);
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    const LayerOffsets& o = I.lay.layer[l];
    ops::rmsnorm_forward(ln, nullptr, x, P + o.ln1, N, C, eps);
    ops::matmul_forward(qkv, ln, P + o.wqkv, o.bqkv >= 0 ? P + o.bqkv : nullptr, N, C, QKV);
    ops::rope_apply(qkv, QKV, S.pos.data(), N, H + Hkv, D, I.rope_cos.data(), I.rope_sin.data());
    float *kcache = kc.k(l), *vcache = kc.v(l);
    for (int64_t b = 0; b < B; ++b)
      for (int32_t i = q_cu[b]; i < q_cu[b + 1]; ++i) {
        float* kslot = kcache + slots[b] * KD * cap;  // keys transposed per slot: [Hkv·D, cap]
        const float* kn = qkv + i * QKV + HD;
        for (int64_t e = 0; e < KD; ++e) kslot[e * cap + S.pos[i]] = kn[e];
        ops::copy(vcache + (S.kv_start[b] + S.pos[i]) * KD, qkv + i * QKV + HD + KD, KD);
      }
    ops::attention_forward(att, HD, nullptr, qkv, QKV, kcache, cap, vcache, KD, sh);
    ops::matmul_forward(x, att, P + o.wo, nullptr, N, HD, C, true);
    ops::rmsnorm_forward(ln, nullptr, x, P + o.ln2, N, C, eps);
    ops::matmul_forward(S.gu.data(), ln, P + o.wgu, nullptr, N, C, 2 * F);
    ops::swiglu_forward(S.h.data(), S.gu.data(), N, F);
    ops::matmul_forward(x, S.h.data(), P + o.wdown, nullptr, N, F, C, true);
  }
  if (all_rows) {
    ops::rmsnorm_forward(ln, nullptr, x, P + I.lay.norm, N, C, eps);
    ops::matmul_forward(logits, ln, P + I.lay.head, nullptr, N, C, V);
    return;
  }
  S.xsel.resize(B * C);
  for (int64_t b = 0; b < B; ++b) ops::copy(S.xsel.data() + b * C, x + (q_cu[b + 1] - 1) * C, C);
  ops::rmsnorm_forward(ln, nullptr, S.xsel.data(), P + I.lay.norm, B, C, eps);
  ops::matmul_forward(logits, ln, P + I.lay.head, nullptr, B, C, V);
}

}  // namespace k1rl::model
