// Forward results of kernels/ops.h against the double-precision loops of naive-ops.h, swept over
// shapes (odd sizes, tails shorter than a vector, grouped heads, sequences of length 1).
#include <gtest/gtest.h>

#include <numeric>

#include "kernels/ops.h"
#include "tests/unit/kernels/kernel-test-util.h"
#include "tests/unit/kernels/naive-ops.h"

namespace k1rl::test {
namespace {

struct MatShape {
  int64_t N, K, M;
  bool bias;
};
inline void PrintTo(const MatShape& s, std::ostream* os) {
  *os << s.N << "x" << s.K << "->" << s.M;
}
class MatmulFwd : public ::testing::TestWithParam<MatShape> {};

TEST_P(MatmulFwd, MatchesNaive) {
  auto [N, K, M, has_bias] = GetParam();
  auto in = randn(N * K, 1), w = randn(M * K, 2), b = randn(M, 3);
  std::vector<float> out(N * M, 0.f);
  ops::matmul_forward(out.data(), in.data(), w.data(), has_bias ? b.data() : nullptr, N, K, M);
  EXPECT_LT(rel_err(out, naive_matmul(in, w, has_bias ? b.data() : nullptr, N, K, M)), 1e-5);
  // accumulate = true adds to what is there.
  std::vector<float> acc(N * M, 1.f);
  ops::matmul_forward(acc.data(), in.data(), w.data(), has_bias ? b.data() : nullptr, N, K, M,
                      true);
  for (size_t i = 0; i < acc.size(); ++i) ASSERT_NEAR(acc[i], out[i] + 1.f, 1e-4);
}
// The packed-weight product (decoding) against the same naive product, rows 1..65.
TEST_P(MatmulFwd, PackedWeightsMatchNaive) {
  auto [N0, K, M, has_bias] = GetParam();
  auto w = randn(M * K, 2), b = randn(M, 3);
  std::vector<float> packed(ops::packed_size(M, K), -1.f);
  ops::pack_weights(packed.data(), w.data(), M, K);
  for (int64_t N : {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{7}, int64_t{9}, N0, int64_t{65}}) {
    auto in = randn(N * K, 4);
    std::vector<float> out(N * M, 0.f);
    ops::matmul_packed(out.data(), in.data(), packed.data(), has_bias ? b.data() : nullptr, N, K,
                       M);
    EXPECT_LT(rel_err(out, naive_matmul(in, w, has_bias ? b.data() : nullptr, N, K, M)), 1e-5)
        << "N " << N;
    std::vector<float> acc(N * M, 1.f);
    ops::matmul_packed(acc.data(), in.data(), packed.data(), has_bias ? b.data() : nullptr, N, K, M,
                       true);
    for (size_t i = 0; i < acc.size(); ++i) ASSERT_NEAR(acc[i], out[i] + 1.f, 1e-4) << "N " << N;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulFwd,
                         ::testing::Values(MatShape{1, 1, 1, false}, MatShape{7, 13, 5, true},
                                           MatShape{33, 64, 96, false}, MatShape{64, 17, 129, true},
                                           MatShape{1, 300, 700, true},
                                           MatShape{200, 96, 130, false}));

struct RowShape {
  int64_t N, C;
};
inline void PrintTo(const RowShape& s, std::ostream* os) {
  *os << s.N << "x" << s.C;
}
class RmsNormFwd : public ::testing::TestWithParam<RowShape> {};
TEST_P(RmsNormFwd, MatchesNaive) {
  auto [N, C] = GetParam();
  auto x = randn(N * C, 4), w = randn(C, 5);
  std::vector<float> out(N * C), rstd(N);
  ops::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
  EXPECT_LT(rel_err(out, naive_rmsnorm(x, w, N, C, 1e-5)), 1e-5);
}
INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormFwd,
                         ::testing::Values(RowShape{1, 1}, RowShape{3, 7}, RowShape{16, 64},
                                           RowShape{5, 129}));

struct RopeShape {
  int64_t N, Hn, D;
};
inline void PrintTo(const RopeShape& s, std::ostream* os) {
  *os << s.N << "x" << s.Hn << "x" << s.D;
}
class RopeFwd : public ::testing::TestWithParam<RopeShape> {};
TEST_P(RopeFwd, MatchesNaiveAndInverts) {
  auto [N, Hn, D] = GetParam();
  const int64_t P = 300;
  std::vector<float> ct(P * D / 2), st(P * D / 2);
  ops::rope_table(ct.data(), st.data(), P, D, 10000.0);
  auto x = randn(N * Hn * D, 6);
  std::vector<int32_t> pos(N);
  for (int64_t n = 0; n < N; ++n) pos[n] = static_cast<int32_t>((n * 37) % P);
  auto y = x;
  ops::rope_apply(y.data(), Hn * D, pos.data(), N, Hn, D, ct.data(), st.data());
  EXPECT_LT(rel_err(y, naive_rope(x, pos, N, Hn, D, 10000.0)), 1e-5);
  ops::rope_apply(y.data(), Hn * D, pos.data(), N, Hn, D, ct.data(), st.data(), true);
  EXPECT_LT(rel_err(y, x), 1e-5);
}
INSTANTIATE_TEST_SUITE_P(Shapes, RopeFwd,
                         ::testing::Values(RopeShape{1, 1, 2}, RopeShape{9, 3, 8},
                                           RopeShape{20, 4, 64}));

struct AttnCase {
  std::vector<int32_t> lens;
  int64_t H, Hkv, D;
};
inline void PrintTo(const AttnCase& s, std::ostream* os) {
  *os << "lens";
  for (int32_t l : s.lens) *os << " " << l;
  *os << " H" << s.H << " Hkv" << s.Hkv << " D" << s.D;
}
class AttentionFwd : public ::testing::TestWithParam<AttnCase> {};

std::vector<int32_t> offsets(const std::vector<int32_t>& lens) {
  std::vector<int32_t> cu(1, 0);
  for (int32_t l : lens) cu.push_back(cu.back() + l);
  return cu;
}

// Keys and values of packed sequences (rows cu[b].., KD = Hkv·D per row) copied into the
// KV-cache layout, sequence b in slot[b] of `cap` positions; halves of the same for f16.
struct CacheCopy {
  std::vector<float> k, v;
  std::vector<uint16_t> kh, vh;
};
CacheCopy to_cache(const std::vector<float>& k, const std::vector<float>& v,
                   const std::vector<int32_t>& cu, const std::vector<int32_t>& slot, int64_t Hkv,
                   int64_t D, int64_t cap) {
  const int64_t B = static_cast<int64_t>(slot.size()), KD = Hkv * D;
  CacheCopy c{std::vector<float>(B * cap * KD, 0.f), std::vector<float>(B * cap * KD, 0.f), {}, {}};
  for (int64_t b = 0; b < B; ++b)
    for (int32_t j = 0; j < cu[b + 1] - cu[b]; ++j)
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const int64_t src = (cu[b] + j) * KD + h * D + d;
          c.k[ops::kv_cache_key_index(slot[b], h, j, d, Hkv, D, cap)] = k[src];
          c.v[ops::kv_cache_value_index(slot[b], h, j, d, Hkv, D, cap)] = v[src];
        }
  for (float x : c.k) c.kh.push_back(ops::half_from_float(x));
  for (float x : c.v) c.vh.push_back(ops::half_from_float(x));
  return c;
}

TEST_P(AttentionFwd, MatchesNaive) {
  const auto& c = GetParam();
  auto cu = offsets(c.lens);
  int64_t N = cu.back(), B = c.lens.size();
  auto q = randn(N * c.H * c.D, 7), k = randn(N * c.Hkv * c.D, 8), v = randn(N * c.Hkv * c.D, 9);
  std::vector<float> out(N * c.H * c.D), lse(N * c.H);
  ops::AttnShape sh{B, c.H, c.Hkv, c.D, cu.data(), cu.data(), c.lens.data()};
  ops::attention_forward(out.data(), c.H * c.D, lse.data(), q.data(), c.H * c.D, k.data(),
                         c.Hkv * c.D, v.data(), c.Hkv * c.D, sh);
  EXPECT_LT(rel_err(out, naive_attention(q, k, v, cu, c.H, c.Hkv, c.D)), 1e-5);
}

// The KV-cache layout (keys in slots of a larger buffer, queries = the last few positions)
// gives the same rows as the training layout.
TEST_P(AttentionFwd, CacheLayoutMatchesPacked) {
  const auto& c = GetParam();
  auto cu = offsets(c.lens);
  int64_t N = cu.back(), B = c.lens.size(), S = 64;  // slot capacity
  int64_t HD = c.H * c.D, KD = c.Hkv * c.D;
  auto q = randn(N * HD, 10), k = randn(N * KD, 11), v = randn(N * KD, 12);
  std::vector<float> full(N * HD);
  ops::AttnShape sh{B, c.H, c.Hkv, c.D, cu.data(), cu.data(), c.lens.data()};
  ops::attention_forward(full.data(), HD, nullptr, q.data(), HD, k.data(), KD, v.data(), KD, sh);
  // Slots in reverse order; each sequence asks for its last min(len, 3) positions.
  std::vector<float> kc(B * S * KD, 0.f), vc(B * S * KD, 0.f);
  std::vector<int32_t> kv_start(B), q_cu(1, 0);
  std::vector<float> qs;
  std::vector<int64_t> rows;
  for (int64_t b = 0; b < B; ++b) {
    kv_start[b] = static_cast<int32_t>((B - 1 - b) * S);
    for (int32_t j = 0; j < c.lens[b]; ++j)
      for (int64_t e = 0; e < KD; ++e) {
        kc[(kv_start[b] + j) * KD + e] = k[(cu[b] + j) * KD + e];
        vc[(kv_start[b] + j) * KD + e] = v[(cu[b] + j) * KD + e];
      }
    int32_t nq = std::min<int32_t>(c.lens[b], 3);
    for (int32_t j = c.lens[b] - nq; j < c.lens[b]; ++j) {
      rows.push_back(cu[b] + j);
      qs.insert(qs.end(), q.begin() + (cu[b] + j) * HD, q.begin() + (cu[b] + j + 1) * HD);
    }
    q_cu.push_back(q_cu.back() + nq);
  }
  std::vector<float> out(qs.size());
  ops::AttnShape cs{B, c.H, c.Hkv, c.D, q_cu.data(), kv_start.data(), c.lens.data()};
  ops::attention_forward(out.data(), HD, nullptr, qs.data(), HD, kc.data(), KD, vc.data(), KD, cs);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t e = 0; e < HD; ++e)
      ASSERT_NEAR(out[r * HD + e], full[rows[r] * HD + e], 1e-5) << "row " << rows[r];
  // The same from the KV-cache layout (slots in reverse order, capacity 64).
  const int64_t cap = 64;
  std::vector<int32_t> slot(B);
  for (int64_t b = 0; b < B; ++b) slot[b] = static_cast<int32_t>(B - 1 - b);
  const CacheCopy cc = to_cache(k, v, cu, slot, c.Hkv, c.D, cap);
  ops::AttnShape ks{B, c.H, c.Hkv, c.D, q_cu.data(), slot.data(), c.lens.data(), cap};
  std::fill(out.begin(), out.end(), 0.f);
  ops::attention_forward(out.data(), HD, nullptr, qs.data(), HD, cc.k.data(), 0, cc.v.data(), 0,
                         ks);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t e = 0; e < HD; ++e)
      ASSERT_NEAR(out[r * HD + e], full[rows[r] * HD + e], 1e-5) << "cache layout, row " << rows[r];
  // And from an f16 cache: the same up to half precision (inputs ~ N(0, 1)).
  ks.cache_f16 = true;
  std::fill(out.begin(), out.end(), 0.f);
  ops::attention_forward(out.data(), HD, nullptr, qs.data(), HD,
                         reinterpret_cast<const float*>(cc.kh.data()), 0,
                         reinterpret_cast<const float*>(cc.vh.data()), 0, ks);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t e = 0; e < HD; ++e)
      ASSERT_NEAR(out[r * HD + e], full[rows[r] * HD + e], 5e-3) << "f16 cache, row " << rows[r];
}
// Decode steps (one query per sequence: its last position) take the per-sequence streaming
// kernel; on every ISA the CPU has, from f32 and f16 caches, rows and log-sum-exps match the
// training layout. Head dims cover the register-blocked value passes (16, 32, 64) and the
// fallback (8 on AVX-512), with and without grouped queries.
TEST_P(AttentionFwd, DecodeRowsMatchPackedOnEveryIsa) {
  const auto& c = GetParam();
  auto cu = offsets(c.lens);
  const int64_t N = cu.back(), B = c.lens.size(), HD = c.H * c.D, KD = c.Hkv * c.D, cap = 64;
  auto q = randn(N * HD, 20), k = randn(N * KD, 21), v = randn(N * KD, 22);
  std::vector<float> full(N * HD), full_lse(N * c.H);
  ops::AttnShape sh{B, c.H, c.Hkv, c.D, cu.data(), cu.data(), c.lens.data()};
  ops::attention_forward(full.data(), HD, full_lse.data(), q.data(), HD, k.data(), KD, v.data(), KD,
                         sh);
  std::vector<float> qs;
  std::vector<int32_t> slot(B), q_cu(1, 0);
  for (int64_t b = 0; b < B; ++b) {
    slot[b] = static_cast<int32_t>((b * 5 + 3) % B);
    const int64_t last = cu[b + 1] - 1;
    qs.insert(qs.end(), q.begin() + last * HD, q.begin() + (last + 1) * HD);
    q_cu.push_back(q_cu.back() + 1);
  }
  const CacheCopy cc = to_cache(k, v, cu, slot, c.Hkv, c.D, cap);
  const ops::Isa best = ops::isa();
  for (ops::Isa want : {ops::Isa::scalar, ops::Isa::avx2, ops::Isa::avx512}) {
    ops::set_isa(want);
    if (ops::isa() != want) continue;  // the CPU lacks it
    for (bool f16 : {false, true}) {
      ops::AttnShape ks{B, c.H, c.Hkv, c.D, q_cu.data(), slot.data(), c.lens.data(), cap, f16};
      std::vector<float> out(B * HD, 0.f), lse(B * c.H, 0.f);
      const float* kp = f16 ? reinterpret_cast<const float*>(cc.kh.data()) : cc.k.data();
      const float* vp = f16 ? reinterpret_cast<const float*>(cc.vh.data()) : cc.v.data();
      ops::attention_forward(out.data(), HD, lse.data(), qs.data(), HD, kp, 0, vp, 0, ks);
      const double tol = f16 ? 5e-3 : 1e-5;
      for (int64_t b = 0; b < B; ++b) {
        const int64_t last = cu[b + 1] - 1;
        for (int64_t e = 0; e < HD; ++e)
          ASSERT_NEAR(out[b * HD + e], full[last * HD + e], tol)
              << ops::isa_name(want) << (f16 ? " f16" : " f32") << " sequence " << b;
        for (int64_t h = 0; h < c.H; ++h)
          ASSERT_NEAR(lse[b * c.H + h], full_lse[last * c.H + h], tol * 10)
              << ops::isa_name(want) << (f16 ? " f16" : " f32") << " lse, sequence " << b;
      }
    }
  }
  ops::set_isa(best);
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionFwd,
                         ::testing::Values(AttnCase{{1}, 1, 1, 2}, AttnCase{{5, 1, 9}, 4, 2, 8},
                                           AttnCase{{17, 33}, 2, 2, 16},
                                           AttnCase{{40, 3}, 6, 2, 32}, AttnCase{{24}, 4, 1, 64},
                                           AttnCase{{50, 2, 17}, 9, 9, 32},
                                           AttnCase{{33, 47}, 12, 4, 64}));

class SwigluFwd : public ::testing::TestWithParam<RowShape> {};
TEST_P(SwigluFwd, MatchesNaive) {
  auto [N, F] = GetParam();
  auto gu = randn(N * 2 * F, 13, 2.f);
  std::vector<float> out(N * F);
  ops::swiglu_forward(out.data(), gu.data(), N, F);
  std::vector<double> ref(N * F);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t f = 0; f < F; ++f) {
      double g = gu[n * 2 * F + f], u = gu[n * 2 * F + F + f];
      ref[n * F + f] = g / (1 + std::exp(-g)) * u;
    }
  EXPECT_LT(rel_err(out, ref), 1e-5);
}
INSTANTIATE_TEST_SUITE_P(Shapes, SwigluFwd,
                         ::testing::Values(RowShape{1, 1}, RowShape{3, 17}, RowShape{8, 64}));

class SoftmaxFwd : public ::testing::TestWithParam<RowShape> {};
TEST_P(SoftmaxFwd, StatsMatchNaive) {
  auto [N, V] = GetParam();
  auto z = randn(N * V, 14, 3.f);
  z[0] = 80.f;  // large logits must not overflow
  std::vector<int32_t> t(N);
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 7) % V);
  std::vector<float> lse(N), lp(N), ent(N);
  ops::softmax_stats(lse.data(), lp.data(), ent.data(), z.data(), t.data(), N, V);
  std::vector<double> rl(N), rlp(N), re(N);
  for (int64_t n = 0; n < N; ++n) {
    double mx = -1e300, s = 0, h = 0;
    for (int64_t k = 0; k < V; ++k) mx = std::max(mx, double(z[n * V + k]));
    for (int64_t k = 0; k < V; ++k) s += std::exp(z[n * V + k] - mx);
    rl[n] = mx + std::log(s);
    for (int64_t k = 0; k < V; ++k) {
      double lp_k = z[n * V + k] - rl[n];
      h -= std::exp(lp_k) * lp_k;
    }
    re[n] = h;
    rlp[n] = z[n * V + t[n]] - rl[n];
  }
  EXPECT_LT(rel_err(lse, rl), 1e-6);
  EXPECT_LT(rel_err(lp, rlp), 1e-5);
  EXPECT_LT(rel_err(ent, re), 1e-5);
}
INSTANTIATE_TEST_SUITE_P(Shapes, SoftmaxFwd,
                         ::testing::Values(RowShape{1, 1}, RowShape{2, 3}, RowShape{9, 259},
                                           RowShape{4, 1000}));

// IEEE half conversions: exact values, round-to-nearest-even, subnormals, overflow, inf/nan.
TEST(Half, ConversionsRoundTrip) {
  for (float f :
       {0.f, -0.f, 1.f, -2.5f, 65504.f, 6.103515625e-05f, 5.960464477539063e-08f, 0.333251953125f})
    EXPECT_EQ(ops::float_from_half(ops::half_from_float(f)), f) << f;
  EXPECT_EQ(ops::half_from_float(1.f + 1.f / 2048), 0x3c00);  // tie: to even (1.0)
  EXPECT_EQ(ops::half_from_float(1.f + 3.f / 2048), 0x3c02);  // tie: to even (1 + 2/1024)
  EXPECT_EQ(ops::half_from_float(1e6f), 0x7c00);
  EXPECT_EQ(ops::half_from_float(-1e-9f), 0x8000);
  EXPECT_TRUE(std::isinf(ops::float_from_half(ops::half_from_float(INFINITY))));
  EXPECT_TRUE(std::isnan(ops::float_from_half(ops::half_from_float(NAN))));
  // Every half maps back to itself.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads
    ASSERT_EQ(ops::half_from_float(ops::float_from_half(static_cast<uint16_t>(h))), h) << h;
  }
  // Relative error of rounding stays within 2^-11 on normal values.
  for (float f = 1e-4f; f < 6e4f; f *= 1.37f) {
    const float g = ops::float_from_half(ops::half_from_float(f));
    ASSERT_LE(std::fabs(g - f), f * (1.f / 2048)) << f;
  }
}

TEST(Embedding, ForwardGathersRows) {
  int64_t C = 5, Vv = 7;
  auto table = randn(Vv * C, 15);
  std::vector<int32_t> tok{3, 0, 6, 3};
  std::vector<float> out(tok.size() * C);
  ops::embedding_forward(out.data(), table.data(), tok.data(), tok.size(), C);
  for (size_t n = 0; n < tok.size(); ++n)
    for (int64_t c = 0; c < C; ++c) EXPECT_EQ(out[n * C + c], table[tok[n] * C + c]);
}

TEST(Elementwise, AddScaleFillSumSquares) {
  for (int64_t n : {1, 17, 100000, 300001}) {
    auto x = randn(n, 16), y = randn(n, 17);
    auto y0 = y;
    ops::add_inplace(y.data(), x.data(), n);
    for (int64_t i = 0; i < n; i += 997) ASSERT_FLOAT_EQ(y[i], y0[i] + x[i]);
    ops::scale_inplace(y.data(), 0.5f, n);
    for (int64_t i = 0; i < n; i += 997) ASSERT_FLOAT_EQ(y[i], 0.5f * (y0[i] + x[i]));
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    EXPECT_NEAR(ops::sum_squares(x.data(), n), ss, 1e-5 * ss);
    ops::fill(y.data(), 2.f, n);
    ops::copy(x.data(), y.data(), n);
    EXPECT_EQ(x[n - 1], 2.f);
  }
}

// PyTorch's AdamW formula in double, step by step, against the fused kernel.
TEST(AdamW, MatchesFormulaOverSteps) {
  const int64_t n = 1000;
  auto p = randn(n, 18), m = std::vector<float>(n, 0.f), v = std::vector<float>(n, 0.f);
  std::vector<double> pd(p.begin(), p.end()), md(n, 0.0), vd(n, 0.0);
  const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, gs = 0.5;
  for (int step = 1; step <= 5; ++step) {
    auto g = randn(n, 100 + step);
    ops::AdamWArgs a{float(lr),
                     float(b1),
                     float(b2),
                     float(eps),
                     float(wd),
                     float(1 - std::pow(b1, step)),
                     float(1 - std::pow(b2, step)),
                     float(gs)};
    ops::adamw_update(p.data(), g.data(), m.data(), v.data(), n, a);
    for (int64_t i = 0; i < n; ++i) {
      double gi = g[i] * gs;
      pd[i] *= 1 - lr * wd;
      md[i] = b1 * md[i] + (1 - b1) * gi;
      vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
      double denom = std::sqrt(vd[i]) / std::sqrt(1 - std::pow(b2, step)) + eps;
      pd[i] -= lr / (1 - std::pow(b1, step)) * md[i] / denom;
    }
  }
  EXPECT_LT(rel_err(p, pd), 1e-5);
  EXPECT_LT(rel_err(m, md), 1e-5);
  EXPECT_LT(rel_err(v, vd), 1e-5);
}

}  // namespace
}  // namespace k1rl::test
