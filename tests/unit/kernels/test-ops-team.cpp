// ops::team(): the ops of a decode step called by every thread of a team (each op splits its
// work over the team and ends at the team's barrier) give bit-for-bit the results of the same
// ops called once from one thread, for team sizes 2 and 3 (odd sizes leave uneven shares).
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <vector>

#include "kernels/ops.h"
#include "tests/unit/kernels/kernel-test-util.h"

using namespace k1rl;
using k1rl::test::randn;

namespace {

// The decode-step ops over a batch of B one-token sequences with a KV cache, writing every
// result into *o. Large enough that every op would also split outside a team.
struct Step {
  static constexpr int64_t B = 48, C = 128, H = 4, Hkv = 2, D = 32, F = 344, V = 300, cap = 64;
  static constexpr int64_t HD = H * D, KD = Hkv * D, QKV = HD + 2 * KD;
  std::vector<float> x = randn(B * C, 1), wqkv = randn(QKV * C, 2, 0.1f),
                     wgu = randn(2 * F * C, 3, 0.1f), wdown = randn(C * F, 4, 0.1f),
                     norm = randn(C, 5), emb = randn(V * C, 6);
  std::vector<float> packed_gu = std::vector<float>(ops::packed_size(2 * F, C));
  std::vector<float> kc = randn(B * cap * KD, 7), vc = randn(B * cap * KD, 8);
  std::vector<float> cos_t = std::vector<float>(cap * D / 2),
                     sin_t = std::vector<float>(cap * D / 2);
  std::vector<int32_t> tokens, pos, slot, q_cu, kv_len;
  Step() {
    ops::pack_weights(packed_gu.data(), wgu.data(), 2 * F, C);
    ops::rope_table(cos_t.data(), sin_t.data(), cap, D, 10000.0);
    q_cu.push_back(0);
    for (int64_t b = 0; b < B; ++b) {
      tokens.push_back(static_cast<int32_t>((b * 37) % V));
      pos.push_back(static_cast<int32_t>(5 + b % 50));
      slot.push_back(static_cast<int32_t>(B - 1 - b));
      q_cu.push_back(static_cast<int32_t>(b + 1));
      kv_len.push_back(pos.back() + 1);
    }
  }
  struct Out {
    std::vector<float> e, ln, qkv, att, gu, h, y, lse;
    std::vector<float> k, v;
    std::vector<float> att2;  // attention_cached over a bf24 copy of the cache
    std::vector<unsigned char> kb, vb;
  };
  void run(Out& o) const {  // called by one thread, or by every thread of a team
    ops::embedding_forward(o.e.data(), emb.data(), tokens.data(), B, C);
    ops::add_inplace(o.e.data(), x.data(), B * C);
    ops::rmsnorm_forward(o.ln.data(), nullptr, o.e.data(), norm.data(), B, C, 1e-5f);
    ops::matmul_forward(o.qkv.data(), o.ln.data(), wqkv.data(), nullptr, B, C, QKV);  // sgemm
    ops::rope_apply(o.qkv.data(), QKV, pos.data(), B, H + Hkv, D, cos_t.data(), sin_t.data());
    ops::kv_cache_store(o.k.data(), o.v.data(), o.qkv.data() + HD, o.qkv.data() + HD + KD, QKV,
                        slot.data(), pos.data(), B, Hkv, D, cap, ops::KvFormat::f32);
    const ops::AttnShape sh{B, H, Hkv, D, q_cu.data(), slot.data(), kv_len.data(), cap};
    ops::attention_forward(o.att.data(), HD, o.lse.data(), o.qkv.data(), QKV, o.k.data(), 0,
                           o.v.data(), 0, sh);
    ops::AttnShape sb = sh;
    sb.cache_format = ops::KvFormat::bf24;
    ops::attention_cached(o.att2.data(), HD, o.qkv.data(), QKV, o.qkv.data() + HD,
                          o.qkv.data() + HD + KD, QKV, o.kb.data(), o.vb.data(), sb);
    ops::matmul_packed(o.gu.data(), o.ln.data(), packed_gu.data(), nullptr, B, C, 2 * F);
    ops::swiglu_forward(o.h.data(), o.gu.data(), B, F);
    ops::copy(o.y.data(), o.e.data(), B * C);
    ops::matmul_forward(o.y.data(), o.h.data(), wdown.data(), nullptr, B, F, C, true);
  }
  Out fresh() const {
    return {std::vector<float>(B * C),
            std::vector<float>(B * C),
            std::vector<float>(B * QKV),
            std::vector<float>(B * HD),
            std::vector<float>(B * 2 * F),
            std::vector<float>(B * F),
            std::vector<float>(B * C),
            std::vector<float>(B * H),
            kc,
            vc,
            std::vector<float>(B * HD),
            bf24(kc),
            bf24(vc)};
  }
  static std::vector<unsigned char> bf24(const std::vector<float>& x) {
    std::vector<unsigned char> out(3 * x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const ops::Bf24 h = ops::bf24_from_float(x[i]);
      std::copy(h.b, h.b + 3, out.begin() + 3 * i);
    }
    return out;
  }
};

void expect_same(const Step::Out& a, const Step::Out& b) {
  EXPECT_EQ(a.e, b.e);
  EXPECT_EQ(a.ln, b.ln);
  EXPECT_EQ(a.qkv, b.qkv);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.v, b.v);
  EXPECT_EQ(a.att, b.att);
  EXPECT_EQ(a.lse, b.lse);
  EXPECT_EQ(a.gu, b.gu);
  EXPECT_EQ(a.h, b.h);
  EXPECT_EQ(a.y, b.y);
  EXPECT_EQ(a.att2, b.att2);
  EXPECT_EQ(a.kb, b.kb);
  EXPECT_EQ(a.vb, b.vb);
}

}  // namespace

class Team : public ::testing::TestWithParam<int> {};

TEST_P(Team, OpsGiveTheSameBitsAsOutsideATeam) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(GetParam());
  const Step step;
  Step::Out alone = step.fresh(), team = step.fresh();
  step.run(alone);
  std::atomic<int> bodies{0};
  ops::team([&] {
    ++bodies;
    step.run(team);
  });
  omp_set_num_threads(saved);
  EXPECT_EQ(bodies.load(), GetParam());
  expect_same(team, alone);
}

TEST_P(Team, SingleRunsOnceAndNestedTeamsRunInline) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(GetParam());
  std::atomic<int> bodies{0}, singles{0}, nested{0};
  std::vector<int> seen;  // written by team_single only
  ops::team([&] {
    ++bodies;
    ops::team_single([&] {
      ++singles;
      seen.push_back(1);
    });
    ops::team([&] { ++nested; });  // already in a team: runs once per thread, inline
    ops::team_single([&] { seen.push_back(2); });
  });
  omp_set_num_threads(saved);
  EXPECT_EQ(bodies.load(), GetParam());
  EXPECT_EQ(singles.load(), 1);
  EXPECT_EQ(nested.load(), GetParam());
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

INSTANTIATE_TEST_SUITE_P(Sizes, Team, ::testing::Values(2, 3));
