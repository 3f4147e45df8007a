// The inference path: new tokens of several sequences (a whole prompt when a sequence joins, one
// token per decode step) run in one packed forward that appends their keys/values to the KV
// cache and attends over everything cached for that sequence. Same ops as training.
#include <algorithm>

#include "kernels/ops.h"
#include "lib/model/model-impl.h"

namespace k1rl::model {

namespace {

ops::KvFormat kv_format(KvType t) {
  switch (t) {
    case KvType::f16:
      return ops::KvFormat::f16;
    case KvType::bf24:
      return ops::KvFormat::bf24;
    default:
      return ops::KvFormat::f32;
  }
}

}  // namespace

const char* step_op_name(StepOp op) {
  static const char* const names[] = {"embed",     "norm",     "qkv",     "rope",
                                      "attention", "out_proj", "gate_up", "swiglu",
                                      "down",      "lm_head",  "sample",  "other"};
  const int i = static_cast<int>(op);
  return i >= 0 && i < StepProfile::kOps ? names[i] : "?";
}

double StepProfile::total() const {
  double t = 0;
  for (double x : seconds) t += x;
  return t;
}

const char* kv_type_name(KvType t) {
  return t == KvType::f16 ? "f16" : t == KvType::bf24 ? "bf24" : "f32";
}

KvType kv_type_from_name(const std::string& name) {
  for (KvType t : {KvType::f32, KvType::f16, KvType::bf24})
    if (name == kv_type_name(t)) return t;
  throw ConfigError(strfmt("unknown KV-cache type '%s'", name.c_str()),
                    "the KV cache holds f32, f16 or bf24 elements", "use one of those");
}

KvCache::KvCache(const ModelConfig& cfg, int64_t slots, int64_t capacity, KvType type)
    : slots_(slots), capacity_(capacity), type_(type), scratch_(std::make_unique<Scratch>()) {
  size_cache(cfg);
}

KvCache::KvCache(const Model& model, int64_t slots, int64_t capacity, KvType type)
    : slots_(slots), capacity_(capacity), type_(type), pool_(&model) {
  {
    Model::Impl& I = *model.impl_;
    std::lock_guard<std::mutex> lock(I.pool_mutex);
    if (!I.pool.empty()) {
      scratch_ = std::move(I.pool.back());
      I.pool.pop_back();
    }
  }
  if (!scratch_) scratch_ = std::make_unique<Scratch>();
  size_cache(model.config());
}

KvCache::~KvCache() {
  if (!pool_ || !scratch_) return;
  Model::Impl& I = *pool_->impl_;
  std::lock_guard<std::mutex> lock(I.pool_mutex);
  I.pool.push_back(std::move(scratch_));
}

// Sizes keys and values. A reused buffer keeps what an earlier cache stored there: a step reads
// only positions it wrote (the unused tail of a 16-position tile is masked), and the memory was
// zero or finite keys and values, never anything that could turn a masked product into NaN.
void KvCache::size_cache(const ModelConfig& cfg) {
  if (slots_ < 1 || capacity_ < 1)
    throw InputError("bad KV cache size",
                     strfmt("%lld slots of %lld tokens", (long long)slots_, (long long)capacity_),
                     "ask for at least one slot and one token");
  stride_ = (capacity_ + 15) / 16 * 16;  // the kernels' cache layout wants whole tiles of 16
  layer_stride_ = slots_ * stride_ * cfg.kv_heads * cfg.head_dim();
  const int64_t bytes = layer_stride_ * cfg.layers * ops::kv_bytes(kv_format(type_));
  Scratch& S = *scratch_;
  const unsigned char *k0 = S.k.data(), *v0 = S.v.data();
  const size_t n0 = S.k.size();
  size_scratch(S.k, bytes);
  size_scratch(S.v, bytes);
  // Kept sequences survive only in the very layout and memory they were written in.
  const std::array<int64_t, 3> layout{slots_, stride_, static_cast<int64_t>(type_)};
  if (layout != S.kept_layout || S.k.data() != k0 || S.v.data() != v0 || S.k.size() != n0)
    S.kept.clear();
  S.kept_layout = layout;
  S.kept.resize(static_cast<size_t>(slots_));
}

int64_t KvCache::bytes() const {
  return 2 * static_cast<int64_t>(scratch_->k.size());
}

void Model::release_generation_memory(bool keep_kv) {
  Impl& I = *impl_;
  std::vector<std::unique_ptr<KvCache::Scratch>> pool;
  {
    std::lock_guard<std::mutex> lock(I.pool_mutex);
    if (keep_kv) {
      for (auto& S : I.pool)
        for (FloatBuffer* b :
             {&S->x, &S->ln, &S->qkv, &S->att, &S->gu, &S->h, &S->xsel, &S->logits})
          FloatBuffer().swap(*b);
    } else {
      pool.swap(I.pool);
    }
  }
  std::lock_guard<std::mutex> lock(I.packed.mutex);
  decltype(I.packed.data)().swap(I.packed.data);
  I.packed.at.clear();
  I.packed.version = 0;
}

// Packs every weight matrix into the model's one buffer, sized exactly once per model shape
// (growing it matrix by matrix would copy it again at every doubling).
bool KvCache::pack_weights(const Model& model) {
  scratch_->packed_for = &model;
  PackedWeights& W = model.impl_->packed;
  std::lock_guard<std::mutex> lock(W.mutex);
  if (W.version == model.weights_version() && W.precision == ops::precision()) return false;
  const ModelConfig& c = model.config();
  const int64_t C = c.dim, HD = c.heads * c.head_dim(), KD = c.kv_heads * c.head_dim();
  const Layout& lay = model.impl_->lay;
  struct Matrix {
    int64_t offset, M, K;
  };
  std::vector<Matrix> mats;
  for (const LayerOffsets& o : lay.layer) {
    mats.push_back({o.wqkv, HD + 2 * KD, C});
    mats.push_back({o.wo, C, HD});
    mats.push_back({o.wgu, 2 * c.ffn_dim, C});
    mats.push_back({o.wdown, C, c.ffn_dim});
  }
  mats.push_back({lay.head, c.vocab, C});
  int64_t total = 0;
  W.at.clear();
  for (const Matrix& m : mats) {
    W.at.emplace(m.offset, total);
    total += ops::packed_size(m.M, m.K, ops::precision());
  }
  size_scratch(W.data, total);
  for (const Matrix& m : mats)
    ops::pack_weights(W.data.data() + W.at.at(m.offset), model.params() + m.offset, m.M, m.K);
  W.version = model.weights_version();
  W.precision = ops::precision();
  return true;
}

void* KvCache::k(int64_t layer) {
  return scratch_->k.data() + layer * layer_stride_ * ops::kv_bytes(kv_format(type_));
}
void* KvCache::v(int64_t layer) {
  return scratch_->v.data() + layer * layer_stride_ * ops::kv_bytes(kv_format(type_));
}

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
    for (int64_t i = 0; i < nq; ++i) {
      S.pos[q_cu[b] + i] = static_cast<int32_t>(start[b] + i);
    }
  }
  for (int64_t i = 0; i < N; ++i)
    if (tokens[i] < 0 || tokens[i] >= cfg_.vocab)
      throw InputError("bad token id", strfmt("%d is outside [0, %lld)", tokens[i], (long long)V),
                       "the prompt was encoded with another tokenizer");
  for (int64_t b = 0; b < B; ++b)  // what a slot kept for a later call is overwritten now
    if (static_cast<size_t>(slots[b]) < S.kept.size()) S.kept[slots[b]].key = 0;
  const int64_t stride = kc.stride_;
  const ops::AttnShape sh{
      B, H, Hkv, D, q_cu, S.kv_start.data(), S.kv_len.data(), stride, kv_format(kc.type())};
  // out[n, M] (+)= in[n, K]·Wᵀ: with the weights packed (Generator) and few rows (decode steps),
  // ops::matmul_packed; the training product otherwise (a step that prefills many rows: sgemm,
  // or oneDNN's AMX/AVX512-BF16 kernels under bf16, beat the packed kernel's register tiles).
  const PackedWeights& W = I.packed;
  const ops::RopeArgs rope{S.pos.data(), I.rope_cos.data(), I.rope_sin.data()};
  const bool use_packed =
      S.packed_for == this && W.version == version_ && W.precision == ops::precision();
  auto linear = [&](float* out, const float* in, int64_t rows, int64_t K, int64_t M, int64_t w,
                    int64_t bias, bool acc) {
    const float* b = bias >= 0 ? P + bias : nullptr;
    if (use_packed && rows < kPackedRowsMax)
      ops::matmul_packed(out, in, W.data.data() + W.at.at(w), b, rows, K, M, acc);
    else
      ops::matmul_forward(out, in, P + w, b, rows, K, M, acc);
  };

  size_scratch(S.x, N * C), size_scratch(S.ln, N * C), size_scratch(S.qkv, N * QKV);
  size_scratch(S.att, N * HD), size_scratch(S.gu, N * 2 * F), size_scratch(S.h, N * F);
  size_scratch(S.xsel, all_rows || N == B ? 0 : B * C);
  float *x = S.x.data(), *ln = S.ln.data(), *qkv = S.qkv.data(), *att = S.att.data();
  // The step's ops run as one team (ops::team): a decode step is ~10 short ops per layer.
  StepProfile* prof = S.profile;
  ops::team([&] {
    // With a profile, the team's first thread times each op (each ends at the team's barrier).
    const bool timed = prof && ops::team_rank() == 0;
    double t = timed ? seconds_since_start() : 0;
    auto done = [&](StepOp op) {
      if (!timed) return;
      const double t1 = seconds_since_start();
      (*prof)[op] += t1 - t;
      t = t1;
    };
    ops::embedding_forward(x, P + I.lay.embed, tokens, N, C);
    done(StepOp::embed);
    for (int64_t l = 0; l < cfg_.layers; ++l) {
      const LayerOffsets& o = I.lay.layer[l];
      ops::rmsnorm_forward(ln, nullptr, x, P + o.ln1, N, C, eps);
      done(StepOp::norm);
      linear(qkv, ln, N, C, QKV, o.wqkv, o.bqkv, false);
      done(StepOp::qkv);
      // RoPE on q and k inside the attention's per-sequence task (no pass of its own).
      ops::attention_cached(att, HD, qkv, QKV, qkv + HD, qkv + HD + KD, QKV, kc.k(l), kc.v(l), sh,
                            &rope);
      done(StepOp::attention);
      linear(x, att, N, HD, C, o.wo, -1, true);
      done(StepOp::out_proj);
      ops::rmsnorm_forward(ln, nullptr, x, P + o.ln2, N, C, eps);
      done(StepOp::norm);
      linear(S.gu.data(), ln, N, C, 2 * F, o.wgu, -1, false);
      done(StepOp::gate_up);
      ops::swiglu_forward(S.h.data(), S.gu.data(), N, F);
      done(StepOp::swiglu);
      linear(x, S.h.data(), N, F, C, o.wdown, -1, true);
      done(StepOp::down);
    }
    // The LM head over every row, or over each sequence's last row (all of them when every
    // sequence feeds one token, as in decode steps).
    const float* last = x;
    const int64_t rows = all_rows ? N : B;
    if (!all_rows && N != B) {
      ops::team_single([&] {
        for (int64_t b = 0; b < B; ++b)
          std::copy_n(x + (q_cu[b + 1] - 1) * C, C, S.xsel.data() + b * C);
      });
      last = S.xsel.data();
    }
    ops::rmsnorm_forward(ln, nullptr, last, P + I.lay.norm, rows, C, eps);
    done(StepOp::norm);
    linear(logits, ln, rows, C, V, I.lay.head, -1, false);
    done(StepOp::head);
  });
}

}  // namespace k1rl::model
