// k1rl kernels: the one interface the model calls. Plain pointers and sizes, row-major float32,
// no knowledge of models, MPI, HDF5 or logging. kernels/cpu/ implements it (OpenMP, OpenBLAS
// cblas_sgemm, AVX2/AVX-512 paths picked at run time); a CUDA twin can implement the same calls.
//
// Shape letters: N tokens (packed sequences), B sequences, C channels (model dim), H query heads,
// Hkv key/value heads, D head dim, F MLP hidden size, V vocab, K/M matmul in/out features.
// Conventions:
//  - "_backward" functions ACCUMULATE (+=) into parameter gradients; for input gradients each
//    function says whether it overwrites or accumulates.
//  - Linear weights are stored as in PyTorch nn.Linear: W[M, K] (out features x in features).
//  - Packed variable-length sequences are given by offsets cu[B+1]: sequence b holds tokens
//    cu[b] .. cu[b+1]-1 of the packed arrays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace k1rl::ops {

// ---------------------------------------------------------------------------------------------
// Run-time CPU dispatch. The widest vector ISA the CPU reports (cpuid via
// __builtin_cpu_supports), capped by the environment variable K1RL_ISA=scalar|avx2|avx512.
enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };
Isa isa();
const char* isa_name(Isa isa);
void set_isa(Isa isa);  // for tests: force a narrower path (clamped to what the CPU supports)
int num_threads();      // OpenMP threads the kernels use

// Teams: team(body) runs body on every worker thread of the backend at once (SPMD). Every ops::
// call inside must be made by all of them with the same arguments; the op splits its work over
// the team and returns on every thread once all of it is done. For a sequence of short ops (a
// decode step) this replaces one thread start per op with one per sequence. Code between ops
// that writes shared memory goes in team_single(fn) (one thread runs fn, all wait for it).
// body must not throw. A backend without worker threads (or a nested call) runs body once.
void team(const std::function<void()>& body);
void team_single(const std::function<void()>& fn);
// This thread's index in the running team (0 outside one), e.g. to time ops on one thread.
int team_rank();

// ---------------------------------------------------------------------------------------------
// The engine: backend and precision, chosen once at start-up (engine_init) before any op runs.
// Backend::cpu is this library; a CUDA backend implements the same calls on device buffers
// (docs/engine.md, "The backend seam"). Precision::bf16 makes the linear layers below
// (matmul_forward, matmul_backward, matmul_packed) multiply bf16-rounded inputs and weights with
// float32 accumulation and float32 outputs; every other op stays float32. fp32 is the oracle.
enum class Backend { cpu = 0, cuda = 1 };
enum class Precision { fp32 = 0, bf16 = 1 };
enum class PrecisionRequest { fp32, bf16, auto_ };
struct EngineInfo {
  Backend backend = Backend::cpu;
  Precision precision = Precision::fp32;
  bool bf16_hardware = false;  // AMX-BF16 or AVX512-BF16 present (and not capped by K1RL_ISA)
  std::string bf16_isa;        // what oneDNN runs bf16 products on ("avx512_core_amx", ...)
  std::string note;            // why auto fell back, or why bf16 is impossible ("" otherwise)
};
// Resolves the request on this machine and makes it current. bf16 on a CPU without bf16
// support returns ok = false with info.note saying why (the caller turns it into an error);
// auto picks bf16 where supported, else fp32 (info.note says so). Callable again (tests).
bool engine_init(Backend backend, PrecisionRequest precision, EngineInfo* info);
const EngineInfo& engine();
Precision precision();
void set_precision(Precision p);  // tests and benchmarks: switch without engine_init
bool bf16_supported();            // AMX-BF16 or AVX512-BF16, AVX-512 not capped by K1RL_ISA

// bfloat16: a float's top half, rounded to nearest even (NaN stays NaN).
inline uint16_t bf16_from_float(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}
inline float float_from_bf16(uint16_t h) {
  const uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &x, 4);
  return f;
}
// dst[i] = bf16(src[i]) for n floats (vectorised where the CPU has AVX512-BF16).
void convert_to_bf16(uint16_t* dst, const float* src, int64_t n);

// Weight buffers the backend mirrors in bf16. A model registers its flat parameter buffer once;
// under Precision::bf16 a linear layer whose weight lies inside it uses the mirror of that
// range, converted at its first use after weights_changed(base) (so once per optimizer step,
// not per product). Weights outside any registered buffer are converted at every call.
// Whoever writes the buffer (optimizer, checkpoint load, weight broadcast) must call
// weights_changed before the next product; lib/model does it whenever it hands out params()
// for writing. Thread-safe.
void weights_register(const float* base, int64_t n);
void weights_unregister(const float* base);
void weights_changed(const float* base);

// ---------------------------------------------------------------------------------------------
// Linear layers. Under Precision::bf16 the products (not the bias sums) round their inputs and
// weights to bf16 and accumulate in float32 (oneDNN on the CPU: AMX or AVX512-BF16); the same
// rounding in every product, so a decode step (matmul_packed) and the training forward agree
// up to summation order.
// out[N,M] = in[N,K] · W[M,K]^T (+ bias[M] when bias != nullptr); overwrites out, or adds
// to it when accumulate is true.
void matmul_forward(float* out, const float* in, const float* w, const float* bias, int64_t N,
                    int64_t K, int64_t M, bool accumulate = false);
// Given dout[N,M]: din[N,K] (= or += per accumulate_din) dout·W; dw[M,K] += dout^T·in;
// dbias[M] += column sums of dout. Any of din, dw, dbias may be nullptr (not wanted).
void matmul_backward(float* din, float* dw, float* dbias, const float* dout, const float* in,
                     const float* w, int64_t N, int64_t K, int64_t M, bool accumulate_din = false);
// Weights packed for products with few rows (decoding): W[M,K] as panels of 32 outputs,
// P[p][k][c] = W[32p + c][k] (zero-padded); under Precision::bf16, bf16 pairs along k. The
// packed copy has packed_size(M, K) floats and records its precision: a copy packed under one
// precision computes in it (pack again after set_precision).
int64_t packed_size(int64_t M, int64_t K);               // enough for either precision
int64_t packed_size(int64_t M, int64_t K, Precision p);  // what packing under p writes
void pack_weights(float* packed, const float* w, int64_t M, int64_t K);
// out[N,M] = in[N,K] · Wᵀ (+ bias[M]) with W given packed; adds to out when accumulate.
void matmul_packed(float* out, const float* in, const float* packed, const float* bias, int64_t N,
                   int64_t K, int64_t M, bool accumulate = false);
// General row-major sgemm: C[M,N] = alpha·op(A)·op(B) + beta·C with leading dimensions.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// ---------------------------------------------------------------------------------------------
// RMSNorm: out = in / sqrt(mean(in^2) + eps) * weight, per row of C. rstd[N] saves
// 1/sqrt(mean+eps) for the backward (may be nullptr in inference).
void rmsnorm_forward(float* out, float* rstd, const float* in, const float* weight, int64_t N,
                     int64_t C, float eps);
// din[N,C] += d/d(in); dweight[C] += d/d(weight).
void rmsnorm_backward(float* din, float* dweight, const float* dout, const float* in,
                      const float* weight, const float* rstd, int64_t N, int64_t C);

// ---------------------------------------------------------------------------------------------
// Rotary position embedding, Hugging Face LLaMA convention ("rotate_half": dimension i pairs
// with i + D/2). Table: cos/sin[P, D/2] for positions 0..P-1 with frequency theta^(-2i/D).
void rope_table(float* cos_t, float* sin_t, int64_t P, int64_t D, double theta);
// In place on x: rows of n_heads·D floats (row n starts at x + n·ld), rotated by pos[n].
// inverse = true applies the transpose rotation, which is the backward of the forward.
void rope_apply(float* x, int64_t ld, const int32_t* pos, int64_t N, int64_t n_heads, int64_t D,
                const float* cos_t, const float* sin_t, bool inverse = false);

// ---------------------------------------------------------------------------------------------
// Element formats of a KV cache: f32; f16 (IEEE binary16, 10-bit mantissa); bf24 (a float's top
// three bytes rounded to nearest even: float32's range, 15-bit mantissa, relative error at most
// 2^-16; struct Bf24). Bytes per element: kv_bytes.
enum class KvFormat : uint8_t { f32, f16, bf24 };
inline int64_t kv_bytes(KvFormat f) {
  return f == KvFormat::f32 ? 4 : f == KvFormat::f16 ? 2 : 3;
}
struct Bf24 {
  uint8_t b[3];  // bits 8-15, 16-23, 24-31 of the float
};

// Causal grouped-query attention over packed sequences, scale 1/sqrt(D). Query head h reads
// key/value head h / (H/Hkv). Rows: q row n (H·D floats) at q + n·ldq; k/v rows (Hkv·D floats)
// at k + r·ldk, v + r·ldv.
//
// Sequence b has queries q_cu[b] .. q_cu[b+1]-1 and keys/values rows kv_start[b] ..
// kv_start[b] + kv_len[b] - 1. Its nq = q_cu[b+1]-q_cu[b] queries are the LAST nq positions of
// the sequence: query j sits at position kv_len[b] - nq + j and sees keys 0 .. that position.
//  - training: q_cu = kv_start = cu, kv_len[b] = cu[b+1] - cu[b];
//  - KV cache (below): kv_start[b] = slot, kv_len[b] = tokens in the cache after this step.
// out rows (H·D) at out + n·ldo. lse[N,H] (may be nullptr) gets each row's log-sum-exp of the
// scaled scores, which the backward needs.
// cache > 0 (forward only) selects the KV-cache layout instead: kv_start[b] is sequence b's slot
// and ldk/ldv are ignored; with Hkv heads, capacity `cache` (a multiple of 16) and slot s,
//   key (position j = 16·jb + jj, head h, dim d):  k[(((s·cache/16 + jb)·Hkv + h)·D + d)·16 + jj]
//   value (position j, head h, dim d):              v[((s·cache + j)·Hkv + h)·D + d]
// (keys transposed in tiles of 16 positions, all heads of a tile together; values of all heads
// of a position together: a sequence's keys and values are two contiguous blocks, which a
// decode step streams through memory). kv_cache_key_index/kv_cache_value_index give these.
struct AttnShape {
  int64_t B, H, Hkv, D;
  const int32_t* q_cu;      // [B+1]
  const int32_t* kv_start;  // [B]
  const int32_t* kv_len;    // [B]
  int64_t cache = 0;
  KvFormat cache_format = KvFormat::f32;  // element type of the cache (k, v point to it)
};
// IEEE binary16 conversions (round to nearest even), for writing and reading an f16 KV cache.
inline uint16_t half_from_float(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return static_cast<uint16_t>(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow to infinity
  if (a < 0x38800000u) {                                               // subnormal half (or zero)
    if (a < 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((a - 0x38000000u) >> 13);
  const uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}
inline float float_from_half(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
  if (e == 0x1f) {
    x = sign | 0x7f800000u | (m << 13);
  } else if (e != 0) {
    x = sign | ((e + 112) << 23) | (m << 13);
  } else if (m == 0) {
    x = sign;
  } else {  // subnormal: normalise
    e = 113;
    while (!(m & 0x400u)) m <<= 1, --e;
    x = sign | (e << 23) | ((m & 0x3ffu) << 13);
  }
  float f;
  __builtin_memcpy(&f, &x, 4);
  return f;
}
// Bf24 conversions: nearest even (NaN stays NaN, overflow gives infinity), and exact back.
inline Bf24 bf24_from_float(float f) {
  uint32_t x;
  __builtin_memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    x |= 0x00400000u;  // NaN stays NaN (quiet)
  else
    x += 0x7fu + ((x >> 8) & 1u);  // nearest even; a carry rounds up into the exponent
  return Bf24{
      {static_cast<uint8_t>(x >> 8), static_cast<uint8_t>(x >> 16), static_cast<uint8_t>(x >> 24)}};
}
inline float float_from_bf24(Bf24 h) {
  const uint32_t x = (uint32_t(h.b[0]) << 8) | (uint32_t(h.b[1]) << 16) | (uint32_t(h.b[2]) << 24);
  float f;
  __builtin_memcpy(&f, &x, 4);
  return f;
}
inline int64_t kv_cache_key_index(int64_t slot, int64_t h, int64_t j, int64_t d, int64_t Hkv,
                                  int64_t D, int64_t cache) {
  return (((slot * (cache / 16) + j / 16) * Hkv + h) * D + d) * 16 + j % 16;
}
inline int64_t kv_cache_value_index(int64_t slot, int64_t h, int64_t j, int64_t d, int64_t Hkv,
                                    int64_t D, int64_t cache) {
  return ((slot * cache + j) * Hkv + h) * D + d;
}
// Stores the keys and values of N new tokens into the KV-cache layout above, converted to `fmt`
// (round to nearest even): token i (key row k + i·ld, value row v + i·ld, Hkv·D floats each)
// goes to slot slot[i], position pos[i].
void kv_cache_store(void* kcache, void* vcache, const float* k, const float* v, int64_t ld,
                    const int32_t* slot, const int32_t* pos, int64_t N, int64_t Hkv, int64_t D,
                    int64_t cache, KvFormat fmt);
void attention_forward(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq,
                       const float* k, int64_t ldk, const float* v, int64_t ldv,
                       const AttnShape& s);
// A cached step in one pass per sequence: kv_cache_store of each sequence's new rows (row n's key
// at k + n·ld, value at v + n·ld; sequence b's rows go to slot kv_start[b], positions
// kv_len[b] - nq .. kv_len[b] - 1), then attention_forward over the cache (s.cache > 0, no lse).
// The same result as the two calls; the rows just written are still in the CPU's cache.
// With rope given, each new row's query (H heads at q + n·ldq) and key (Hkv heads at k + n·ld)
// are first rotated in place as rope_apply does at position rope->pos[n]: bit for bit the same
// as rope_apply on those rows before the call, without a pass (and a team barrier) of its own.
struct RopeArgs {
  const int32_t* pos;          // [N] position of each new row
  const float *cos_t, *sin_t;  // rope_table's [P, D/2]
};
void attention_cached(float* out, int64_t ldo, float* q, int64_t ldq, float* k, const float* v,
                      int64_t ld, void* kcache, void* vcache, const AttnShape& s,
                      const RopeArgs* rope = nullptr);
// Gradients of the forward above given dout, the forward's out and lse. dq is overwritten;
// dk and dv are overwritten for every row belonging to some sequence (training layout: all).
void attention_backward(float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
                        const float* dout, int64_t lddo, const float* out, int64_t ldo,
                        const float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                        const float* v, int64_t ldv, const AttnShape& s);

// ---------------------------------------------------------------------------------------------
// SwiGLU MLP activation: gu[N, 2F] holds (gate | up) per row; out[N,F] = silu(gate) * up.
void swiglu_forward(float* out, const float* gu, int64_t N, int64_t F);
// dgu[N,2F] (overwritten) from dout[N,F].
void swiglu_backward(float* dgu, const float* dout, const float* gu, int64_t N, int64_t F);

// ---------------------------------------------------------------------------------------------
// Softmax statistics of logits[N,V]: lse[n] = log Σ exp, logprob[n] = logits[n,target[n]] - lse,
// entropy[n] = -Σ p log p. target may be nullptr (then logprob is not written); logprob and
// entropy may be nullptr.
void softmax_stats(float* lse, float* logprob, float* entropy, const float* logits,
                   const int32_t* target, int64_t N, int64_t V);
// w[i] = exp(z[i]·scale - shift) for i < n (the vectorised exponential); returns Σ w[i].
float exp_weights(float* w, const float* z, int64_t n, float scale, float shift);
// In place: logits[N,V] becomes d(loss)/d(logits) for loss = Σ_n wlp[n]·logprob[n] +
// went[n]·entropy[n]. wlp / went may be nullptr (zero). Needs lse and entropy of the forward.
void softmax_backward_inplace(float* logits, const float* lse, const float* entropy,
                              const int32_t* target, const float* wlp, const float* went, int64_t N,
                              int64_t V);

// ---------------------------------------------------------------------------------------------
// Embedding: out[N,C] = table[tokens[n], :]. Backward: dtable[tokens[n], :] += dout[n, :].
void embedding_forward(float* out, const float* table, const int32_t* tokens, int64_t N, int64_t C);
void embedding_backward(float* dtable, const float* dout, const int32_t* tokens, int64_t N,
                        int64_t C);

// ---------------------------------------------------------------------------------------------
// Elementwise and reductions over n floats.
void add_inplace(float* y, const float* x, int64_t n);  // y += x
void scale_inplace(float* x, float a, int64_t n);       // x *= a
void copy(float* y, const float* x, int64_t n);         // y = x
void fill(float* x, float value, int64_t n);
double sum_squares(const float* x, int64_t n);  // Σ x², in double

// ---------------------------------------------------------------------------------------------
// AdamW (decoupled weight decay), PyTorch's formula:
//   g = grad·grad_scale; p -= lr·wd·p; m = b1·m + (1-b1)·g; v = b2·v + (1-b2)·g²;
//   p -= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps), with bc_i = 1 - b_i^step.
struct AdamWArgs {
  float lr, beta1, beta2, eps, weight_decay;
  float bias_corr1, bias_corr2;  // 1 - beta^step
  float grad_scale;              // e.g. the clipping factor
};
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, const AdamWArgs& a);

}  // namespace k1rl::ops
