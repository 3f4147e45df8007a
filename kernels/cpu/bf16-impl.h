// Internal to kernels/cpu: the bf16 products. gemm_bf16 is oneDNN's matmul on bf16 operands
// with a float32 result; the weight mirror and the packed decode kernel share one rounding
// (convert_to_bf16, nearest even), so every bf16 path multiplies the same numbers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"

namespace k1rl::ops::cpu {

// A thread's scratch for the bf16 products (converted operands, oneDNN's scratchpad): its own
// anonymous mapping, grown by half again when too small, contents not kept. Outside the heap on
// purpose: long-lived blocks that grow during training, placed in the heap, split the holes that
// the loop's phases hand to each other (docs/engine.md, "Memory") and the heap grew every
// iteration.
class MappedScratch {
 public:
  MappedScratch() = default;
  MappedScratch(const MappedScratch&) = delete;
  MappedScratch& operator=(const MappedScratch&) = delete;
  ~MappedScratch();
  void* get(size_t bytes);  // at least `bytes`, page-aligned; throws std::bad_alloc
  template <class T>
  T* get(size_t n) {
    return static_cast<T*>(get(n * sizeof(T)));
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// C[M,N] = op(A)·op(B) (+ bias[N]) (+ C when accumulate), A and B bf16, C float32; op = transpose
// when ta/tb (row-major with leading dimensions, as ops::gemm).
void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, bool accumulate, float* C, int64_t ldc,
               const float* bias);
// The oneDNN primitives kept (one per product shape, least recently used dropped first; 1024 is
// also oneDNN's own default).
constexpr size_t kBf16PrimitiveCapacity = 1024;
size_t bf16_primitives_held();
size_t bf16_primitives_made();  // created so far (each one a JIT compilation)
// matmul_forward_bf16 and matmul_backward_bf16 run token rows in chunks of kBf16RowChunk, the
// last zero-padded to a multiple of kBf16RowStep: a weight takes at most
// kBf16RowChunk / kBf16RowStep + 1 shapes per kind of product, whatever the row counts.
constexpr int64_t kBf16RowChunk = 1024, kBf16RowStep = 32;
// oneDNN's implementation name for a probe product (e.g. "brg:avx512_core_amx").
std::string bf16_probe_isa();
// The bf16 copy of w[0, n): the registered mirror's range (converted if stale) or, for a weight
// outside any registered buffer, a conversion into tmp.
const uint16_t* weight_bf16(const float* w, int64_t n, std::vector<uint16_t>& tmp);

void matmul_forward_bf16(float* out, const float* in, const float* w, const float* bias, int64_t N,
                         int64_t K, int64_t M, bool accumulate);
void matmul_backward_bf16(float* din, float* dw, const float* dout, const float* in, const float* w,
                          int64_t N, int64_t K, int64_t M, bool accumulate_din);
// Packed decode product under bf16 (panels of 32 outputs, k in pairs).
void pack_weights_bf16(uint16_t* packed, const float* w, int64_t M, int64_t K);
void matmul_packed_bf16(float* out, const float* in, const uint16_t* packed, const float* bias,
                        int64_t N, int64_t K, int64_t M, bool accumulate);

// Vector kernels (AVX512-BF16; scalar twins where the CPU lacks it).
void convert_bf16_avx512(uint16_t* dst, const float* src, int64_t n);
// C[n·ldc + m] (=, or += when acc) Σ_k X[n·ldx + k]·W[m, k] (+ bias[m]) for n < N, outputs of
// panels [p0, p1); X bf16 rows with K2 = ceil(K/2) pairs (zero-padded), P as pack_weights_bf16.
void gemm_packed_bf16_avx512(float* C, int64_t ldc, const uint16_t* X, int64_t ldx, int64_t N,
                             int64_t K2, const uint16_t* P, int64_t M, int64_t p0, int64_t p1,
                             const float* bias, bool acc);
bool have_avx512_bf16();

}  // namespace k1rl::ops::cpu
