// The AVX2 and AVX-512 paths against the scalar path on the same inputs (each path the CPU
// supports; others are skipped), so a vector bug cannot hide behind the run-time dispatch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "tests/unit/kernels/kernel-test-util.h"

namespace k1rl::test {
namespace {

struct Outputs {
  std::vector<float> attn, dqkv, lse, lp, ent, dz, sw, dsw, rms, p;
};

Outputs run_all() {
  Outputs o;
  std::vector<int32_t> lens{37, 5, 70}, cu{0, 37, 42, 112};
  const int64_t N = 112, H = 4, Hkv = 2, D = 24, HD = H * D, KD = Hkv * D, ld = HD + 2 * KD;
  auto qkv = randn(N * ld, 1), r = randn(N * HD, 2);
  o.attn.resize(N * HD);
  std::vector<float> lse(N * H);
  ops::AttnShape sh{3, H, Hkv, D, cu.data(), cu.data(), lens.data()};
  ops::attention_forward(o.attn.data(), HD, lse.data(), qkv.data(), ld, qkv.data() + HD, ld,
                         qkv.data() + HD + KD, ld, sh);
  o.dqkv.resize(N * ld);
  ops::attention_backward(o.dqkv.data(), ld, o.dqkv.data() + HD, ld, o.dqkv.data() + HD + KD, ld,
                          r.data(), HD, o.attn.data(), HD, lse.data(), qkv.data(), ld,
                          qkv.data() + HD, ld, qkv.data() + HD + KD, ld, sh);
  const int64_t V = 1003, R = 7;
  auto z = randn(R * V, 3, 3.f), w = randn(R, 4), e = randn(R, 5);
  std::vector<int32_t> t{0, 5, 1002, 17, 3, 999, 500};
  o.lse.resize(R);
  o.lp.resize(R);
  o.ent.resize(R);
  ops::softmax_stats(o.lse.data(), o.lp.data(), o.ent.data(), z.data(), t.data(), R, V);
  o.dz = z;
  ops::softmax_backward_inplace(o.dz.data(), o.lse.data(), o.ent.data(), t.data(), w.data(),
                                e.data(), R, V);
  const int64_t F = 45;
  auto gu = randn(R * 2 * F, 6, 3.f), dout = randn(R * F, 7);
  o.sw.resize(R * F);
  o.dsw.resize(R * 2 * F);
  ops::swiglu_forward(o.sw.data(), gu.data(), R, F);
  ops::swiglu_backward(o.dsw.data(), dout.data(), gu.data(), R, F);
  const int64_t C = 77;
  auto x = randn(R * C, 8), g = randn(C, 9);
  o.rms.resize(R * C);
  ops::rmsnorm_forward(o.rms.data(), nullptr, x.data(), g.data(), R, C, 1e-6f);
  o.p = randn(1001, 10);
  auto gr = randn(1001, 11);
  std::vector<float> m(1001, 0.1f), v(1001, 0.2f);
  ops::adamw_update(o.p.data(), gr.data(), m.data(), v.data(), 1001,
                    ops::AdamWArgs{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.1f, 0.001f, 1.f});
  return o;
}

class IsaPaths : public ::testing::TestWithParam<ops::Isa> {};
TEST_P(IsaPaths, MatchScalar) {
  ops::Isa want = GetParam(), saved = ops::isa();
  ops::set_isa(want);
  if (ops::isa() != want) {
    ops::set_isa(saved);
    GTEST_SKIP() << "CPU lacks " << ops::isa_name(want);
  }
  Outputs vec = run_all();
  ops::set_isa(ops::Isa::scalar);
  Outputs ref = run_all();
  ops::set_isa(saved);
  EXPECT_LT(rel_err(vec.attn, ref.attn), 1e-5);
  EXPECT_LT(rel_err(vec.dqkv, ref.dqkv), 1e-5);
  EXPECT_LT(rel_err(vec.lse, ref.lse), 1e-6);
  EXPECT_LT(rel_err(vec.lp, ref.lp), 1e-5);
  EXPECT_LT(rel_err(vec.ent, ref.ent), 1e-5);
  EXPECT_LT(rel_err(vec.dz, ref.dz), 1e-5);
  EXPECT_LT(rel_err(vec.sw, ref.sw), 1e-5);
  EXPECT_LT(rel_err(vec.dsw, ref.dsw), 1e-5);
  EXPECT_LT(rel_err(vec.rms, ref.rms), 1e-5);
  EXPECT_LT(rel_err(vec.p, ref.p), 1e-6);
}
// kv_cache_store on every ISA: f32 copies exactly; f16 and bf24 equal the portable conversions
// bit for bit (hardware vcvtps2ph, our vector bf24 rounding and the scalar functions all round
// to nearest even), including subnormals, overflow, infinities and NaN.
TEST(KvCacheStore, ExactOnEveryIsa) {
  const int64_t N = 5, Hkv = 3, D = 40, cap = 48, ld = 2 * Hkv * D + 7;
  auto rows = randn(N * ld, 12, 3.f);
  rows[3] = 1e-6f;          // a half subnormal
  rows[4] = 3.4028235e38f;  // rounds to infinity in bf24
  rows[5] = -INFINITY;
  rows[Hkv * D + 1] = NAN;
  rows[Hkv * D + 2] = 1.f + 1.f / 65536;  // a bf24 tie (to even: 1.0)
  rows[Hkv * D + 3] = 1e-40f;             // a float subnormal
  std::vector<int32_t> slot{1, 0, 1, 2, 0}, pos{0, 17, 47, 5, 16};
  auto same = [](float a, float b) { return std::memcmp(&a, &b, 4) == 0; };
  const ops::Isa saved = ops::isa();
  for (ops::Isa want : {ops::Isa::scalar, ops::Isa::avx2, ops::Isa::avx512}) {
    ops::set_isa(want);
    if (ops::isa() != want) continue;
    const size_t n = 3 * Hkv * cap * D;
    std::vector<float> kf(n, 0.f), vf(n, 0.f);
    std::vector<uint16_t> kh(n, 0), vh(n, 0);
    std::vector<ops::Bf24> kb(n), vb(n);
    ops::kv_cache_store(kf.data(), vf.data(), rows.data(), rows.data() + Hkv * D, ld, slot.data(),
                        pos.data(), N, Hkv, D, cap, ops::KvFormat::f32);
    ops::kv_cache_store(kh.data(), vh.data(), rows.data(), rows.data() + Hkv * D, ld, slot.data(),
                        pos.data(), N, Hkv, D, cap, ops::KvFormat::f16);
    ops::kv_cache_store(kb.data(), vb.data(), rows.data(), rows.data() + Hkv * D, ld, slot.data(),
                        pos.data(), N, Hkv, D, cap, ops::KvFormat::bf24);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t h = 0; h < Hkv; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const float kx = rows[i * ld + h * D + d], vx = rows[i * ld + Hkv * D + h * D + d];
          const int64_t ki = ops::kv_cache_key_index(slot[i], h, pos[i], d, Hkv, D, cap);
          const int64_t vi = ops::kv_cache_value_index(slot[i], h, pos[i], d, Hkv, D, cap);
          ASSERT_TRUE(same(kf[ki], kx));
          ASSERT_TRUE(same(vf[vi], vx));
          ASSERT_EQ(kh[ki], ops::half_from_float(kx)) << ops::isa_name(want) << " " << kx;
          ASSERT_EQ(vh[vi], ops::half_from_float(vx)) << ops::isa_name(want) << " " << vx;
          ASSERT_TRUE(
              same(ops::float_from_bf24(kb[ki]), ops::float_from_bf24(ops::bf24_from_float(kx))))
              << ops::isa_name(want) << " " << kx;
          ASSERT_TRUE(
              same(ops::float_from_bf24(vb[vi]), ops::float_from_bf24(ops::bf24_from_float(vx))))
              << ops::isa_name(want) << " " << vx;
        }
  }
  ops::set_isa(saved);
}

INSTANTIATE_TEST_SUITE_P(Isa, IsaPaths, ::testing::Values(ops::Isa::avx2, ops::Isa::avx512),
                         [](const auto& info) { return std::string(ops::isa_name(info.param)); });

}  // namespace
}  // namespace k1rl::test
