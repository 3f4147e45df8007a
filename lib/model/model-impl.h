// Internal to lib/model: where each tensor sits in the flat parameter buffer, the activations
// the training forward keeps for the backward, and the scratch of the inference path.
#pragma once

#include <map>
#include <vector>

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

struct LayerActs {
  std::vector<float> x;      // [N, C] input of the block (residual stream)
  std::vector<float> ln1;    // [N, C]
  std::vector<float> rstd1;  // [N]
  std::vector<float> qkv;    // [N, (H + 2 Hkv) D], q and k rotated
  std::vector<float> att;    // [N, H D]
  std::vector<float> lse;    // [N, H]
  std::vector<float> xmid;   // [N, C] after the attention residual
  std::vector<float> ln2;    // [N, C]
  std::vector<float> rstd2;  // [N]
  std::vector<float> gu;     // [N, 2F] gate | up
  std::vector<float> h;      // [N, F] silu(gate)·up
};

struct Model::Impl {
  Layout lay;
  std::vector<float> rope_cos, rope_sin;  // [max_seq, D/2]
  // Training activations of the last forward.
  int64_t N = 0, B = 0;
  bool have_forward = false, have_entropy = false;
  float inv_temp = 1.f;  // 1/temperature of the last forward (its logits were scaled by it)
  std::vector<int32_t> tokens, cu, pos;
  std::vector<LayerActs> acts;
  std::vector<float> xlast;         // [N, C] output of the last block
  std::vector<float> xf, rstdf;     // final norm output [N, C], [N]
  std::vector<int32_t> rows;        // positions whose logits were computed
  std::vector<int32_t> row_target;  // token index each row predicts (-1: none)
  std::vector<int32_t> row_token;   // the token id it predicts (0 when none)
  std::vector<float> xsel;          // [R, C] gathered final-norm rows (unused when rows = all)
  bool rows_all = false;            // rows are exactly 0..N-1
  std::vector<float> logits;        // [R, V]
  std::vector<float> row_lse, row_lp, row_ent;  // [R]
  TokenOutputs out;
  // Backward scratch.
  std::vector<float> dx, dxf, dln, datt, dqkv, dh, dgu, dsel, wlp, went;
};

struct KvCache::Scratch {
  std::vector<int32_t> pos, kv_start, kv_len, last_rows;
  std::vector<float> x, ln, qkv, att, gu, h, xsel;
  // Weights packed for few-row products (ops::pack_weights), offsets into `packed` keyed by the
  // weight's offset in the flat parameter buffer; empty until KvCache::pack_weights.
  std::vector<float> packed;
  std::map<int64_t, int64_t> packed_at;
  const Model* packed_for = nullptr;
};

}  // namespace k1rl::model
