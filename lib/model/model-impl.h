// Internal to lib/model: where each tensor sits in the flat parameter buffer, the activations
// the training forward keeps for the backward, and the scratch of the inference path.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <vector>

#include "kernels/ops.h"
#include "lib/model/model.h"

namespace k1rl::model {

// Offsets (in floats) into the flat buffer. q/k/v weights are adjacent, so one matmul with
// (H + 2·Hkv)·D outputs computes all three; likewise gate/up (2·F outputs) and the q/k/v biases.
struct LayerOffsets {
  int64_t ln1 = 0, wqkv = 0, bqkv = -1, wo = 0, ln2 = 0, wgu = 0, wdown = 0;
};
struct Layout {
  int64_t embed = 0, norm = 0, head = 0;  // head == embed when tied
  std::vector<LayerOffsets> layer;
};

// Builds the tensor table (names, shapes, offsets, decay flags) and the layout.
std::vector<TensorInfo> make_tensors(const ModelConfig& c, Layout* lay);

// Sizes a scratch array to n elements. When it must grow its contents are dropped (not copied)
// and it gets 1/8 headroom, so that slowly rising sizes do not reallocate step after step.
template <class Vec>
void size_scratch(Vec& v, int64_t n) {
  const size_t want = static_cast<size_t>(n);
  if (want > v.capacity()) {
    Vec().swap(v);
    v.reserve(want + want / 8);
  }
  v.resize(want);
}

// LM head rows per chunk under recomputation: [256, V] logits (50 MB at SmolLM2's 49k vocab)
// instead of [R, V].
constexpr int64_t kHeadChunk = 256;

// A cached step with at least this many rows (a prefill) runs its products as the training
// forward does instead of on the packed weights.
constexpr int64_t kPackedRowsMax = 128;

struct LayerActs {
  FloatBuffer x;      // [N, C] input of the block (residual stream)
  FloatBuffer ln1;    // [N, C]
  FloatBuffer rstd1;  // [N]
  FloatBuffer qkv;    // [N, (H + 2 Hkv) D], q and k rotated
  FloatBuffer att;    // [N, H D]
  FloatBuffer lse;    // [N, H]
  FloatBuffer xmid;   // [N, C] after the attention residual
  FloatBuffer ln2;    // [N, C]
  FloatBuffer rstd2;  // [N]
  FloatBuffer gu;     // [N, 2F] gate | up
  FloatBuffer h;      // [N, F] silu(gate)·up
};

// Everything a KV cache owns. Buffers only grow: a step reuses what the previous one sized, and
// a cache made from a model's pool reuses what an earlier cache of that model sized.
struct KvCache::Scratch {
  ops::Buffer<unsigned char, ops::Memory::kv_cache> k, v;  // elements of type()
  std::vector<int32_t> pos, kv_start, kv_len, last_rows;
  FloatBuffer x, ln, qkv, att, gu, h, xsel;
  FloatBuffer logits;                 // Generator's [B, V] logits of a step
  const Model* packed_for = nullptr;  // KvCache::pack_weights was called with this model
  StepProfile* profile = nullptr;     // where forward_cached adds its op times (when not null)
  // Open sequences whose keys and values a slot still holds (GenRequest::key), for a later
  // Generator call: the tokens at positions 0..tokens.size() and the weights that computed them
  // (the oldest, after a stale continuation).
  // Valid only for the layout they were written in: size_cache clears them when the slots,
  // capacity or element type change or the memory moves; forward_cached clears the slots it writes.
  struct Kept {
    uint64_t key = 0, version = 0;
    std::vector<int32_t> tokens;
  };
  std::vector<Kept> kept;                // [slots]
  std::array<int64_t, 3> kept_layout{};  // slots, stride, KvType of `kept`
};

// Weights packed for few-row products (ops::pack_weights), one copy per model that every cache
// of it shares: offsets into `data` keyed by the weight's offset in the flat parameter buffer;
// `version` is the model's weights_version() when packed (0: never), so a stale copy is never
// read (forward_cached falls back to sgemm).
struct PackedWeights {
  std::mutex mutex;  // held while packing
  ops::Buffer<float, ops::Memory::packed_weights> data;
  std::map<int64_t, int64_t> at;
  uint64_t version = 0;
  ops::Precision precision = ops::Precision::fp32;
};

struct Model::Impl {
  Layout lay;
  std::vector<float> rope_cos, rope_sin;  // [max_seq, D/2]
  // Training activations of the last forward.
  int64_t N = 0, B = 0;
  bool have_forward = false, have_entropy = false;
  float inv_temp = 1.f;  // 1/temperature of the last forward (its logits were scaled by it)
  std::vector<int32_t> tokens, cu, pos, lens;
  // Recomputation (Model::set_recompute): acts[l] holds x only, and `work` one block's
  // activations, computed again in the backward; the LM head runs head_chunk rows at a time.
  bool recompute = false;
  std::vector<LayerActs> acts;
  LayerActs work;
  FloatBuffer xlast;                // [N, C] output of the last block
  FloatBuffer xf, rstdf;            // final norm output [N, C], [N]
  std::vector<int32_t> rows;        // positions whose logits were computed
  std::vector<int32_t> row_target;  // token index each row predicts (-1: none)
  std::vector<int32_t> row_token;   // the token id it predicts (0 when none)
  FloatBuffer xsel;                 // [R, C] gathered final-norm rows (unused when rows = all)
  bool rows_all = false;            // rows are exactly 0..N-1
  int64_t head_chunk = 0;           // rows of `logits` (R unless recomputing)
  FloatBuffer logits;               // [head_chunk, V]
  std::vector<float> row_lse, row_lp, row_ent;  // [R]
  TokenOutputs out;
  // Backward scratch.
  FloatBuffer dx, dxf, dln, datt, dqkv, dh, dgu, dsel, wlp, went;
  // Memory of destroyed KV caches of this model, for the next one (KvCache(const Model&, ...)).
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<KvCache::Scratch>> pool;
  PackedWeights packed;
};

}  // namespace k1rl::model
