// Causal grouped-query attention over packed variable-length sequences on the CPU. Training
// layout: one task per (sequence, key/value head); queries go four at a time through register
// tiles that share each load of keys and values; keys are tiled transposed per task (16
// positions per tile, see cpu-impl.h). The forward keeps only the log-sum-exp of each query row
// and the backward recomputes the probabilities from it (as flash attention does), so memory
// stays O(N). KV-cache layout (ops.h): one task per sequence, whose keys and values are each one
// contiguous block; decode rows stream them front to back (CacheKernels::attend_seq), in f32,
// IEEE half or bf24 (ops::KvFormat).
#include <cmath>
#include <vector>

#include "kernels/cpu/cpu-impl.h"
#include "kernels/cpu/parallel.h"

namespace k1rl::ops {
namespace {

using cpu::key_tiles;
using cpu::kKeyTile;
constexpr int64_t kTile = 4;  // query rows per tile

// Per-thread scratch, kept between calls: tiled keys/values [tiles·D·16], score and gradient
// tiles [kTile, L rounded up to 16], and the key/value gradient accumulators [L, D].
struct Scratch {
  std::vector<float> kt, vt, s, dp, dk, dv;
};
Scratch& scratch() {
  static thread_local Scratch sc;
  return sc;
}

// Rows src[j·ld + d] (j < L, d < D) into the tiled transposed layout, zero-padded to whole tiles.
void tile_keys(std::vector<float>& dst, const float* src, int64_t ld, int64_t L, int64_t D) {
  const int64_t tiles = key_tiles(L);
  dst.assign(tiles * D * kKeyTile, 0.f);
  for (int64_t j = 0; j < L; ++j) {
    float* t = dst.data() + (j / kKeyTile) * D * kKeyTile + j % kKeyTile;
    for (int64_t d = 0; d < D; ++d) t[d * kKeyTile] = src[j * ld + d];
  }
}

// Multiply-adds of one pass (scores or values), to skip threads for tiny problems.
int64_t attention_work(const AttnShape& sh) {
  int64_t w = 0;
  for (int64_t b = 0; b < sh.B; ++b) w += int64_t(sh.q_cu[b + 1] - sh.q_cu[b]) * sh.kv_len[b];
  return w * sh.H * sh.D;
}
constexpr int64_t kParallelWork = 1 << 15;

// Token i's key and value rows (Hkv·D floats at kn, vn) into slot `slot`, position `pos` of a
// cache of T; tmp is scratch for the converted key row.
template <class T>
void store_token(T* kcache, T* vcache, const float* kn, const float* vn, int64_t slot, int64_t pos,
                 int64_t Hkv, int64_t D, int64_t cache, std::vector<T>& tmp) {
  const auto& K = cpu::cache_kernels<T>(cpu::vec());
  tmp.resize(Hkv * D);
  K.convert(tmp.data(), kn, Hkv * D);
  for (int64_t h = 0; h < Hkv; ++h) {
    T* kd = kcache + kv_cache_key_index(slot, h, pos, 0, Hkv, D, cache);
    for (int64_t d = 0; d < D; ++d) kd[d * kKeyTile] = tmp[h * D + d];
    K.convert(vcache + kv_cache_value_index(slot, h, pos, 0, Hkv, D, cache), vn + h * D, D);
  }
}

// The new rows of a cached step (attention_cached): row n's key at k + n·ld, value at v + n·ld,
// stored into kcache, vcache.
struct NewRows {
  const float *k, *v;
  int64_t ld;
  void *kcache, *vcache;
  const RopeArgs* rope;  // when not null: rotate each new row's q and k in place first
  float *q, *kw;         // the same q and k, writable (rope only)
  int64_t ldq;
};

// Calls fn(T{}) with T the element type of fmt.
template <class Fn>
void with_format(KvFormat fmt, Fn&& fn) {
  switch (fmt) {
    case KvFormat::f32:
      return fn(float{});
    case KvFormat::f16:
      return fn(uint16_t{});
    case KvFormat::bf24:
      return fn(Bf24{});
  }
}

// The query heads of kv head hk for the nq query rows of sequence b: keys in tiles jb at
// kt + jb·tstride, values at v0 + j·ldv0 (training layout or cache, of T).
template <class T>
void attend_heads(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq,
                  const AttnShape& sh, int64_t b, int64_t hk, const T* kt, int64_t tstride,
                  const T* v0, int64_t ldv0) {
  const auto& V = cpu::vec();
  const auto& K = cpu::cache_kernels<T>(V);
  const int64_t H = sh.H, D = sh.D, G = H / sh.Hkv;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const int64_t q0 = sh.q_cu[b], nq = sh.q_cu[b + 1] - q0, L = sh.kv_len[b];
  const int64_t lds = key_tiles(L) * kKeyTile;
  Scratch& sc = scratch();
  sc.s.resize(kTile * lds);
  float* s = sc.s.data();
  for (int64_t g = 0; g < G; ++g) {
    const int64_t h = hk * G + g;
    for (int64_t i0 = 0; i0 < nq; i0 += kTile) {
      const int64_t m = nq - i0 < kTile ? nq - i0 : kTile;
      const int64_t nmax = L - nq + i0 + m;  // keys seen by the tile's last query
      K.scores_t(s, lds, q + (q0 + i0) * ldq + h * D, ldq, m, kt, D, tstride, nmax);
      float inv[kTile];
      for (int64_t r = 0; r < m; ++r) {
        const int64_t n = L - nq + i0 + r + 1;
        float* sr = s + r * lds;
        const float mx = V.max(sr, n) * scale;
        const float sum = V.exp_scaled(sr, n, scale, mx);
        for (int64_t j = n; j < nmax; ++j) sr[j] = 0.f;
        inv[r] = 1.f / sum;
        if (lse) lse[(q0 + i0 + r) * H + h] = mx + std::log(sum);
      }
      float* o = out + (q0 + i0) * ldo + h * D;
      K.gemv_rows(o, ldo, s, lds, m, v0, ldv0, nmax, D);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t d = 0; d < D; ++d) o[r * ldo + d] *= inv[r];
    }
  }
}

// KV cache of T: one task per sequence, whose keys and values are each one block. The step's
// new rows (fresh) are stored first, so they are still in the CPU's cache when read. A decode
// row (one query) walks both blocks in memory order; a longer feed goes kv head by kv head.
template <class T>
void attend_cache(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq, const T* kc,
                  const T* vc, const AttnShape& sh, const NewRows* fresh) {
  const int64_t H = sh.H, Hkv = sh.Hkv, D = sh.D, G = H / Hkv;
  const int64_t tstride = Hkv * D * kKeyTile, ldv0 = Hkv * D;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  const auto& K = cpu::cache_kernels<T>(cpu::vec());
  cpu::parallel_dynamic(sh.B, 1, attention_work(sh) > kParallelWork, [&](int64_t b) {
    const int64_t q0 = sh.q_cu[b], nq = sh.q_cu[b + 1] - q0, L = sh.kv_len[b];
    if (nq <= 0) return;
    if (fresh) {
      thread_local std::vector<T> tmp;
      if (const RopeArgs* r = fresh->rope)
        for (int64_t n = q0; n < q0 + nq; ++n) {
          const int64_t half = D / 2, p = r->pos[n];
          const float *c = r->cos_t + p * half, *s = r->sin_t + p * half;
          cpu::rope_row(fresh->q + n * fresh->ldq, H, D, c, s, 1.f);
          cpu::rope_row(fresh->kw + n * fresh->ld, Hkv, D, c, s, 1.f);
        }
      for (int64_t i = 0; i < nq; ++i)
        store_token(static_cast<T*>(fresh->kcache), static_cast<T*>(fresh->vcache),
                    fresh->k + (q0 + i) * fresh->ld, fresh->v + (q0 + i) * fresh->ld,
                    sh.kv_start[b], L - nq + i, Hkv, D, sh.cache, tmp);
    }
    const T* kb = kc + kv_cache_key_index(sh.kv_start[b], 0, 0, 0, Hkv, D, sh.cache);
    const T* vb = vc + kv_cache_value_index(sh.kv_start[b], 0, 0, 0, Hkv, D, sh.cache);
    if (nq == 1) {
      Scratch& sc = scratch();
      const int64_t lds = key_tiles(L) * kKeyTile;
      sc.s.resize(H * lds);
      K.attend_seq(out + q0 * ldo, lse ? lse + q0 * H : nullptr, q + q0 * ldq, H, G, D, kb, tstride,
                   vb, ldv0, L, scale, sc.s.data(), lds);
      return;
    }
    for (int64_t hk = 0; hk < Hkv; ++hk)
      attend_heads(out, ldo, lse, q, ldq, sh, b, hk, kb + hk * D * kKeyTile, tstride, vb + hk * D,
                   ldv0);
  });
}

}  // namespace

void kv_cache_store(void* kcache, void* vcache, const float* k, const float* v, int64_t ld,
                    const int32_t* slot, const int32_t* pos, int64_t N, int64_t Hkv, int64_t D,
                    int64_t cache, KvFormat fmt) {
  with_format(fmt, [&](auto t) {
    using T = decltype(t);
    cpu::parallel_static(N, N * Hkv * D > (1 << 15), [&](int64_t i) {
      thread_local std::vector<T> tmp;
      store_token(static_cast<T*>(kcache), static_cast<T*>(vcache), k + i * ld, v + i * ld, slot[i],
                  pos[i], Hkv, D, cache, tmp);
    });
  });
}

void attention_forward(float* out, int64_t ldo, float* lse, const float* q, int64_t ldq,
                       const float* k, int64_t ldk, const float* v, int64_t ldv,
                       const AttnShape& sh) {
  if (sh.cache > 0) {
    with_format(sh.cache_format, [&](auto t) {
      using T = decltype(t);
      attend_cache(out, ldo, lse, q, ldq, reinterpret_cast<const T*>(k),
                   reinterpret_cast<const T*>(v), sh, nullptr);
    });
    return;
  }
  // Training layout: one task per (sequence, kv head), keys tiled per task.
  const int64_t Hkv = sh.Hkv, D = sh.D;
  cpu::parallel_dynamic(sh.B * Hkv, 1, attention_work(sh) > kParallelWork, [&](int64_t task) {
    const int64_t b = task / Hkv, hk = task % Hkv, L = sh.kv_len[b];
    if (sh.q_cu[b + 1] <= sh.q_cu[b]) return;
    Scratch& sc = scratch();
    tile_keys(sc.kt, k + static_cast<int64_t>(sh.kv_start[b]) * ldk + hk * D, ldk, L, D);
    attend_heads(out, ldo, lse, q, ldq, sh, b, hk, sc.kt.data(), D * kKeyTile,
                 v + static_cast<int64_t>(sh.kv_start[b]) * ldv + hk * D, ldv);
  });
}

void attention_cached(float* out, int64_t ldo, float* q, int64_t ldq, float* k, const float* v,
                      int64_t ld, void* kcache, void* vcache, const AttnShape& sh,
                      const RopeArgs* rope) {
  const NewRows fresh{k, v, ld, kcache, vcache, rope, q, k, ldq};
  with_format(sh.cache_format, [&](auto t) {
    using T = decltype(t);
    attend_cache(out, ldo, nullptr, q, ldq, static_cast<const T*>(kcache),
                 static_cast<const T*>(vcache), sh, &fresh);
  });
}

// With P = softmax(scale·QKᵀ) and O = PV:  dV = Pᵀ dO;  dP = dO Vᵀ;
// dS = P ∘ (dP - rowsum(dO ∘ O));  dQ = scale·dS K;  dK = scale·dSᵀ Q.
void attention_backward(float* dq, int64_t lddq, float* dk, int64_t lddk, float* dv, int64_t lddv,
                        const float* dout, int64_t lddo, const float* out, int64_t ldo,
                        const float* lse, const float* q, int64_t ldq, const float* k, int64_t ldk,
                        const float* v, int64_t ldv, const AttnShape& sh) {
  const auto& V = cpu::vec();
  const int64_t B = sh.B, H = sh.H, Hkv = sh.Hkv, D = sh.D, G = H / Hkv;
  const float scale = 1.f / std::sqrt(static_cast<float>(D));
  cpu::parallel_dynamic(B * Hkv, 1, attention_work(sh) > kParallelWork, [&](int64_t task) {
    const int64_t b = task / Hkv, hk = task % Hkv;
    const int64_t q0 = sh.q_cu[b], nq = sh.q_cu[b + 1] - q0, L = sh.kv_len[b];
    const int64_t r0 = sh.kv_start[b];
    if (L <= 0) return;
    Scratch& sc = scratch();
    const float* k0 = k + r0 * ldk + hk * D;
    const float* v0 = v + r0 * ldv + hk * D;
    sc.dk.assign(L * D, 0.f);
    sc.dv.assign(L * D, 0.f);
    const int64_t lds = key_tiles(L) * kKeyTile;
    sc.s.resize(kTile * lds);
    sc.dp.resize(kTile * lds);
    tile_keys(sc.kt, k0, ldk, L, D);
    tile_keys(sc.vt, v0, ldv, L, D);
    float *s = sc.s.data(), *dp = sc.dp.data();
    for (int64_t g = 0; g < G; ++g) {
      const int64_t h = hk * G + g;
      for (int64_t i0 = 0; i0 < nq; i0 += kTile) {
        const int64_t m = nq - i0 < kTile ? nq - i0 : kTile;
        const int64_t nmax = L - nq + i0 + m;
        const int64_t row0 = q0 + i0;
        const float* qb = q + row0 * ldq + h * D;
        const float* dob = dout + row0 * lddo + h * D;
        V.f32.scores_t(s, lds, qb, ldq, m, sc.kt.data(), D, D * kKeyTile, nmax);     // S
        V.f32.scores_t(dp, lds, dob, lddo, m, sc.vt.data(), D, D * kKeyTile, nmax);  // dP = dO·Vᵀ
        for (int64_t r = 0; r < m; ++r) {
          const int64_t n = L - nq + i0 + r + 1;
          float *sr = s + r * lds, *dr = dp + r * lds;
          V.exp_scaled(sr, n, scale, lse[(row0 + r) * H + h]);  // P
          const float di = V.dot(dob + r * lddo, out + (row0 + r) * ldo + h * D, D);
          for (int64_t j = 0; j < n; ++j) dr[j] = sr[j] * (dr[j] - di) * scale;  // scaled dS
          for (int64_t j = n; j < nmax; ++j) sr[j] = dr[j] = 0.f;
        }
        V.f32.gemv_rows(dq + row0 * lddq + h * D, lddq, dp, lds, m, k0, ldk, nmax, D);
        V.rank_update(sc.dk.data(), dp, lds, qb, ldq, m, nmax, D);
        V.rank_update(sc.dv.data(), s, lds, dob, lddo, m, nmax, D);
      }
    }
    for (int64_t j = 0; j < L; ++j)
      for (int64_t d = 0; d < D; ++d) {
        dk[(r0 + j) * lddk + hk * D + d] = sc.dk[j * D + d];
        dv[(r0 + j) * lddv + hk * D + d] = sc.dv[j * D + d];
      }
  });
}

}  // namespace k1rl::ops
