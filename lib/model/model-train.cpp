// The training path: forward over packed sequences keeping activations, per-token log-probs
// and entropies from the LM head, and the full backward from per-token weights. Reads top to
// bottom as the model does; every op is a kernels/ops.h call on offsets of the flat buffers.
#include "kernels/ops.h"
#include "lib/model/model-impl.h"

namespace k1rl::model {

namespace {
template <class Vec>
void resize(Vec& v, int64_t n) {
  size_scratch(v, n);
}

// One block's forward from its input x: the activations the backward needs into A and, when
// next is not null, the block's output (x_next). Shared by the forward and, with
// recomputation, by the backward (which needs no x_next).
struct Rope {
  const int32_t* pos;
  const float *cos, *sin;
};
void block_forward(const ModelConfig& cfg, const float* P, int64_t N, const Rope& rope,
                   const LayerOffsets& o, const ops::AttnShape& sh, const float* x, LayerActs& A,
                   float* next) {
  const int64_t C = cfg.dim, D = cfg.head_dim(), H = cfg.heads, Hkv = cfg.kv_heads;
  const int64_t HD = H * D, KD = Hkv * D, QKV = HD + 2 * KD, F = cfg.ffn_dim;
  const float eps = static_cast<float>(cfg.norm_eps);
  // Attention block: x_mid = x + o_proj(attn(rope(qkv(norm(x)))))
  ops::rmsnorm_forward(A.ln1.data(), A.rstd1.data(), x, P + o.ln1, N, C, eps);
  ops::matmul_forward(A.qkv.data(), A.ln1.data(), P + o.wqkv, o.bqkv >= 0 ? P + o.bqkv : nullptr, N,
                      C, QKV);
  ops::rope_apply(A.qkv.data(), QKV, rope.pos, N, H + Hkv, D, rope.cos, rope.sin);
  ops::attention_forward(A.att.data(), HD, A.lse.data(), A.qkv.data(), QKV, A.qkv.data() + HD, QKV,
                         A.qkv.data() + HD + KD, QKV, sh);
  ops::copy(A.xmid.data(), x, N * C);
  ops::matmul_forward(A.xmid.data(), A.att.data(), P + o.wo, nullptr, N, HD, C, true);
  // MLP block: x_next = x_mid + down(silu(gate(norm(x_mid))) * up(norm(x_mid)))
  ops::rmsnorm_forward(A.ln2.data(), A.rstd2.data(), A.xmid.data(), P + o.ln2, N, C, eps);
  ops::matmul_forward(A.gu.data(), A.ln2.data(), P + o.wgu, nullptr, N, C, 2 * F);
  ops::swiglu_forward(A.h.data(), A.gu.data(), N, F);
  if (!next) return;
  ops::copy(next, A.xmid.data(), N * C);
  ops::matmul_forward(next, A.h.data(), P + o.wdown, nullptr, N, F, C, true);
}

void size_block(LayerActs& A, int64_t N, const ModelConfig& cfg) {
  const int64_t C = cfg.dim, H = cfg.heads, D = cfg.head_dim(), F = cfg.ffn_dim;
  const int64_t HD = H * D, QKV = HD + 2 * cfg.kv_heads * D;
  resize(A.ln1, N * C), resize(A.rstd1, N), resize(A.qkv, N * QKV), resize(A.att, N * HD);
  resize(A.lse, N * H), resize(A.xmid, N * C), resize(A.ln2, N * C), resize(A.rstd2, N);
  resize(A.gu, N * 2 * F), resize(A.h, N * F);
}

// Drops the memory of everything but x (recomputation keeps only the blocks' inputs).
void release_block(LayerActs& A) {
  for (FloatBuffer* b :
       {&A.ln1, &A.rstd1, &A.qkv, &A.att, &A.lse, &A.xmid, &A.ln2, &A.rstd2, &A.gu, &A.h})
    FloatBuffer().swap(*b);
}

// Rows [r0, r0 + n) of the LM head's logits, scaled by inv_temp, into `out` [n, V].
void head_rows(float* out, const float* head, float inv_temp, const float* xs, int64_t r0,
               int64_t n, int64_t C, int64_t V) {
  ops::matmul_forward(out, xs + r0 * C, head, nullptr, n, C, V);
  if (inv_temp != 1.f) ops::scale_inplace(out, inv_temp, n * V);
}
}  // namespace

void Model::release_training_memory() {
  Impl& I = *impl_;
  I.have_forward = false;
  std::vector<LayerActs>().swap(I.acts);
  release_block(I.work);
  for (FloatBuffer* b : {&I.work.x, &I.xlast, &I.xf, &I.rstdf, &I.xsel, &I.logits, &I.dx, &I.dxf,
                         &I.dln, &I.datt, &I.dqkv, &I.dh, &I.dgu, &I.dsel, &I.wlp, &I.went})
    FloatBuffer().swap(*b);
}

void Model::set_recompute(bool on) {
  impl_->recompute = on;
}
bool Model::recompute() const {
  return impl_->recompute;
}

const TokenOutputs& Model::forward(const Batch& batch, const ForwardOptions& opt) {
  batch.validate(cfg_);
  if (!(opt.temperature > 0))
    throw InputError("bad forward temperature", strfmt("%g", opt.temperature), "it must be > 0");
  Impl& I = *impl_;
  const int64_t N = batch.size(), B = static_cast<int64_t>(batch.cu.size()) - 1;
  const int64_t C = cfg_.dim, V = cfg_.vocab;
  const float eps = static_cast<float>(cfg_.norm_eps);
  const float* P = params_.data();
  I.have_forward = false;
  I.N = N;
  I.B = B;
  I.tokens = batch.tokens;
  I.cu = batch.cu;
  I.pos.resize(N);
  I.lens.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    I.lens[b] = I.cu[b + 1] - I.cu[b];
    for (int32_t i = I.cu[b]; i < I.cu[b + 1]; ++i) I.pos[i] = i - I.cu[b];
  }
  const ops::AttnShape sh{B,           cfg_.heads,  cfg_.kv_heads, cfg_.head_dim(),
                          I.cu.data(), I.cu.data(), I.lens.data()};
  const Rope rope{I.pos.data(), I.rope_cos.data(), I.rope_sin.data()};

  // With recomputation each block keeps its input only; one block's activations (I.work) are
  // computed again in the backward.
  I.acts.resize(cfg_.layers);
  for (auto& A : I.acts) {
    resize(A.x, N * C);
    if (I.recompute)
      release_block(A);
    else
      size_block(A, N, cfg_);
  }
  if (I.recompute) size_block(I.work, N, cfg_);
  resize(I.xlast, N * C), resize(I.xf, N * C), resize(I.rstdf, N);

  ops::embedding_forward(I.acts[0].x.data(), P + I.lay.embed, I.tokens.data(), N, C);
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    float* next = l + 1 < cfg_.layers ? I.acts[l + 1].x.data() : I.xlast.data();
    block_forward(cfg_, P, N, rope, I.lay.layer[l], sh, I.acts[l].x.data(),
                  I.recompute ? I.work : I.acts[l], next);
  }
  ops::rmsnorm_forward(I.xf.data(), I.rstdf.data(), I.xlast.data(), P + I.lay.norm, N, C, eps);

  // LM head only where a log-probability is wanted (or everywhere with all_logits).
  I.rows.clear();
  I.row_target.clear();
  I.row_token.clear();
  for (int64_t b = 0; b < B; ++b)
    for (int32_t p = I.cu[b]; p < I.cu[b + 1]; ++p) {
      const int32_t t = p + 1 < I.cu[b + 1] ? p + 1 : -1;
      const bool want = t >= 0 && (batch.mask.empty() || batch.mask[t] != 0);
      if (!want && !opt.all_logits) continue;
      I.rows.push_back(p);
      I.row_target.push_back(want ? t : -1);
      I.row_token.push_back(want ? I.tokens[t] : 0);
    }
  const int64_t R = static_cast<int64_t>(I.rows.size());
  I.rows_all = R == N;
  const float* xs = I.xf.data();
  if (!I.rows_all) {
    resize(I.xsel, R * C);
    for (int64_t r = 0; r < R; ++r)
      ops::copy(I.xsel.data() + r * C, I.xf.data() + I.rows[r] * C, C);
    xs = I.xsel.data();
  }
  I.inv_temp = static_cast<float>(1.0 / opt.temperature);
  // With recomputation (and unless all logits are asked for) the [R, V] logits are never held
  // whole: kHeadChunk rows at a time, again in the backward.
  I.head_chunk = I.recompute && !opt.all_logits ? std::min<int64_t>(R, kHeadChunk) : R;
  resize(I.logits, I.head_chunk * V), resize(I.row_lse, R), resize(I.row_lp, R);
  resize(I.row_ent, R);
  for (int64_t r0 = 0; r0 < R; r0 += I.head_chunk) {
    const int64_t n = std::min(I.head_chunk, R - r0);
    head_rows(I.logits.data(), P + I.lay.head, I.inv_temp, xs, r0, n, C, V);
    ops::softmax_stats(I.row_lse.data() + r0, I.row_lp.data() + r0,
                       opt.entropy ? I.row_ent.data() + r0 : nullptr, I.logits.data(),
                       I.row_token.data() + r0, n, V);
  }

  TokenOutputs& out = I.out;
  out.logprob.assign(N, 0.f);
  out.entropy.assign(N, 0.f);
  out.valid.assign(N, 0);
  for (int64_t r = 0; r < R; ++r) {
    const int32_t t = I.row_target[r];
    if (t < 0) continue;
    out.logprob[t] = I.row_lp[r];
    if (opt.entropy) out.entropy[t] = I.row_ent[r];
    out.valid[t] = 1;
  }
  I.have_forward = true;
  I.have_entropy = opt.entropy;
  return out;
}

void Model::backward(const float* dlogprob, const float* dentropy) {
  Impl& I = *impl_;
  if (!I.have_forward)
    throw InputError("Model::backward without a forward",
                     "each backward needs its own forward (the backward consumes the logits)",
                     "call forward(batch) before backward()");
  if (dentropy && !I.have_entropy)
    throw InputError("Model::backward with entropy weights", "the forward skipped entropies",
                     "run forward with ForwardOptions.entropy = true");
  I.have_forward = false;
  const int64_t N = I.N, C = cfg_.dim, D = cfg_.head_dim(), H = cfg_.heads, Hkv = cfg_.kv_heads;
  const int64_t HD = H * D, KD = Hkv * D, QKV = HD + 2 * KD, F = cfg_.ffn_dim, V = cfg_.vocab;
  const int64_t R = static_cast<int64_t>(I.rows.size());
  const float* P = params_.data();
  float* G = grads_data();

  // LM head: per chunk of rows, dlogits in place of the logits (computed again when the forward
  // did not keep them all), then d(final norm output) for the rows.
  resize(I.wlp, R), resize(I.went, R);
  for (int64_t r = 0; r < R; ++r) {
    const int32_t t = I.row_target[r];
    I.wlp[r] = t >= 0 ? dlogprob[t] : 0.f;
    I.went[r] = t >= 0 && dentropy ? dentropy[t] : 0.f;
  }
  resize(I.dxf, N * C);
  if (!I.rows_all) resize(I.dsel, R * C);
  const float* xs = I.rows_all ? I.xf.data() : I.xsel.data();
  float* dxs = I.rows_all ? I.dxf.data() : I.dsel.data();
  for (int64_t r0 = 0; r0 < R; r0 += I.head_chunk) {
    const int64_t n = std::min(I.head_chunk, R - r0);
    if (I.head_chunk < R) head_rows(I.logits.data(), P + I.lay.head, I.inv_temp, xs, r0, n, C, V);
    ops::softmax_backward_inplace(I.logits.data(), I.row_lse.data() + r0, I.row_ent.data() + r0,
                                  I.row_token.data() + r0, I.wlp.data() + r0,
                                  dentropy ? I.went.data() + r0 : nullptr, n, V);
    if (I.inv_temp != 1.f)
      ops::scale_inplace(I.logits.data(), I.inv_temp, n * V);  // d/dz = d/d(z/T)/T
    ops::matmul_backward(dxs + r0 * C, G + I.lay.head, nullptr, I.logits.data(), xs + r0 * C,
                         P + I.lay.head, n, C, V);
  }
  if (!I.rows_all) {
    ops::fill(I.dxf.data(), 0.f, N * C);
    for (int64_t r = 0; r < R; ++r)
      ops::add_inplace(I.dxf.data() + I.rows[r] * C, I.dsel.data() + r * C, C);
  }
  resize(I.dx, N * C);
  ops::fill(I.dx.data(), 0.f, N * C);
  ops::rmsnorm_backward(I.dx.data(), G + I.lay.norm, I.dxf.data(), I.xlast.data(), P + I.lay.norm,
                        I.rstdf.data(), N, C);

  const ops::AttnShape sh{I.B, H, Hkv, D, I.cu.data(), I.cu.data(), I.lens.data()};
  const Rope rope{I.pos.data(), I.rope_cos.data(), I.rope_sin.data()};
  resize(I.dh, N * F), resize(I.dgu, N * 2 * F), resize(I.dln, N * C), resize(I.datt, N * HD);
  resize(I.dqkv, N * QKV);
  for (int64_t l = cfg_.layers - 1; l >= 0; --l) {
    const float* x = I.acts[l].x.data();
    const LayerOffsets& o = I.lay.layer[l];
    if (I.recompute) block_forward(cfg_, P, N, rope, o, sh, x, I.work, nullptr);
    const LayerActs& A = I.recompute ? I.work : I.acts[l];
    // MLP block (dx holds d x_next; the residual passes it to x_mid unchanged).
    ops::matmul_backward(I.dh.data(), G + o.wdown, nullptr, I.dx.data(), A.h.data(), P + o.wdown, N,
                         F, C);
    ops::swiglu_backward(I.dgu.data(), I.dh.data(), A.gu.data(), N, F);
    ops::matmul_backward(I.dln.data(), G + o.wgu, nullptr, I.dgu.data(), A.ln2.data(), P + o.wgu, N,
                         C, 2 * F);
    ops::rmsnorm_backward(I.dx.data(), G + o.ln2, I.dln.data(), A.xmid.data(), P + o.ln2,
                          A.rstd2.data(), N, C);
    // Attention block (dx now holds d x_mid).
    ops::matmul_backward(I.datt.data(), G + o.wo, nullptr, I.dx.data(), A.att.data(), P + o.wo, N,
                         HD, C);
    float* dq = I.dqkv.data();
    const float* q = A.qkv.data();
    ops::attention_backward(dq, QKV, dq + HD, QKV, dq + HD + KD, QKV, I.datt.data(), HD,
                            A.att.data(), HD, A.lse.data(), q, QKV, q + HD, QKV, q + HD + KD, QKV,
                            sh);
    ops::rope_apply(dq, QKV, I.pos.data(), N, H + Hkv, D, I.rope_cos.data(), I.rope_sin.data(),
                    true);
    ops::matmul_backward(I.dln.data(), G + o.wqkv, o.bqkv >= 0 ? G + o.bqkv : nullptr, dq,
                         A.ln1.data(), P + o.wqkv, N, C, QKV);
    ops::rmsnorm_backward(I.dx.data(), G + o.ln1, I.dln.data(), x, P + o.ln1, A.rstd1.data(), N, C);
  }
  ops::embedding_backward(G + I.lay.embed, I.dx.data(), I.tokens.data(), N, C);
}

CeResult Model::cross_entropy_step(const Batch& batch, float weight) {
  ForwardOptions opt;
  opt.entropy = false;
  const TokenOutputs& out = forward(batch, opt);
  CeResult res;
  std::vector<float> dlp(out.logprob.size(), 0.f);
  for (size_t i = 0; i < dlp.size(); ++i) {
    if (!out.valid[i]) continue;
    res.nll_sum -= out.logprob[i];
    res.tokens += 1;
    dlp[i] = -weight;
  }
  backward(dlp.data());
  return res;
}

}  // namespace k1rl::model
