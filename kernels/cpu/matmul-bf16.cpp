// The linear layers under Precision::bf16 on the CPU: inputs rounded to bf16 (nearest even),
// weights taken from the bf16 mirror of their buffer (converted once per weights_changed), the
// products run by oneDNN's matmul (AMX or AVX512-BF16, its choice) into float32, with float32
// accumulation. oneDNN runs on the same OpenMP threads as the other ops. The packed decode
// product (few rows) is our own vdpbf16ps kernel (vec-bf16.cpp) on bf16 panels.
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <unordered_map>

#include "kernels/cpu/bf16-impl.h"
#include "kernels/cpu/parallel.h"

namespace k1rl::ops {

void convert_to_bf16(uint16_t* dst, const float* src, int64_t n) {
  const bool vec = cpu::have_avx512_bf16();
  const int64_t chunk = 1 << 14;
  const int64_t parts = (n + chunk - 1) / chunk;
  // Its own region only outside any parallel region (the weight mirror converts under a lock).
#pragma omp parallel for schedule(static) if (parts > 4 && !omp_in_parallel())
  for (int64_t c = 0; c < parts; ++c) {
    const int64_t lo = c * chunk, len = n - lo < chunk ? n - lo : chunk;
    if (vec) {
      cpu::convert_bf16_avx512(dst + lo, src + lo, len);
    } else {
      for (int64_t i = lo; i < lo + len; ++i) dst[i] = bf16_from_float(src[i]);
    }
  }
}

namespace cpu {

MappedScratch::~MappedScratch() {
  if (p_) munmap(p_, bytes_);
}

void* MappedScratch::get(size_t bytes) {
  if (bytes <= bytes_ && p_) return p_;
  if (p_) munmap(p_, bytes_);
  p_ = nullptr;
  const size_t page = 4096, want = std::max(bytes + bytes / 2, page);
  bytes_ = (want + page - 1) / page * page;
  void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    bytes_ = 0;
    throw std::bad_alloc();
  }
  p_ = p;
  return p_;
}

namespace {

dnnl::engine& dnnl_engine() {
  static dnnl::engine eng = [] {
    dnnl::set_primitive_cache_capacity(0);
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return eng;
}

using Key =
    std::tuple<bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool>;
struct Prim {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

// oneDNN primitives by shape, the most recently used kBf16PrimitiveCapacity of them: creating one
// JIT-compiles it (~ms); a training step reuses ~10, but the rows of an RL micro-batch change
// with every step: unbounded, 2000 iterations of the tiny model held 1.6-2.0 GB (0.78 GB with
// 1024, at 1.48x the time there: its shapes outnumber the capacity; docs/engine.md). oneDNN's own
// cache is off (capacity 0) so that this one is the only bound.
struct PrimCache {
  std::mutex mu;
  std::list<std::pair<Key, std::shared_ptr<Prim>>> lru;  // most recent first
  std::map<Key, decltype(lru)::iterator> at;
  size_t made = 0;
};
PrimCache& prim_cache() {
  static PrimCache c;
  return c;
}

std::shared_ptr<Prim> make_prim(const Key& key) {
  const auto [ta, tb, M, N, K, lda, ldb, ldc, acc, bias] = key;
  using dt = dnnl::memory::data_type;
  using md = dnnl::memory::desc;
  const md a({M, K}, dt::bf16, ta ? dnnl::memory::dims{1, lda} : dnnl::memory::dims{lda, 1});
  const md b({K, N}, dt::bf16, tb ? dnnl::memory::dims{1, ldb} : dnnl::memory::dims{ldb, 1});
  const md c({M, N}, dt::f32, dnnl::memory::dims{ldc, 1});
  const md bmd = bias ? md({1, N}, dt::f32, dnnl::memory::dims{N, 1}) : md();
  dnnl::primitive_attr attr;
  // Our scratchpad, per calling thread: the threads of a team run products concurrently, and
  // oneDNN's own (library) scratchpad is shared between them in Debian's build.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (acc) {
    dnnl::post_ops po;
    po.append_sum(1.f);
    attr.set_post_ops(po);
  }
  auto p = std::make_shared<Prim>();
  p->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, bmd, c), attr, dnnl_engine());
  p->prim = dnnl::matmul(p->pd);
  return p;
}

std::shared_ptr<Prim> get_prim(const Key& key) {
  PrimCache& c = prim_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.at.find(key);
  if (it != c.at.end()) {
    c.lru.splice(c.lru.begin(), c.lru, it->second);
    return it->second->second;
  }
  c.lru.emplace_front(key, make_prim(key));
  ++c.made;
  c.at.emplace(key, c.lru.begin());
  if (c.lru.size() > kBf16PrimitiveCapacity) {
    c.at.erase(c.lru.back().first);
    c.lru.pop_back();
  }
  return c.lru.front().second;
}

void gemm_bf16_run(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const uint16_t* A,
                   int64_t lda, const uint16_t* B, int64_t ldb, bool acc, float* C, int64_t ldc,
                   const float* bias) {
  auto p = get_prim(Key{ta, tb, M, N, K, lda, ldb, ldc, acc, bias != nullptr});
  thread_local dnnl::stream stream(dnnl_engine());
  auto& eng = dnnl_engine();
  dnnl::memory ma(p->pd.src_desc(), eng, const_cast<uint16_t*>(A));
  dnnl::memory mb(p->pd.weights_desc(), eng, const_cast<uint16_t*>(B));
  dnnl::memory mc(p->pd.dst_desc(), eng, C);
  thread_local MappedScratch scratch;
  const dnnl::memory::desc sd = p->pd.scratchpad_desc();
  void* pad = scratch.get(std::max<size_t>(sd.get_size(), 1));
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, ma},
                                             {DNNL_ARG_WEIGHTS, mb},
                                             {DNNL_ARG_DST, mc},
                                             {DNNL_ARG_SCRATCHPAD, dnnl::memory(sd, eng, pad)}};
  if (bias)
    args.emplace(DNNL_ARG_BIAS, dnnl::memory(p->pd.bias_desc(), eng, const_cast<float*>(bias)));
  p->prim.execute(stream, args);
  stream.wait();
}

// The registered weight buffers and their bf16 mirrors; each weight range keeps the version of
// the buffer it was converted at.
struct Mirror {
  const float* base;
  int64_t n;
  uint64_t version = 1;
  std::vector<uint16_t> bf;
  std::map<int64_t, std::pair<int64_t, uint64_t>> stamp;  // offset -> (size, version)
};
std::mutex g_mirror_mu;
std::vector<std::unique_ptr<Mirror>>& mirrors() {
  static std::vector<std::unique_ptr<Mirror>> m;
  return m;
}

}  // namespace

void gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda,
               const uint16_t* B, int64_t ldb, bool accumulate, float* C, int64_t ldc,
               const float* bias) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  if (in_team()) {  // oneDNN opens its own regions: one thread of the team runs it
    team_single([&] { gemm_bf16_run(ta, tb, M, N, K, A, lda, B, ldb, accumulate, C, ldc, bias); });
    return;
  }
  gemm_bf16_run(ta, tb, M, N, K, A, lda, B, ldb, accumulate, C, ldc, bias);
}

size_t bf16_primitives_held() {
  PrimCache& c = prim_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.lru.size();
}

size_t bf16_primitives_made() {
  PrimCache& c = prim_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.made;
}

std::string bf16_probe_isa() {
  try {
    auto p = get_prim(Key{false, true, 64, 64, 64, 64, 64, 64, false, false});
    return p->pd.impl_info_str();
  } catch (const dnnl::error& e) {
    return std::string("none (") + e.what() + ")";
  }
}

const uint16_t* weight_bf16(const float* w, int64_t n, std::vector<uint16_t>& tmp) {
  {
    std::lock_guard<std::mutex> lock(g_mirror_mu);
    for (auto& m : mirrors()) {
      if (w < m->base || w + n > m->base + m->n) continue;
      const int64_t off = w - m->base;
      auto& st = m->stamp[off];
      if (st.first != n || st.second != m->version) {
        convert_to_bf16(m->bf.data() + off, w, n);
        st = {n, m->version};
      }
      return m->bf.data() + off;
    }
  }
  tmp.resize(static_cast<size_t>(n));
  convert_to_bf16(tmp.data(), w, n);
  return tmp.data();
}

}  // namespace cpu

void weights_register(const float* base, int64_t n) {
  std::lock_guard<std::mutex> lock(cpu::g_mirror_mu);
  auto m = std::make_unique<cpu::Mirror>();
  m->base = base;
  m->n = n;
  m->bf.resize(static_cast<size_t>(n));
  cpu::mirrors().push_back(std::move(m));
}

void weights_unregister(const float* base) {
  std::lock_guard<std::mutex> lock(cpu::g_mirror_mu);
  auto& v = cpu::mirrors();
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i]->base == base) {
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
}

void weights_changed(const float* base) {
  std::lock_guard<std::mutex> lock(cpu::g_mirror_mu);
  for (auto& m : cpu::mirrors())
    if (m->base == base) ++m->version;
}

namespace cpu {

namespace {

// Token rows of a product run in chunks of kRowChunk, the last one zero-padded to a multiple of
// kRowStep, so that a weight's products take at most kRowChunk / kRowStep + 1 oneDNN shapes per
// kind whatever the batch (RL micro-batches change their row count every step, and each new
// shape is a JIT compilation: docs/engine.md, "Memory").
constexpr int64_t kRowChunk = kBf16RowChunk, kRowStep = kBf16RowStep;

int64_t padded_rows(int64_t n) {
  return n <= kRowChunk ? (n + kRowStep - 1) / kRowStep * kRowStep
                        : (n / kRowChunk) * kRowChunk + padded_rows(n % kRowChunk);
}

// bf16(src[0, N·K)) into `dst`, rows N..Np zero; returns it.
const uint16_t* convert_rows_padded(MappedScratch& dst, const float* src, int64_t N, int64_t Np,
                                    int64_t K) {
  uint16_t* d = dst.get<uint16_t>(static_cast<size_t>(Np * K));
  convert_to_bf16(d, src, N * K);
  std::fill(d + N * K, d + Np * K, uint16_t{0});
  return d;
}

// C[N, cols] (row stride ldc; = or += per acc) A[Np, k]·op(B) (+ bias), A zero-padded past row
// N: whole chunks straight into C, a padded last chunk into a scratch whose first rows are then
// copied or added. oneDNN opens its own regions (one thread inside a team's).
void row_chunked(int64_t N, int64_t cols, int64_t k, const uint16_t* A, const uint16_t* B, bool tb,
                 int64_t ldb, bool acc, float* C, int64_t ldc, const float* bias) {
  for (int64_t r0 = 0; r0 < N; r0 += kRowChunk) {
    const int64_t rows = std::min(kRowChunk, N - r0), pad = padded_rows(rows);
    if (pad == rows) {
      gemm_bf16_run(false, tb, rows, cols, k, A + r0 * k, k, B, ldb, acc, C + r0 * ldc, ldc, bias);
      continue;
    }
    thread_local MappedScratch tail;
    float* t = tail.get<float>(static_cast<size_t>(pad * cols));
    gemm_bf16_run(false, tb, pad, cols, k, A + r0 * k, k, B, ldb, false, t, cols, bias);
#pragma omp parallel for schedule(static) if (rows * cols > (1 << 16) && !omp_in_parallel())
    for (int64_t i = 0; i < rows; ++i) {
      float* c = C + (r0 + i) * ldc;
      const float* ti = t + i * cols;
      if (acc)
        for (int64_t j = 0; j < cols; ++j) c[j] += ti[j];
      else
        std::copy_n(ti, cols, c);
    }
  }
}

}  // namespace

void matmul_forward_bf16(float* out, const float* in, const float* w, const float* bias, int64_t N,
                         int64_t K, int64_t M, bool accumulate) {
  if (N <= 0 || M <= 0 || K <= 0) return;
  thread_local std::vector<uint16_t> wtmp;
  thread_local MappedScratch xs;
  // Each thread of a team asks for the mirror: the first converts it (under the mirror's lock).
  const uint16_t* wb = weight_bf16(w, M * K, wtmp);
  // Inside a team (a prefill step) each thread takes a slab of outputs, in multiples of 64.
  const int T = in_team() ? loop_threads() : 1, r = in_team() ? team_rank() : 0;
  const int64_t slab = ((M + T - 1) / T + 63) / 64 * 64;
  const int64_t lo = std::min<int64_t>(M, r * slab), hi = std::min<int64_t>(M, lo + slab);
  const uint16_t* xb = convert_rows_padded(xs, in, N, padded_rows(N), K);
  // out[N,M] = X[N,K]·Wᵀ: W[M,K] read as a [K,M] matrix with strides (1, K).
  if (hi > lo)
    row_chunked(N, hi - lo, K, xb, wb + lo * K, true, K, accumulate, out + lo, M,
                bias ? bias + lo : nullptr);
  if (in_team()) team_sync();
}

void matmul_backward_bf16(float* din, float* dw, const float* dout, const float* in, const float* w,
                          int64_t N, int64_t K, int64_t M, bool accumulate_din) {
  if (N <= 0 || M <= 0 || K <= 0) return;
  team_single([&] {  // inside a team: its first thread, the others wait
    thread_local std::vector<uint16_t> wtmp;
    thread_local MappedScratch ds, xs;
    const int64_t Np = padded_rows(N);
    const uint16_t* db = convert_rows_padded(ds, dout, N, Np, M);
    if (din) {  // din[N,K] = dout[N,M]·W[M,K]
      const uint16_t* wb = weight_bf16(w, M * K, wtmp);
      row_chunked(N, K, M, db, wb, false, K, accumulate_din, din, K, nullptr);
    }
    if (dw) {  // dw[M,K] += doutᵀ[M,N]·in[N,K], summed over chunks of rows (padding adds zero)
      const uint16_t* xb = convert_rows_padded(xs, in, N, Np, K);
      for (int64_t r0 = 0; r0 < N; r0 += kRowChunk) {
        const int64_t rows = padded_rows(std::min(kRowChunk, N - r0));
        gemm_bf16_run(true, false, M, K, rows, db + r0 * M, M, xb + r0 * K, K, true, dw, K,
                      nullptr);
      }
    }
  });
}

// Panels of 32 outputs with k in pairs: element (m = 32p + c, k) at ((p·K2 + k/2)·32 + c)·2 + k%2,
// zero-padded to whole panels and an even K.
void pack_weights_bf16(uint16_t* packed, const float* w, int64_t M, int64_t K) {
  const int64_t panels = (M + 31) / 32, K2 = (K + 1) / 2;
  parallel_static(panels, M * K > (1 << 16), [&](int64_t p) {
    for (int64_t k = 0; k < 2 * K2; ++k)
      for (int64_t c = 0; c < 32; ++c) {
        const int64_t m = p * 32 + c;
        packed[((p * K2 + k / 2) * 32 + c) * 2 + k % 2] =
            m < M && k < K ? bf16_from_float(w[m * K + k]) : 0;
      }
  });
}

namespace {

// The scalar twin of gemm_packed_bf16_avx512 (float32 sums of the same bf16 products).
void gemm_packed_bf16_scalar(float* C, int64_t ldc, const uint16_t* X, int64_t ldx, int64_t N,
                             int64_t K2, const uint16_t* P, int64_t M, int64_t p0, int64_t p1,
                             const float* bias, bool acc) {
  for (int64_t p = p0; p < p1; ++p)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < 32 && p * 32 + c < M; ++c) {
        float s = 0;
        for (int64_t k = 0; k < 2 * K2; ++k)
          s += float_from_bf16(X[n * ldx + k]) *
               float_from_bf16(P[((p * K2 + k / 2) * 32 + c) * 2 + k % 2]);
        float* o = C + n * ldc + p * 32 + c;
        *o = (acc ? *o : 0.f) + s + (bias ? bias[p * 32 + c] : 0.f);
      }
}

}  // namespace

// As the float32 matmul_packed: tasks of (up to 128 rows) x (a chunk of panels), each converting
// its rows to bf16 into its own scratch first.
void matmul_packed_bf16(float* out, const float* in, const uint16_t* packed, const float* bias,
                        int64_t N, int64_t K, int64_t M, bool accumulate) {
  const int64_t panels = (M + 31) / 32, rows_per = 128, K2 = (K + 1) / 2;
  const int64_t row_blocks = (N + rows_per - 1) / rows_per;
  const int T = in_team() || !omp_in_parallel() ? loop_threads() : 1;
  const bool par = T > 1 && static_cast<double>(N) * M * K >= 2e5;
  int64_t per = panels;
  if (par && row_blocks < 4 * T) per = std::max<int64_t>(1, panels * row_blocks / (4 * T));
  const int64_t chunks = (panels + per - 1) / per;
  const bool vec = have_avx512_bf16();
  parallel_dynamic(row_blocks * chunks, 1, par, [&](int64_t t) {
    const int64_t r0 = (t / chunks) * rows_per, p0 = (t % chunks) * per;
    const int64_t rows = N - r0 < rows_per ? N - r0 : rows_per;
    const int64_t p1 = p0 + per < panels ? p0 + per : panels;
    thread_local std::vector<uint16_t> xb;
    const int64_t ldx = 2 * K2;
    xb.resize(static_cast<size_t>(rows * ldx));
    for (int64_t r = 0; r < rows; ++r) {
      if (vec)
        convert_bf16_avx512(xb.data() + r * ldx, in + (r0 + r) * K, K);
      else
        for (int64_t k = 0; k < K; ++k) xb[r * ldx + k] = bf16_from_float(in[(r0 + r) * K + k]);
      if (ldx > K) xb[r * ldx + K] = 0;
    }
    (vec ? gemm_packed_bf16_avx512 : gemm_packed_bf16_scalar)(
        out + r0 * M, M, xb.data(), ldx, rows, K2, packed, M, p0, p1, bias, accumulate);
  });
}

}  // namespace cpu
}  // namespace k1rl::ops
