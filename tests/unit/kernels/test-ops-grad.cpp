// Every backward of kernels/ops.h against central finite differences of its forward, over a
// sweep of shapes. The scalar loss is Σ r∘f(x) for a fixed random r (so dout = r).
#include <gtest/gtest.h>

#include "kernels/ops.h"
#include "tests/unit/kernels/kernel-test-util.h"

namespace k1rl::test {
namespace {

struct MatShape {
  int64_t N, K, M;
};
inline void PrintTo(const MatShape& s, std::ostream* os) {
  *os << s.N << "x" << s.K << "->" << s.M;
}
class MatmulGrad : public ::testing::TestWithParam<MatShape> {};
TEST_P(MatmulGrad, FiniteDifferences) {
  auto [N, K, M] = GetParam();
  auto in = randn(N * K, 1), w = randn(M * K, 2), b = randn(M, 3), r = randn(N * M, 4);
  std::vector<float> out(N * M);
  auto loss = [&] {
    ops::matmul_forward(out.data(), in.data(), w.data(), b.data(), N, K, M);
    return dot(out, r);
  };
  std::vector<float> din(N * K, 0.f), dw(M * K, 0.f), db(M, 0.f);
  ops::matmul_backward(din.data(), dw.data(), db.data(), r.data(), in.data(), w.data(), N, K, M);
  fd_check("din", in, din, loss);
  fd_check("dw", w, dw, loss);
  fd_check("dbias", b, db, loss);
  // Parameter gradients accumulate; input gradients accumulate only when asked.
  auto dw1 = dw, din1 = din;
  ops::matmul_backward(din.data(), dw.data(), nullptr, r.data(), in.data(), w.data(), N, K, M,
                       true);
  for (size_t i = 0; i < dw.size(); ++i)
    ASSERT_NEAR(dw[i], 2 * dw1[i], 1e-4 * (1 + std::fabs(dw1[i])));
  for (size_t i = 0; i < din.size(); ++i)
    ASSERT_NEAR(din[i], 2 * din1[i], 1e-4 * (1 + std::fabs(din1[i])));
}
INSTANTIATE_TEST_SUITE_P(Shapes, MatmulGrad,
                         ::testing::Values(MatShape{1, 1, 1}, MatShape{5, 7, 3},
                                           MatShape{16, 32, 48}, MatShape{9, 65, 17},
                                           MatShape{1, 300, 700}, MatShape{70, 96, 130}));

struct RowShape {
  int64_t N, C;
};
inline void PrintTo(const RowShape& s, std::ostream* os) {
  *os << s.N << "x" << s.C;
}
class RmsNormGrad : public ::testing::TestWithParam<RowShape> {};
TEST_P(RmsNormGrad, FiniteDifferences) {
  auto [N, C] = GetParam();
  auto x = randn(N * C, 5), w = randn(C, 6), r = randn(N * C, 7);
  std::vector<float> out(N * C), rstd(N);
  auto loss = [&] {
    ops::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    return dot(out, r);
  };
  loss();
  std::vector<float> dx(N * C, 0.f), dw(C, 0.f);
  ops::rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), N, C);
  fd_check("dx", x, dx, loss, 24, 1e-3f);
  fd_check("dweight", w, dw, loss, 24, 1e-3f);
}
INSTANTIATE_TEST_SUITE_P(Shapes, RmsNormGrad,
                         ::testing::Values(RowShape{1, 2}, RowShape{4, 7}, RowShape{12, 64},
                                           RowShape{3, 130}));

TEST(RopeGrad, InverseIsTheBackward) {
  const int64_t N = 6, Hn = 3, D = 16, ld = 5 * D, P = 64;  // strided rows, 3 of 5 heads rotated
  std::vector<float> ct(P * D / 2), st(P * D / 2);
  ops::rope_table(ct.data(), st.data(), P, D, 500000.0);
  std::vector<int32_t> pos{0, 1, 2, 7, 40, 63};
  auto x = randn(N * ld, 8), r = randn(N * ld, 9);
  std::vector<float> y;
  auto loss = [&] {
    y = x;
    ops::rope_apply(y.data(), ld, pos.data(), N, Hn, D, ct.data(), st.data());
    return dot(y, r);
  };
  auto dx = r;
  ops::rope_apply(dx.data(), ld, pos.data(), N, Hn, D, ct.data(), st.data(), true);
  fd_check("dx", x, dx, loss, 60);
}

struct AttnCase {
  std::vector<int32_t> lens;
  int64_t H, Hkv, D;
};
inline void PrintTo(const AttnCase& s, std::ostream* os) {
  *os << "lens";
  for (int32_t l : s.lens) *os << " " << l;
  *os << " H" << s.H << " Hkv" << s.Hkv << " D" << s.D;
}
class AttentionGrad : public ::testing::TestWithParam<AttnCase> {};

// q, k, v live in one fused row [q heads | k heads | v heads] as in the model's QKV projection.
TEST_P(AttentionGrad, FiniteDifferences) {
  const auto& c = GetParam();
  std::vector<int32_t> cu(1, 0);
  for (int32_t l : c.lens) cu.push_back(cu.back() + l);
  const int64_t N = cu.back(), B = c.lens.size(), HD = c.H * c.D, KD = c.Hkv * c.D;
  const int64_t ld = HD + 2 * KD;
  auto qkv = randn(N * ld, 10), r = randn(N * HD, 11);
  std::vector<float> out(N * HD), lse(N * c.H);
  ops::AttnShape sh{B, c.H, c.Hkv, c.D, cu.data(), cu.data(), c.lens.data()};
  auto loss = [&] {
    ops::attention_forward(out.data(), HD, lse.data(), qkv.data(), ld, qkv.data() + HD, ld,
                           qkv.data() + HD + KD, ld, sh);
    return dot(out, r);
  };
  loss();
  std::vector<float> dqkv(N * ld, -7.f);  // garbage: the backward must overwrite every entry
  ops::attention_backward(dqkv.data(), ld, dqkv.data() + HD, ld, dqkv.data() + HD + KD, ld,
                          r.data(), HD, out.data(), HD, lse.data(), qkv.data(), ld, qkv.data() + HD,
                          ld, qkv.data() + HD + KD, ld, sh);
  fd_check("dqkv", qkv, dqkv, loss, 80);
}
INSTANTIATE_TEST_SUITE_P(Shapes, AttentionGrad,
                         ::testing::Values(AttnCase{{1}, 1, 1, 4}, AttnCase{{3, 1, 6}, 4, 2, 8},
                                           AttnCase{{20}, 2, 2, 16}, AttnCase{{12, 9}, 6, 3, 32},
                                           AttnCase{{18}, 4, 1, 64}));

class SwigluGrad : public ::testing::TestWithParam<RowShape> {};
TEST_P(SwigluGrad, FiniteDifferences) {
  auto [N, F] = GetParam();
  auto gu = randn(N * 2 * F, 12, 2.f), r = randn(N * F, 13);
  std::vector<float> out(N * F);
  auto loss = [&] {
    ops::swiglu_forward(out.data(), gu.data(), N, F);
    return dot(out, r);
  };
  std::vector<float> dgu(N * 2 * F);
  ops::swiglu_backward(dgu.data(), r.data(), gu.data(), N, F);
  fd_check("dgu", gu, dgu, loss, 40, 1e-3f);
}
INSTANTIATE_TEST_SUITE_P(Shapes, SwigluGrad,
                         ::testing::Values(RowShape{1, 1}, RowShape{3, 17}, RowShape{4, 40}));

// loss = Σ_n wlp[n]·logprob[n] + went[n]·entropy[n], the per-token weights the RL losses give.
class SoftmaxGrad : public ::testing::TestWithParam<RowShape> {};
TEST_P(SoftmaxGrad, FiniteDifferences) {
  auto [N, V] = GetParam();
  auto z = randn(N * V, 14, 2.f), wlp = randn(N, 15), went = randn(N, 16);
  wlp[0] = 0.f;  // a token with no logprob weight
  if (N > 1) went[1] = 0.f;
  std::vector<int32_t> t(N);
  for (int64_t n = 0; n < N; ++n) t[n] = static_cast<int32_t>((n * 5 + 1) % V);
  std::vector<float> lse(N), lp(N), ent(N);
  auto loss = [&] {
    ops::softmax_stats(lse.data(), lp.data(), ent.data(), z.data(), t.data(), N, V);
    return dot(lp, wlp) + dot(ent, went);
  };
  loss();
  auto dz = z;
  ops::softmax_backward_inplace(dz.data(), lse.data(), ent.data(), t.data(), wlp.data(),
                                went.data(), N, V);
  fd_check("dlogits", z, dz, loss, 60, 1e-2f);
  // Without entropy weights only the logprob part remains (went = nullptr).
  auto loss_lp = [&] {
    ops::softmax_stats(lse.data(), lp.data(), nullptr, z.data(), t.data(), N, V);
    return dot(lp, wlp);
  };
  loss_lp();
  dz = z;
  ops::softmax_backward_inplace(dz.data(), lse.data(), nullptr, t.data(), wlp.data(), nullptr, N,
                                V);
  fd_check("dlogits (logprob only)", z, dz, loss_lp, 30, 1e-2f);
}
INSTANTIATE_TEST_SUITE_P(Shapes, SoftmaxGrad,
                         ::testing::Values(RowShape{1, 2}, RowShape{3, 7}, RowShape{5, 259},
                                           RowShape{2, 70}));

TEST(EmbeddingGrad, FiniteDifferencesWithRepeatedTokens) {
  const int64_t C = 9, V = 6;
  std::vector<int32_t> tok{1, 4, 1, 0, 1, 5};
  const int64_t N = tok.size();
  auto table = randn(V * C, 17), r = randn(N * C, 18);
  std::vector<float> out(N * C);
  auto loss = [&] {
    ops::embedding_forward(out.data(), table.data(), tok.data(), N, C);
    return dot(out, r);
  };
  std::vector<float> dt(V * C, 0.f);
  ops::embedding_backward(dt.data(), r.data(), tok.data(), N, C);
  fd_check("dtable", table, dt, loss, V * C);
}

}  // namespace
}  // namespace k1rl::test
