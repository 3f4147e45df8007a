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
}  // namespace

const TokenOutputs& Model::forward(const Batch& batch, const ForwardOptions& opt) {
  batch.validate(cfg_);
  Impl& I = *impl_;
  const int64_t N = batch.size(), B = static_cast<int64_t>(batch.cu.size()) - 1;
  const int64_t C = cfg_.dim, D = cfg_.head_dim(), H = cfg_.heads, Hkv = cfg_.kv_heads;
  const int64_t HD = H * D, KD = Hkv * D, QKV = HD + 2 * KD, F = cfg_.ffn_dim, V = cfg_.vocab;
  const float eps = static_cast<float>(cfg_.norm_eps);
  const float* P = params_.data();
  I.have_forward = false;
  I.N = N;
  I.B = B;
  I.tokens = batch.tokens;
  I.cu = batch.cu;
  I.pos.resize(N);
  std::vector<int32_t> lens(B);
  for (int64_t b = 0; b < B; ++b) {
    lens[b] = I.cu[b + 1] - I.cu[b];
    for (int32_t i = I.cu[b]; i < I.cu[b + 1]; ++i) I.pos[i] = i - I.cu[b];
  }
  const ops::AttnShape sh{B, H, Hkv, D, I.cu.data(), I.cu.data(), lens.data()};

  I.acts.resize(cfg_.layers);
  for (auto& A : I.acts) {
    resize(A.x, N * C), resize(A.ln1, N * C), resize(A.rstd1, N), resize(A.qkv, N * QKV);
    resize(A.att, N * HD), resize(A.lse, N * H), resize(A.xmid, N * C), resize(A.ln2, N * C);
    resize(A.rstd2, N), resize(A.gu, N * 2 * F), resize(A.h, N * F);
  }
  resize(I.xlast, N * C), resize(I.xf, N * C), resize(I.rstdf, N);

  ops::embedding_forward(I.acts[0].x.data(), P + I.lay.embed, I.tokens.data(), N, C);
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    LayerActs& A = I.acts[l];
    const LayerOffsets& o = I.lay.layer[l];
    // Attention block: x_mid = x + o_proj(attn(rope(qkv(norm(x)))))
    ops::rmsnorm_forward(A.ln1.data(), A.rstd1.data(), A.x.data(), P + o.ln1, N, C, eps);
    ops::matmul_forward(A.qkv.data(), A.ln1.data(), P + o.wqkv, o.bqkv >= 0 ? P + o.bqkv : nullptr,
                        N, C, QKV);
    ops::rope_apply(A.qkv.data(), QKV, I.pos.data(), N, H + Hkv, D, I.rope_cos.data(),
                    I.rope_sin.data());
    ops::attention_forward(A.att.data(), HD, A.lse.data(), A.qkv.data(), QKV, A.qkv.data() + HD,
                           QKV, A.qkv.data() + HD + KD, QKV, sh);
    ops::copy(A.xmid.data(), A.x.data(), N * C);
    ops::matmul_forward(A.xmid.data(), A.att.data(), P + o.wo, nullptr, N, HD, C, true);
    // MLP block: x_next = x_mid + down(silu(gate(norm(x_mid))) * up(norm(x_mid)))
    ops::rmsnorm_forward(A.ln2.data(), A.rstd2.data(), A.xmid.data(), P + o.ln2, N, C, eps);
    ops::matmul_forward(A.gu.data(), A.ln2.data(), P + o.wgu, nullptr, N, C, 2 * F);
    ops::swiglu_forward(A.h.data(), A.gu.data(), N, F);
    float* next = l + 1 < cfg_.layers ? I.acts[l + 1].x.data() : I.xlast.data();
    ops::copy(next, A.xmid.data(), N * C);
    ops::matmul_forward(next, A.h.data(), P + o.wdown, nullptr, N, F, C, true);
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
  resize(I.logits, R * V), resize(I.row_lse, R), resize(I.row_lp, R), resize(I.row_ent, R);
  ops::matmul_forward(I.logits.data(), xs, P + I.lay.head, nullptr, R, C, V);
  if (!(opt.temperature > 0))
    throw InputError("bad forward temperature", strfmt("%g", opt.temperature), "it must be > 0");
  I.inv_temp = static_cast<float>(1.0 / opt.temperature);
  if (I.inv_temp != 1.f) ops::scale_inplace(I.logits.data(), I.inv_temp, R * V);
  ops::softmax_stats(I.row_lse.data(), I.row_lp.data(), opt.entropy ? I.row_ent.data() : nullptr,
                     I.logits.data(), I.row_token.data(), R, V);

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

  // LM head: dlogits in place of the logits, then d(final norm output) for the rows.
  resize(I.wlp, R), resize(I.went, R);
  for (int64_t r = 0; r < R; ++r) {
    const int32_t t = I.row_target[r];
    I.wlp[r] = t >= 0 ? dlogprob[t] : 0.f;
    I.went[r] = t >= 0 && dentropy ? dentropy[t] : 0.f;
  }
  ops::softmax_backward_inplace(I.logits.data(), I.row_lse.data(), I.row_ent.data(),
                                I.row_token.data(), I.wlp.data(),
                                dentropy ? I.went.data() : nullptr, R, V);
  if (I.inv_temp != 1.f)
    ops::scale_inplace(I.logits.data(), I.inv_temp, R * V);  // d/dz = d/d(z/T)/T
  resize(I.dxf, N * C);
  if (I.rows_all) {
    ops::matmul_backward(I.dxf.data(), G + I.lay.head, nullptr, I.logits.data(), I.xf.data(),
                         P + I.lay.head, R, C, V);
  } else {
    resize(I.dsel, R * C);
    ops::matmul_backward(I.dsel.data(), G + I.lay.head, nullptr, I.logits.data(), I.xsel.data(),
                         P + I.lay.head, R, C, V);
    ops::fill(I.dxf.data(), 0.f, N * C);
    for (int64_t r = 0; r < R; ++r)
      ops::add_inplace(I.dxf.data() + I.rows[r] * C, I.dsel.data() + r * C, C);
  }
  resize(I.dx, N * C);
  ops::fill(I.dx.data(), 0.f, N * C);
  ops::rmsnorm_backward(I.dx.data(), G + I.lay.norm, I.dxf.data(), I.xlast.data(), P + I.lay.norm,
                        I.rstdf.data(), N, C);

  std::vector<int32_t> lens(I.B);
  for (int64_t b = 0; b < I.B; ++b) lens[b] = I.cu[b + 1] - I.cu[b];
  const ops::AttnShape sh{I.B, H, Hkv, D, I.cu.data(), I.cu.data(), lens.data()};
  resize(I.dh, N * F), resize(I.dgu, N * 2 * F), resize(I.dln, N * C), resize(I.datt, N * HD);
  resize(I.dqkv, N * QKV);
  for (int64_t l = cfg_.layers - 1; l >= 0; --l) {
    const LayerActs& A = I.acts[l];
    const LayerOffsets& o = I.lay.layer[l];
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
    ops::rmsnorm_backward(I.dx.data(), G + o.ln1, I.dln.data(), A.x.data(), P + o.ln1,
                          A.rstd1.data(), N, C);
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
