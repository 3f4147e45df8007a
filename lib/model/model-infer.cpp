// The inference path: new tokens of several sequences (a whole prompt when a sequence joins, one
// token per decode step) run in one packed forward that appends their keys/values to the KV
// cache and attends over everything cached for that sequence. Same ops as training.
#include "kernels/ops.h"
#include "lib/model/model-impl.h"

namespace k1rl::model {

KvCache::KvCache(const ModelConfig& cfg, int64_t slots, int64_t capacity, KvType type)
    : slots_(slots), capacity_(capacity), type_(type), scratch_(std::make_unique<Scratch>()) {
  if (slots < 1 || capacity < 1)
    throw InputError("bad KV cache size",
                     strfmt("%lld slots of %lld tokens", (long long)slots, (long long)capacity),
                     "ask for at least one slot and one token");
  stride_ = (capacity + 15) / 16 * 16;  // the kernels' cache layout wants whole tiles of 16
  layer_stride_ = slots * stride_ * cfg.kv_heads * cfg.head_dim();
  const size_t n = static_cast<size_t>(layer_stride_ * cfg.layers);
  if (type == KvType::f16) {
    kh_.assign(n, 0);
    vh_.assign(n, 0);
  } else {
    k_.assign(n, 0.f);
    v_.assign(n, 0.f);
  }
}

void* KvCache::k(int64_t layer) {
  if (type_ == KvType::f16) return kh_.data() + layer * layer_stride_;
  return k_.data() + layer * layer_stride_;
}
void* KvCache::v(int64_t layer) {
  if (type_ == KvType::f16) return vh_.data() + layer * layer_stride_;
  return v_.data() + layer * layer_stride_;
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
    S.kv_start[b] = slots[b];
    S.kv_len[b] = static_cast<int32_t>(end);
    for (int64_t i = 0; i < nq; ++i) S.pos[q_cu[b] + i] = static_cast<int32_t>(start[b] + i);
  }
  for (int64_t i = 0; i < N; ++i)
    if (tokens[i] < 0 || tokens[i] >= cfg_.vocab)
      throw InputError("bad token id", strfmt("%d is outside [0, %lld)", tokens[i], (long long)V),
                       "the prompt was encoded with another tokenizer");
  const int64_t stride = kc.stride_;
  const bool f16 = kc.type() == KvType::f16;
  const ops::AttnShape sh{B, H, Hkv, D, q_cu, S.kv_start.data(), S.kv_len.data(), stride, f16};

  S.x.resize(N * C), S.ln.resize(N * C), S.qkv.resize(N * QKV), S.att.resize(N * HD);
  S.gu.resize(N * 2 * F), S.h.resize(N * F);
  float *x = S.x.data(), *ln = S.ln.data(), *qkv = S.qkv.data(), *att = S.att.data();
  ops::embedding_forward(x, P + I.lay.embed, tokens, N, C);
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    const LayerOffsets& o = I.lay.layer[l];
    ops::rmsnorm_forward(ln, nullptr, x, P + o.ln1, N, C, eps);
    ops::matmul_forward(qkv, ln, P + o.wqkv, o.bqkv >= 0 ? P + o.bqkv : nullptr, N, C, QKV);
    ops::rope_apply(qkv, QKV, S.pos.data(), N, H + Hkv, D, I.rope_cos.data(), I.rope_sin.data());
    float* kcache = static_cast<float*>(kc.k(l));
    float* vcache = static_cast<float*>(kc.v(l));
    uint16_t* kcache_h = static_cast<uint16_t*>(kc.k(l));
    uint16_t* vcache_h = static_cast<uint16_t*>(kc.v(l));
    for (int64_t b = 0; b < B; ++b)
      for (int32_t i = q_cu[b]; i < q_cu[b + 1]; ++i) {
        const float* kn = qkv + i * QKV + HD;
        const float* vn = kn + KD;
        for (int64_t h = 0; h < Hkv; ++h) {
          const int64_t ko = ops::kv_cache_key_index(slots[b], h, S.pos[i], 0, Hkv, D, stride);
          const int64_t vo = ops::kv_cache_value_index(slots[b], h, S.pos[i], 0, Hkv, D, stride);
          if (f16) {
            for (int64_t d = 0; d < D; ++d)
              kcache_h[ko + d * 16] = ops::half_from_float(kn[h * D + d]);
            for (int64_t d = 0; d < D; ++d) vcache_h[vo + d] = ops::half_from_float(vn[h * D + d]);
          } else {
            for (int64_t d = 0; d < D; ++d) kcache[ko + d * 16] = kn[h * D + d];
            ops::copy(vcache + vo, vn + h * D, D);
          }
        }
      }
    ops::attention_forward(att, HD, nullptr, qkv, QKV, kcache, 0, vcache, 0, sh);
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
