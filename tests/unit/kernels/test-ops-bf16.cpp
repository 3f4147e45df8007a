// The bf16 linear layers (Precision::bf16) against their float32 twins and against exact
// (double) products of the same bf16-rounded operands. Tolerances, relative to the largest
// entry of each tensor:
//  - against double products of the rounded operands: 2e-5 (float32 accumulation only; a
//    wrong rounding or a dropped term shows up at 1e-3 or more);
//  - against the float32 path: 2e-2 (bf16 keeps 8 mantissa bits: each operand is off by up to
//    2^-9 relative; errors partly cancel over K terms; measured ~4e-3).
// Every case skips itself (GTEST_SKIP, with the reason) on a CPU without AMX-BF16/AVX512-BF16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/cpu/bf16-impl.h"
#include "kernels/ops.h"
#include "tests/unit/kernels/kernel-test-util.h"

namespace k1rl::test {
namespace {

#define SKIP_WITHOUT_BF16()                                                                    \
  if (!ops::bf16_supported())                                                                  \
  GTEST_SKIP() << "this CPU has neither AMX-BF16 nor AVX512-BF16 (or K1RL_ISA caps AVX-512): " \
                  "the bf16 path cannot run here"

// Runs fn under the given precision, restoring fp32 after.
template <class F>
void with_precision(ops::Precision p, F&& fn) {
  ops::set_precision(p);
  fn();
  ops::set_precision(ops::Precision::fp32);
}

std::vector<float> rounded(const std::vector<float>& x) {
  std::vector<float> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) r[i] = ops::float_from_bf16(ops::bf16_from_float(x[i]));
  return r;
}

// out[n,m] = Σ_k a[n,k]·w[m,k] in double.
std::vector<double> ref_nt(const std::vector<float>& a, const std::vector<float>& w, int64_t N,
                           int64_t K, int64_t M) {
  std::vector<double> o(N * M, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(a[n * K + k]) * w[m * K + k];
      o[n * M + m] = s;
    }
  return o;
}

TEST(Bf16, ConversionIsNearestEven) {
  // Scalar rounding: ties to even, NaN stays NaN, infinities and overflow.
  EXPECT_EQ(ops::bf16_from_float(1.0f), 0x3f80);
  uint32_t tie_down = 0x3f808000u, tie_up = 0x3f818000u, above = 0x3f808001u;
  float f;
  std::memcpy(&f, &tie_down, 4);
  EXPECT_EQ(ops::bf16_from_float(f), 0x3f80);  // tie, even below
  std::memcpy(&f, &tie_up, 4);
  EXPECT_EQ(ops::bf16_from_float(f), 0x3f82);  // tie, even above
  std::memcpy(&f, &above, 4);
  EXPECT_EQ(ops::bf16_from_float(f), 0x3f81);
  EXPECT_TRUE(std::isnan(ops::float_from_bf16(ops::bf16_from_float(NAN))));
  EXPECT_EQ(ops::bf16_from_float(INFINITY), 0x7f80);
  EXPECT_EQ(ops::bf16_from_float(3.4e38f), 0x7f80);  // rounds up past the largest bf16
  // The vector conversion equals the scalar one on normal floats (tails of every length).
  auto x = randn(1000, 11, 10.f);
  for (int64_t n : {1, 15, 16, 17, 31, 32, 33, 1000}) {
    std::vector<uint16_t> v(n);
    ops::convert_to_bf16(v.data(), x.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[i], ops::bf16_from_float(x[i])) << n << " " << i;
  }
}

struct Shape {
  int64_t N, K, M;
};
const Shape kShapes[] = {{1, 64, 32}, {7, 33, 45}, {64, 256, 96}, {130, 200, 515}, {256, 768, 64}};

TEST(Bf16, ForwardMatchesRoundedProductAndFp32) {
  SKIP_WITHOUT_BF16();
  for (const Shape& s : kShapes)
    for (bool bias : {false, true})
      for (bool acc : {false, true}) {
        auto x = randn(s.N * s.K, 1), w = randn(s.M * s.K, 2, 0.05f), b = randn(s.M, 3);
        auto init = randn(s.N * s.M, 4);
        std::vector<float> o32 = init, o16 = init;
        ops::matmul_forward(o32.data(), x.data(), w.data(), bias ? b.data() : nullptr, s.N, s.K,
                            s.M, acc);
        with_precision(ops::Precision::bf16, [&] {
          ops::matmul_forward(o16.data(), x.data(), w.data(), bias ? b.data() : nullptr, s.N, s.K,
                              s.M, acc);
        });
        auto ref = ref_nt(rounded(x), rounded(w), s.N, s.K, s.M);
        for (int64_t i = 0; i < s.N * s.M; ++i)
          ref[i] += (bias ? b[i % s.M] : 0.0) + (acc ? init[i] : 0.0);
        const std::string what = "N" + std::to_string(s.N) + " K" + std::to_string(s.K) + " M" +
                                 std::to_string(s.M) + (bias ? " bias" : "") + (acc ? " acc" : "");
        EXPECT_LT(rel_err(o16.data(), ref.data(), o16.size()), 2e-5) << what;
        const double e32 = rel_err(o16, o32);
        EXPECT_LT(e32, 2e-2) << what;
        EXPECT_GT(e32, 1e-6) << what << ": the bf16 path computed in float32";
      }
}

TEST(Bf16, PrimitiveCacheKeepsTheRecentShapes) {
  // An RL run's micro-batches change their row count every step: one oneDNN primitive per shape
  // must not pile up. More row counts than the capacity, then the first (dropped) again.
  SKIP_WITHOUT_BF16();
  const int64_t K = 48, M = 40, rows = static_cast<int64_t>(ops::cpu::kBf16PrimitiveCapacity) + 8;
  auto x = randn(rows * K, 5), w = randn(M * K, 6, 0.1f);
  std::vector<uint16_t> xb(x.size()), wb(w.size());
  ops::convert_to_bf16(xb.data(), x.data(), static_cast<int64_t>(x.size()));
  ops::convert_to_bf16(wb.data(), w.data(), static_cast<int64_t>(w.size()));
  const auto ref = ref_nt(rounded(x), rounded(w), rows, K, M);
  for (int64_t i = 1; i <= rows + 1; ++i) {
    const int64_t n = i <= rows ? i : 1;
    std::vector<float> c(n * M, -1.f);
    ops::cpu::gemm_bf16(false, true, n, M, K, xb.data(), K, wb.data(), K, false, c.data(), M,
                        nullptr);
    ASSERT_LT(rel_err(c.data(), ref.data(), c.size()), 2e-5) << n << " rows";
    ASSERT_LE(ops::cpu::bf16_primitives_held(), ops::cpu::kBf16PrimitiveCapacity) << n;
  }
  EXPECT_EQ(ops::cpu::bf16_primitives_held(), ops::cpu::kBf16PrimitiveCapacity);
}

TEST(Bf16, RowCountsShareABoundedSetOfShapes) {
  // The linear layers chunk and pad token rows, so that a run whose micro-batches change their
  // row count every step compiles few oneDNN primitives: every row count from 1 to 2100 through
  // one weight makes at most kBf16RowChunk / kBf16RowStep + 1 forward shapes; the results of a
  // sample of counts (chunk edges, padded tails, accumulation) match the rounded products.
  SKIP_WITHOUT_BF16();
  const int64_t K = 40, M = 24, rows = 2100;
  const auto x = randn(rows * K, 11), w = randn(M * K, 12, 0.1f), d = randn(rows * M, 13);
  const size_t made0 = ops::cpu::bf16_primitives_made();
  std::vector<float> out(rows * M);
  with_precision(ops::Precision::bf16, [&] {
    for (int64_t n = 1; n <= rows; ++n)
      ops::matmul_forward(out.data(), x.data(), w.data(), nullptr, n, K, M);
  });
  EXPECT_LE(ops::cpu::bf16_primitives_made() - made0,
            static_cast<size_t>(ops::cpu::kBf16RowChunk / ops::cpu::kBf16RowStep + 1));
  const auto xr = rounded(x), wr = rounded(w), dr = rounded(d);
  const auto ref = ref_nt(xr, wr, rows, K, M);
  std::vector<float> bias(M);
  for (int64_t m = 0; m < M; ++m) bias[m] = 0.01f * static_cast<float>(m);
  for (int64_t n : {1, 31, 33, 1023, 1024, 1025, 1057, 2049, 2100})
    for (bool acc : {false, true}) {
      std::vector<float> o(n * M, 0.5f), din(n * K, -0.25f), dw(M * K, 0.125f);
      with_precision(ops::Precision::bf16, [&] {
        ops::matmul_forward(o.data(), x.data(), w.data(), bias.data(), n, K, M, acc);
        ops::matmul_backward(din.data(), dw.data(), nullptr, d.data(), x.data(), w.data(), n, K, M,
                             acc);
      });
      std::vector<double> ro(n * M), rdin(n * K), rdw(M * K);
      for (int64_t i = 0; i < n * M; ++i) ro[i] = ref[i] + bias[i % M] + (acc ? 0.5 : 0.0);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t k = 0; k < K; ++k) {
          double t = acc ? -0.25 : 0.0;
          for (int64_t m = 0; m < M; ++m) t += double(dr[r * M + m]) * wr[m * K + k];
          rdin[r * K + k] = t;
        }
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) {
          double t = 0.125;
          for (int64_t r = 0; r < n; ++r) t += double(dr[r * M + m]) * xr[r * K + k];
          rdw[m * K + k] = t;
        }
      EXPECT_LT(rel_err(o.data(), ro.data(), o.size()), 2e-5) << n << " rows, acc " << acc;
      EXPECT_LT(rel_err(din.data(), rdin.data(), din.size()), 2e-5) << n << " rows, acc " << acc;
      EXPECT_LT(rel_err(dw.data(), rdw.data(), dw.size()), 2e-5) << n << " rows, acc " << acc;
    }
}

TEST(Bf16, BackwardMatchesRoundedProductsAndFp32) {
  SKIP_WITHOUT_BF16();
  for (const Shape& s : kShapes)
    for (bool acc : {false, true}) {
      auto x = randn(s.N * s.K, 5), w = randn(s.M * s.K, 6, 0.05f), d = randn(s.N * s.M, 7);
      auto din0 = randn(s.N * s.K, 8), dw0 = randn(s.M * s.K, 9, 0.1f);
      std::vector<float> din32 = din0, dw32 = dw0, din16 = din0, dw16 = dw0;
      ops::matmul_backward(din32.data(), dw32.data(), nullptr, d.data(), x.data(), w.data(), s.N,
                           s.K, s.M, acc);
      with_precision(ops::Precision::bf16, [&] {
        ops::matmul_backward(din16.data(), dw16.data(), nullptr, d.data(), x.data(), w.data(), s.N,
                             s.K, s.M, acc);
      });
      const auto xr = rounded(x), wr = rounded(w), dr = rounded(d);
      std::vector<double> rdin(s.N * s.K), rdw(s.M * s.K);
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t k = 0; k < s.K; ++k) {
          double t = acc ? din0[n * s.K + k] : 0.0;
          for (int64_t m = 0; m < s.M; ++m) t += double(dr[n * s.M + m]) * wr[m * s.K + k];
          rdin[n * s.K + k] = t;
        }
      for (int64_t m = 0; m < s.M; ++m)
        for (int64_t k = 0; k < s.K; ++k) {
          double t = dw0[m * s.K + k];
          for (int64_t n = 0; n < s.N; ++n) t += double(dr[n * s.M + m]) * xr[n * s.K + k];
          rdw[m * s.K + k] = t;
        }
      const std::string what = "N" + std::to_string(s.N) + " K" + std::to_string(s.K) + " M" +
                               std::to_string(s.M) + (acc ? " acc" : "");
      EXPECT_LT(rel_err(din16.data(), rdin.data(), din16.size()), 2e-5) << "din " << what;
      EXPECT_LT(rel_err(dw16.data(), rdw.data(), dw16.size()), 2e-5) << "dw " << what;
      EXPECT_LT(rel_err(din16, din32), 2e-2) << "din " << what;
      EXPECT_LT(rel_err(dw16, dw32), 2e-2) << "dw " << what;
    }
}

TEST(Bf16, PackedDecodeProductEqualsTrainingProduct) {
  SKIP_WITHOUT_BF16();
  // The decode product (matmul_packed on bf16 panels) and the training one (oneDNN) multiply
  // the same rounded numbers: they agree to float32 summation order.
  for (const Shape& s : kShapes)
    for (bool acc : {false, true}) {
      auto x = randn(s.N * s.K, 21), w = randn(s.M * s.K, 22, 0.05f), b = randn(s.M, 23);
      auto init = randn(s.N * s.M, 24);
      std::vector<float> o1 = init, o2 = init;
      with_precision(ops::Precision::bf16, [&] {
        std::vector<float> packed(ops::packed_size(s.M, s.K));
        ops::pack_weights(packed.data(), w.data(), s.M, s.K);
        ops::matmul_packed(o1.data(), x.data(), packed.data(), b.data(), s.N, s.K, s.M, acc);
        ops::matmul_forward(o2.data(), x.data(), w.data(), b.data(), s.N, s.K, s.M, acc);
      });
      EXPECT_LT(rel_err(o1, o2), 1e-5) << s.N << " " << s.K << " " << s.M << " " << acc;
      // Also inside a team of threads (decode steps run there).
      std::vector<float> o3 = init;
      with_precision(ops::Precision::bf16, [&] {
        std::vector<float> packed(ops::packed_size(s.M, s.K));
        ops::pack_weights(packed.data(), w.data(), s.M, s.K);
        ops::team([&] {
          ops::matmul_packed(o3.data(), x.data(), packed.data(), b.data(), s.N, s.K, s.M, acc);
        });
      });
      EXPECT_EQ(o3, o1) << "team " << s.N << " " << s.K << " " << s.M;
    }
}

TEST(Bf16, PackedSizeIsWhatPackingWrites) {
  // A bf16 copy takes half the floats of an fp32 one (the decode panels of a whole model are
  // sized with it) and packing writes no further.
  SKIP_WITHOUT_BF16();
  for (auto [M, K] : {std::pair<int64_t, int64_t>{70, 96}, {33, 7}, {1, 1}, {64, 576}}) {
    const int64_t n16 = ops::packed_size(M, K, ops::Precision::bf16);
    EXPECT_EQ(n16, ops::packed_size(M, (K + 1) / 2 * 2, ops::Precision::fp32) / 2 + 8) << M << K;
    EXPECT_EQ(ops::packed_size(M, K), ops::packed_size(M, K, ops::Precision::fp32));
    auto w = randn(M * K, 41, 0.05f), x = randn(3 * K, 42);
    std::vector<float> packed(n16 + 64, 1234.5f), a(3 * M), b(3 * M);
    with_precision(ops::Precision::bf16, [&] {
      ops::pack_weights(packed.data(), w.data(), M, K);
      ops::matmul_packed(a.data(), x.data(), packed.data(), nullptr, 3, K, M);
      ops::matmul_forward(b.data(), x.data(), w.data(), nullptr, 3, K, M);
    });
    for (int64_t i = n16; i < n16 + 64; ++i) ASSERT_EQ(packed[i], 1234.5f) << M << " " << K;
    EXPECT_LT(rel_err(a, b), 1e-5) << M << " " << K;
  }
}

TEST(Bf16, PackedCopyKeepsItsPrecision) {
  SKIP_WITHOUT_BF16();
  const int64_t N = 5, K = 96, M = 70;
  auto x = randn(N * K, 31), w = randn(M * K, 32, 0.05f);
  std::vector<float> packed(ops::packed_size(M, K)), a(N * M), b(N * M);
  ops::pack_weights(packed.data(), w.data(), M, K);  // packed under fp32
  with_precision(ops::Precision::bf16,
                 [&] { ops::matmul_packed(a.data(), x.data(), packed.data(), nullptr, N, K, M); });
  ops::matmul_forward(b.data(), x.data(), w.data(), nullptr, N, K, M);
  EXPECT_LT(rel_err(a, b), 1e-5);  // computed in fp32, as packed
}

TEST(Bf16, WeightMirrorConvertsOncePerChange) {
  SKIP_WITHOUT_BF16();
  const int64_t N = 16, K = 64, M = 48;
  auto x = randn(N * K, 41), w = randn(M * K, 42, 0.05f);
  ops::weights_register(w.data(), M * K);
  std::vector<float> first(N * M), again(N * M), fresh(N * M);
  with_precision(ops::Precision::bf16, [&] {
    ops::matmul_forward(first.data(), x.data(), w.data(), nullptr, N, K, M);
    for (auto& v : w) v *= 2.f;  // written without weights_changed: the mirror is stale
    ops::matmul_forward(again.data(), x.data(), w.data(), nullptr, N, K, M);
    ops::weights_changed(w.data());
    ops::matmul_forward(fresh.data(), x.data(), w.data(), nullptr, N, K, M);
  });
  ops::weights_unregister(w.data());
  EXPECT_EQ(again, first) << "the mirror was converted again without weights_changed";
  for (int64_t i = 0; i < N * M; ++i) ASSERT_FLOAT_EQ(fresh[i], 2.f * first[i]) << i;
  // Unregistered weights are converted at every call.
  std::vector<float> un(N * M);
  for (auto& v : w) v *= 0.5f;
  with_precision(ops::Precision::bf16,
                 [&] { ops::matmul_forward(un.data(), x.data(), w.data(), nullptr, N, K, M); });
  EXPECT_EQ(un, first);
}

TEST(Bf16, EngineResolvesThePrecision) {
  ops::EngineInfo info;
  ASSERT_TRUE(ops::engine_init(ops::Backend::cpu, ops::PrecisionRequest::fp32, &info));
  EXPECT_EQ(info.precision, ops::Precision::fp32);
  EXPECT_FALSE(ops::engine_init(ops::Backend::cuda, ops::PrecisionRequest::fp32, &info));
  // Without bf16 hardware (simulated by capping the ISA below AVX-512): auto falls back to fp32
  // with a note, bf16 is refused with the reason.
  const ops::Isa was = ops::isa();
  __builtin_cpu_init();  // the CPU's bf16, even when K1RL_ISA already caps it
  const bool hardware = __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
  ops::set_isa(ops::Isa::avx2);
  ASSERT_TRUE(ops::engine_init(ops::Backend::cpu, ops::PrecisionRequest::auto_, &info));
  EXPECT_EQ(info.precision, ops::Precision::fp32);
  EXPECT_NE(info.note, "");
  EXPECT_FALSE(ops::engine_init(ops::Backend::cpu, ops::PrecisionRequest::bf16, &info));
  // The reason is the cap where the CPU has bf16, and the CPU where it has none.
  EXPECT_NE(info.note.find(hardware ? "K1RL_ISA" : "neither"), std::string::npos) << info.note;
  EXPECT_EQ(ops::precision(), ops::Precision::fp32);
  ops::set_isa(was);
  if (!ops::bf16_supported()) GTEST_SKIP() << "no bf16 hardware: the bf16 half is not checked";
  ASSERT_TRUE(ops::engine_init(ops::Backend::cpu, ops::PrecisionRequest::auto_, &info));
  EXPECT_EQ(info.precision, ops::Precision::bf16);
  EXPECT_NE(info.bf16_isa.find("avx512"), std::string::npos) << info.bf16_isa;
  EXPECT_EQ(ops::precision(), ops::Precision::bf16);
  ASSERT_TRUE(ops::engine_init(ops::Backend::cpu, ops::PrecisionRequest::fp32, &info));
}

}  // namespace
}  // namespace k1rl::test
