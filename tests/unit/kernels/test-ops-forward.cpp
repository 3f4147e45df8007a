// Forward results of kernels/ops.h against the double-precision loops of naive-ops.h, swept over
// shapes (odd sizes, tails shorter than a vector, grouped heads, sequences of length 1).
#include <gtest/gtest.h>

#include <algorithm>

#include <cstring>
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
// KV-cache layout, sequence b in slot[b] of `cap` positions, in each element format.
struct CacheCopy {
  std::vector<float> k, v;
  std::vector<uint16_t> kh, vh;
  std::vector<ops::Bf24> kb, vb;
  // The buffers of format f, as attention_forward takes them.
  const float* kp(ops::KvFormat f) const { return pick(f, k, kh, kb); }
  const float* vp(ops::KvFormat f) const { return pick(f, v, vh, vb); }
  static const float* pick(ops::KvFormat f, const std::vector<float>& a,
                           const std::vector<uint16_t>& h, const std::vector<ops::Bf24>& b) {
    if (f == ops::KvFormat::f16) return reinterpret_cast<const float*>(h.data());
    if (f == ops::KvFormat::bf24) return reinterpret_cast<const float*>(b.data());
    return a.data();
  }
};
CacheCopy to_cache(const std::vector<float>& k, const std::vector<float>& v,
                   const std::vector<int32_t>& cu, const std::vector<int32_t>& slot, int64_t Hkv,
                   int64_t D, int64_t cap) {
  const int64_t B = static_cast<int64_t>(slot.size()), KD = Hkv * D;
  CacheCopy c;
  c.k.assign(B * cap * KD, 0.f);
  c.v.assign(B * cap * KD, 0.f);
  for (int64_t b = 0; b < B; ++b)
    for (int32_t j = 0; j < cu[b + 1] - cu[b]; ++j)
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const int64_t src = (cu[b] + j) * KD + h * D + d;
          c.k[ops::kv_cache_key_index(slot[b], h, j, d, Hkv, D, cap)] = k[src];
          c.v[ops::kv_cache_value_index(slot[b], h, j, d, Hkv, D, cap)] = v[src];
        }
  for (float x : c.k)
    c.kh.push_back(ops::half_from_float(x)), c.kb.push_back(ops::bf24_from_float(x));
  for (float x : c.v)
    c.vh.push_back(ops::half_from_float(x)), c.vb.push_back(ops::bf24_from_float(x));
  return c;
}
constexpr ops::KvFormat kFormats[] = {ops::KvFormat::f32, ops::KvFormat::bf24, ops::KvFormat::f16};
const char* format_name(ops::KvFormat f) {
  return f == ops::KvFormat::f16 ? "f16" : f == ops::KvFormat::bf24 ? "bf24" : "f32";
}
// Tolerance on attention outputs from inputs ~ N(0, 1) rounded to the format.
double format_tol(ops::KvFormat f) {
  return f == ops::KvFormat::f16 ? 5e-3 : f == ops::KvFormat::bf24 ? 1e-4 : 1e-5;
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
  // The same from the KV-cache layout (slots in reverse order, capacity 64), in each format:
  // f32 exactly, bf24 and f16 up to their rounding.
  const int64_t cap = 64;
  std::vector<int32_t> slot(B);
  for (int64_t b = 0; b < B; ++b) slot[b] = static_cast<int32_t>(B - 1 - b);
  const CacheCopy cc = to_cache(k, v, cu, slot, c.Hkv, c.D, cap);
  for (ops::KvFormat f : kFormats) {
    ops::AttnShape ks{B, c.H, c.Hkv, c.D, q_cu.data(), slot.data(), c.lens.data(), cap, f};
    std::fill(out.begin(), out.end(), 0.f);
    ops::attention_forward(out.data(), HD, nullptr, qs.data(), HD, cc.kp(f), 0, cc.vp(f), 0, ks);
    for (size_t r = 0; r < rows.size(); ++r)
      for (int64_t e = 0; e < HD; ++e)
        ASSERT_NEAR(out[r * HD + e], full[rows[r] * HD + e], format_tol(f))
            << format_name(f) << " cache, row " << rows[r];
  }
}

// attention_cached (store this step's rows, then attend) equals kv_cache_store followed by
// attention_forward bit for bit, in each format, for decode rows and longer feeds, and leaves
// the same cache.
TEST_P(AttentionFwd, CachedStepEqualsStoreThenAttend) {
  const auto& c = GetParam();
  auto cu = offsets(c.lens);
  const int64_t N = cu.back(), B = c.lens.size(), HD = c.H * c.D, KD = c.Hkv * c.D, cap = 80;
  const int64_t ld = HD + 2 * KD;
  auto qkv = randn(N * ld, 30);
  std::vector<int32_t> slot(B), start(B), kv_len(B), q_cu(1, 0), pos;
  std::vector<float> rows;  // each sequence's last nq rows of q | k | v
  for (int64_t b = 0; b < B; ++b) {
    slot[b] = static_cast<int32_t>(B - 1 - b);
    const int32_t nq = b % 2 ? 1 : std::min<int32_t>(c.lens[b], 4);
    start[b] = c.lens[b] - nq;
    kv_len[b] = c.lens[b];
    for (int32_t j = start[b]; j < c.lens[b]; ++j) {
      rows.insert(rows.end(), qkv.begin() + (cu[b] + j) * ld, qkv.begin() + (cu[b] + j + 1) * ld);
      pos.push_back(j);
    }
    q_cu.push_back(q_cu.back() + nq);
  }
  const int64_t R = q_cu.back();
  std::vector<int32_t> row_slot(R);
  for (int64_t b = 0; b < B; ++b)
    for (int32_t i = q_cu[b]; i < q_cu[b + 1]; ++i) row_slot[i] = slot[b];
  // Earlier positions already cached.
  std::vector<float> k(N * KD), v(N * KD);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t e = 0; e < KD; ++e)
      k[n * KD + e] = qkv[n * ld + HD + e], v[n * KD + e] = qkv[n * ld + HD + KD + e];
  std::vector<int32_t> before(cu);
  for (int64_t b = 0; b < B; ++b) before[b + 1] = before[b] + start[b];
  std::vector<float> kb, vb;
  for (int64_t b = 0; b < B; ++b)
    for (int32_t j = 0; j < start[b]; ++j)
      kb.insert(kb.end(), k.begin() + (cu[b] + j) * KD, k.begin() + (cu[b] + j + 1) * KD),
          vb.insert(vb.end(), v.begin() + (cu[b] + j) * KD, v.begin() + (cu[b] + j + 1) * KD);
  const CacheCopy old = to_cache(kb, vb, before, slot, c.Hkv, c.D, cap);
  for (ops::KvFormat f : kFormats) {
    const size_t bytes = old.k.size() * ops::kv_bytes(f);
    std::vector<unsigned char> k1(bytes), v1(bytes), k2, v2;
    std::memcpy(k1.data(), old.kp(f), bytes);
    std::memcpy(v1.data(), old.vp(f), bytes);
    k2 = k1, v2 = v1;
    ops::AttnShape ks{B, c.H, c.Hkv, c.D, q_cu.data(), slot.data(), kv_len.data(), cap, f};
    std::vector<float> out1(R * HD), out2(R * HD);
    ops::kv_cache_store(k1.data(), v1.data(), rows.data() + HD, rows.data() + HD + KD, ld,
                        row_slot.data(), pos.data(), R, c.Hkv, c.D, cap, f);
    ops::attention_forward(out1.data(), HD, nullptr, rows.data(), ld,
                           reinterpret_cast<const float*>(k1.data()), 0,
                           reinterpret_cast<const float*>(v1.data()), 0, ks);
    ops::attention_cached(out2.data(), HD, rows.data(), ld, rows.data() + HD, rows.data() + HD + KD,
                          ld, k2.data(), v2.data(), ks);
    EXPECT_EQ(out1, out2) << format_name(f);
    EXPECT_EQ(k1, k2) << format_name(f);
    EXPECT_EQ(v1, v2) << format_name(f);
    // RoPE inside the step equals rope_apply on the q and k rows first (rows and cache alike).
    const int64_t half = c.D / 2;
    std::vector<float> cos_t(cap * half), sin_t(cap * half);
    ops::rope_table(cos_t.data(), sin_t.data(), cap, c.D, 10000.0);
    std::vector<float> r1 = rows, r2 = rows, out3(R * HD), out4(R * HD);
    std::vector<unsigned char> k3(bytes), v3(bytes);
    std::memcpy(k3.data(), old.kp(f), bytes);
    std::memcpy(v3.data(), old.vp(f), bytes);
    std::vector<unsigned char> k4 = k3, v4 = v3;
    ops::rope_apply(r1.data(), ld, pos.data(), R, c.H + c.Hkv, c.D, cos_t.data(), sin_t.data());
    ops::attention_cached(out3.data(), HD, r1.data(), ld, r1.data() + HD, r1.data() + HD + KD, ld,
                          k3.data(), v3.data(), ks);
    const ops::RopeArgs rope{pos.data(), cos_t.data(), sin_t.data()};
    ops::attention_cached(out4.data(), HD, r2.data(), ld, r2.data() + HD, r2.data() + HD + KD, ld,
                          k4.data(), v4.data(), ks, &rope);
    EXPECT_EQ(out3, out4) << format_name(f) << " rope";
    EXPECT_EQ(r1, r2) << format_name(f) << " rope";
    EXPECT_EQ(k3, k4) << format_name(f) << " rope";
    EXPECT_EQ(v3, v4) << format_name(f) << " rope";
    if (*std::max_element(pos.begin(), pos.end()) > 0) EXPECT_NE(r1, rows) << "no rotation";
  }
}

// Decode steps (one query per sequence: its last position) take the per-sequence streaming
// kernel; on every ISA the CPU has, from f32, bf24 and f16 caches, rows and log-sum-exps match the
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
    for (ops::KvFormat f : kFormats) {
      ops::AttnShape ks{B, c.H, c.Hkv, c.D, q_cu.data(), slot.data(), c.lens.data(), cap, f};
      std::vector<float> out(B * HD, 0.f), lse(B * c.H, 0.f);
      ops::attention_forward(out.data(), HD, lse.data(), qs.data(), HD, cc.kp(f), 0, cc.vp(f), 0,
                             ks);
      const double tol = format_tol(f);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t last = cu[b + 1] - 1;
        for (int64_t e = 0; e < HD; ++e)
          ASSERT_NEAR(out[b * HD + e], full[last * HD + e], tol)
              << ops::isa_name(want) << " " << format_name(f) << " sequence " << b;
        for (int64_t h = 0; h < c.H; ++h)
          ASSERT_NEAR(lse[b * c.H + h], full_lse[last * c.H + h], tol * 10)
              << ops::isa_name(want) << " " << format_name(f) << " lse, sequence " << b;
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

// Bf24 (a float's top three bytes): every value maps back to itself; rounding picks the nearer
// of the two neighbours (ties to an even last bit), checked in double precision over random bit
// patterns; overflow gives infinity and NaN stays NaN.
TEST(Bf24, ConversionsRoundToNearestEven) {
  auto bits = [](float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    return x;
  };
  auto from_bits = [](uint32_t x) {
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  };
  for (uint32_t h = 0; h < (1u << 24); h += 7) {
    const float f = from_bits(h << 8);
    if (std::isnan(f)) continue;
    ASSERT_EQ(bits(ops::float_from_bf24(ops::bf24_from_float(f))), h << 8) << h;
  }
  uint64_t state = 12345;
  for (int i = 0; i < 2000000; ++i) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const uint32_t x = static_cast<uint32_t>(state >> 32);
    const float f = from_bits(x);
    const float g = ops::float_from_bf24(ops::bf24_from_float(f));
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(g)) << x;
      continue;
    }
    const float lo = from_bits(x & ~0xffu);
    const uint32_t up = (x & ~0xffu) + 0x100u;
    const double dlo = std::fabs(double(f) - lo);
    if ((up & 0x7fffffffu) == 0x7f800000u && dlo >= 128.0 * std::ldexp(1.0, std::ilogb(f) - 23)) {
      ASSERT_TRUE(std::isinf(g)) << x;  // rounds past the largest finite bf24
      continue;
    }
    const double dhi = std::fabs(double(from_bits(up)) - f);
    const float want = dlo < dhi         ? lo
                       : dhi < dlo       ? from_bits(up)
                       : ((x >> 8) & 1u) ? from_bits(up)
                                         : lo;
    ASSERT_EQ(bits(g), bits(want)) << x;
  }
  EXPECT_TRUE(std::isinf(ops::float_from_bf24(ops::bf24_from_float(3.4028235e38f))));
  EXPECT_TRUE(std::isnan(ops::float_from_bf24(ops::bf24_from_float(from_bits(0x7f800001u)))));
  EXPECT_EQ(ops::float_from_bf24(ops::bf24_from_float(-0.f)), 0.f);
  EXPECT_TRUE(std::signbit(ops::float_from_bf24(ops::bf24_from_float(-0.f))));
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
