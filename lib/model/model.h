// k1rl model: the LLaMA/Qwen2-family decoder (RMSNorm, RoPE, grouped-query attention with
// optional QKV bias, SwiGLU MLP, tied or untied LM head) over int32 token ids.
//  - training: forward over packed variable-length sequences -> per-token log-probabilities and
//    entropies; backward from any per-token weights d(loss)/d(logprob_t), d(loss)/d(entropy_t)
//    (so RL losses are computed outside the model); gradients accumulate until zero_grads();
//  - generation: batched prefill + decode with a KV cache and continuous batching (Generator);
//  - checkpoints in the checkpoint/1 format (parameters, AdamW state, step, RNG, config).
// Parameters live in one flat float buffer named tensor by tensor as in Hugging Face
// (model.layers.0.self_attn.q_proj.weight, ...). All maths goes through kernels/ops.h.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/buffer.h"
#include "lib/core/core.h"
#include "lib/optim/optim.h"

namespace k1rl::ops {
struct EngineInfo;
}

namespace k1rl::model {

// ---------------------------------------------------------------------------------------------
// The [engine] section (backend, precision): declared here, resolved once at start-up by
// engine_setup (app_main calls it), which throws ConfigError when the requested precision is
// impossible on this CPU. What it chose (bf16 and oneDNN's ISA, or why auto fell back to fp32)
// is logged once, by log_engine_choice when the first Model is built.
struct EngineConfig {
  std::string backend = "cpu";     // cpu (the only backend of this build)
  std::string precision = "auto";  // fp32 | bf16 | auto (bf16 where the CPU has it)
  static EngineConfig from(const Config& cfg);
};
const OptionTable<EngineConfig>& engine_options();  // [engine], bound to EngineConfig
void declare_engine_options(ConfigSpec& spec);
ops::EngineInfo engine_setup(const Config& cfg);
void log_engine_choice();  // engine_setup's line, once (Model's constructor calls it)

// ---------------------------------------------------------------------------------------------
// Configuration: the [model] section.
void declare_model_options(ConfigSpec& spec);

struct ModelConfig {
  int64_t vocab = 259;  // byte-level tokenizer: 256 bytes + <bos> <eos> <pad>
  int64_t dim = 64;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t ffn_dim = 176;  // 8·dim/3 rounded up to 16
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  int64_t max_seq = 512;
  bool tie_embeddings = true;
  bool qkv_bias = false;

  int64_t head_dim() const { return dim / heads; }
  static ModelConfig from_config(const Config& cfg);  // validated
  // The section as key -> text (the checkpoint's attributes) and back; from_map throws
  // IoError naming a missing or unreadable key.
  std::map<std::string, std::string> to_map() const;
  static ModelConfig from_map(const std::map<std::string, std::string>& kv,
                              const std::string& where);
  void validate() const;  // throws ConfigError naming the key
  bool operator==(const ModelConfig& o) const { return to_map() == o.to_map(); }
};
// The first key whose value differs ("" when equal), with both values as text.
struct ConfigDiff {
  std::string key, a, b;
};
ConfigDiff config_diff(const ModelConfig& a, const ModelConfig& b);
// The [model] options, each bound to its ModelConfig member (declared once, with its checks).
const OptionTable<ModelConfig>& model_options();

// ---------------------------------------------------------------------------------------------
// One parameter tensor inside the flat buffer.
struct TensorInfo {
  std::string name;            // Hugging Face name
  std::vector<int64_t> shape;  // row-major
  int64_t offset = 0, size = 0;
  bool decay = false;  // weight decay applies (matrices, not norms or biases)
};

// A batch of packed sequences for the training path. Sequence b holds tokens[cu[b] .. cu[b+1]).
// mask (optional, [N]): mask[i] != 0 asks for the log-probability of tokens[i] (given the
// tokens before it in its sequence); empty = every token except each sequence's first. The
// first token of a sequence never has a log-probability. Only masked positions pay for the LM
// head, so prompts are cheap.
struct Batch {
  std::vector<int32_t> tokens;
  std::vector<int32_t> cu;
  std::vector<uint8_t> mask;
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  void validate(const ModelConfig& cfg) const;  // throws InputError
};

struct ForwardOptions {
  bool all_logits = false;  // also keep logits at positions without a target (tests, eval)
  bool entropy = true;      // compute per-token entropies
  // The log-probs (and entropies) are those of softmax(logits / temperature): the RL trainer
  // passes the rollout's sampling temperature (docs/rl.md "Sampling and the loss"); backward
  // differentiates the same. logits() then returns the scaled logits.
  double temperature = 1.0;
};

// What the training forward returns, indexed by token i of the batch ([N] each); entries of
// tokens without a log-probability are 0.
struct TokenOutputs {
  std::vector<float> logprob;  // log p(tokens[i] | tokens before i)
  std::vector<float> entropy;  // entropy of that next-token distribution
  std::vector<uint8_t> valid;  // 1 where logprob/entropy were computed
};

struct CeResult {
  double nll_sum = 0;  // Σ -logprob over the masked tokens
  int64_t tokens = 0;  // how many
};

class KvCache;

// The float arrays of lib/model live in the backend's memory (kernels/buffer.h), each counted
// under its kind: activations and a step's scratch (sized once and reused; docs/engine.md,
// "Memory"), parameters, gradients.
using FloatBuffer = ops::Buffer<float, ops::Memory::activations>;

class Model {
 public:
  explicit Model(const ModelConfig& cfg);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return cfg_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo& tensor(const std::string& name) const;  // throws InputError
  std::vector<optim::ParamRange> param_ranges() const;      // for optim::AdamW
  int64_t num_params() const { return static_cast<int64_t>(params_.size()); }
  // Handing out the parameters for writing (optimizer step, checkpoint load, weight broadcast)
  // marks the backend's bf16 copy stale: it is converted again at the next product, and gives
  // the weights a new version.
  float* params();
  // Unique over all models of the process and every change of their weights (params(),
  // init_params()): two equal versions are the same weights. A Generator keeps the cache of an
  // open sequence for a later call only while this stays the same.
  uint64_t weights_version() const { return version_; }
  const float* params() const { return params_.data(); }
  // The gradient buffer is allocated (zero) on first use, so a model that only generates never
  // holds one.
  float* grads() { return grads_data(); }
  const float* grads() const { return grads_data(); }
  float* param(const std::string& name) { return params() + tensor(name).offset; }
  float* grad(const std::string& name) { return grads_data() + tensor(name).offset; }

  // Seeded initialisation as in Hugging Face LLaMA: N(0, 0.02) for every matrix and the
  // embedding, 1 for norm weights, 0 for biases; tensor t draws from Rng(seed, t).
  void init_params(uint64_t seed);
  void zero_grads();

  // -- training path --------------------------------------------------------------------------
  // Runs the batch and keeps the activations for backward(). The returned reference stays valid
  // until the next forward.
  const TokenOutputs& forward(const Batch& batch, const ForwardOptions& opt = {});
  // Accumulates into grads() the gradient of  L = Σ_i dlogprob[i]·logprob[i] +
  // dentropy[i]·entropy[i] for the last forward. Arrays are [N] indexed like TokenOutputs; entries
  // of tokens without a log-probability are ignored; dentropy may be nullptr. (The forward must
  // have computed entropies if dentropy is given.)
  void backward(const float* dlogprob, const float* dentropy = nullptr);
  // SFT: forward, then backward of weight·Σ(-logprob) over the masked tokens (e.g. weight =
  // 1/total masked tokens over all micro-batches of one update).
  CeResult cross_entropy_step(const Batch& batch, float weight);

  // Recomputation for training memory: a forward keeps each block's input only (not its nine
  // other activations, ~16x less for SmolLM2) and the LM head's [R, V] logits 256 rows at a time;
  // the backward computes them again (one more forward's products; results bit for bit the
  // same). Off by default; the trainer sets it from train.recompute.
  void set_recompute(bool on);
  bool recompute() const;

  // Logits of the last forward: rows [R, V] and the position each row was computed at
  // (row r predicts token logit_positions()[r] + 1). Throws InputError after a recomputing
  // forward unless it had all_logits.
  const float* logits() const;
  const std::vector<int32_t>& logit_positions() const;

  // -- inference path (used by Generator; exposed for tests) ----------------------------------
  // Appends new tokens of B sequences to their KV-cache slots and returns logits: sequence b
  // adds tokens[q_cu[b] .. q_cu[b+1]) at positions start[b], start[b]+1, ... of slot slots[b].
  // logits: [B, V] for each sequence's last new token, or [N, V] for every new token when
  // all_rows. Does not touch the training activations; thread-compatible per cache.
  void forward_cached(const int32_t* tokens, const int32_t* q_cu, int64_t B, const int32_t* slots,
                      const int32_t* start, KvCache& cache, float* logits,
                      bool all_rows = false) const;
  // Frees what generation keeps between calls: the memory of destroyed KV caches (and the open
  // sequences they kept) and the packed weights. The next cache and pack_weights allocate them
  // again. The local loop calls it between rollout and training, whose peaks would otherwise
  // add up (docs/engine.md, "Memory"). Not while a cache of this model is in use. keep_kv keeps
  // the pooled caches' keys, values and open sequences (for Generator::set_continue_stale) and
  // frees only their step buffers and the packed weights.
  void release_generation_memory(bool keep_kv = false);
  // Frees training's scratch (the activations of the last forward and the backward's buffers);
  // the next forward allocates it again. Gradients are kept. A backward needs a forward first.
  void release_training_memory();

 private:
  friend class KvCache;
  struct Impl;
  float* grads_data() const;
  static uint64_t new_version();
  ModelConfig cfg_;
  std::vector<TensorInfo> tensors_;
  ops::Buffer<float, ops::Memory::params> params_;
  uint64_t version_ = 0;
  mutable ops::Buffer<float, ops::Memory::grads> grads_;  // empty until grads_data()
  std::unique_ptr<Impl> impl_;
};

// Keys and values of up to `slots` sequences of up to `capacity` tokens each, for every layer,
// plus the scratch memory of forward_cached.
// Element type of the cached keys and values (ops::KvFormat): float32 (exact: a decode step
// gives the logits of the full forward); bf24, a float rounded to its top three bytes (3/4 of the
// memory traffic of a decode step, which at batch 64 is bound by reading the cache; relative
// error 2^-16, sampled log-probs off by ~2e-5); IEEE half (half the traffic; ~6.5e-4).
// docs/engine.md has the measurements.
enum class KvType { f32, f16, bf24 };
const char* kv_type_name(KvType t);
KvType kv_type_from_name(const std::string& name);  // "f32" "f16" "bf24"; throws ConfigError

class KvCache {
 public:
  KvCache(const ModelConfig& cfg, int64_t slots, int64_t capacity, KvType type = KvType::f32);
  // The same, with its memory (cache, step scratch) taken from the buffers that an earlier cache
  // of this model gave back when it was destroyed (grown only if too small), so that a
  // Generator made per iteration maps no new memory. The model must outlive the cache.
  KvCache(const Model& model, int64_t slots, int64_t capacity, KvType type = KvType::f32);
  ~KvCache();
  int64_t slots() const { return slots_; }
  int64_t capacity() const { return capacity_; }
  KvType type() const { return type_; }
  int64_t bytes() const;  // the cached keys and values of every layer (not the step scratch)
  // Keys and values of a layer (float, uint16_t or ops::Bf24 per type()) in the kernels' KV-cache
  // layout (ops::AttnShape::cache with capacity rounded up to 16): per slot and head, keys
  // transposed in tiles of 16 positions, values as [positions, D] rows.
  void* k(int64_t layer);
  void* v(int64_t layer);
  // Makes this cache's steps use the model's weight matrices in the layout of
  // ops::matmul_packed (decode steps: few rows) instead of sgemm. The packed copy belongs to the
  // model and is shared by all its caches; it is packed again only when the parameters were
  // handed out for writing (Model::params()) or the precision changed since; returns whether it
  // packed. A step never reads a stale copy (it falls back to sgemm). Generator::generate calls
  // it at every call.
  bool pack_weights(const Model& model);

 private:
  friend class Model;
  friend class Generator;
  struct Scratch;
  void size_cache(const ModelConfig& cfg);
  int64_t slots_, capacity_, stride_, layer_stride_;
  KvType type_;
  const Model* pool_ = nullptr;  // the model whose buffers this cache borrowed
  std::unique_ptr<Scratch> scratch_;
};

// ---------------------------------------------------------------------------------------------
// Generation.
struct SamplingParams {
  double temperature = 1.0;          // 0 = greedy
  double top_p = 1.0;                // nucleus: keep the smallest set of tokens with mass >= top_p
  int64_t top_k = 0;                 // keep the k most likely tokens; 0 = all
  std::vector<int32_t> stop_tokens;  // a sampled stop token ends the answer (and is kept)
  int64_t max_answer_tokens = 256;   // answer length limit (answer so far + new)
  // Repeat detection, checked after every token: an answer whose last tokens are one block of at
  // most repeat_max_period tokens repeated over at least repeat_min_tokens tokens ends there
  // (Finish::repeated). repeat_min_tokens = 0: off.
  int64_t repeat_max_period = 16;
  int64_t repeat_min_tokens = 0;
};

// One sequence to continue: prompt, the answer so far (empty for a fresh one; a parked partial
// rollout otherwise: prompt + answer are re-prefilled), and its random stream.
struct GenRequest {
  int64_t id = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> answer;
  uint64_t seed = 0;                // fresh stream Rng(seed) ...
  std::vector<uint64_t> rng_state;  // ... unless a saved state (4 words) is given
  int64_t max_new_tokens = -1;      // this call's cap for this sequence (segment); -1 = none
  // Nonzero: when this call returns the sequence open (segment, budget), its slot keeps its keys
  // and values, and a later call of a Generator on the same memory (the same Generator, or a
  // later one made from the model's pool with the same slots, capacity and KvType) with a request
  // of the same key continues from them instead of prefilling prompt + answer again, provided
  // the weights have not changed since (Model::weights_version; or regardless, with
  // Generator::set_continue_stale) and the cached tokens are a prefix of that request's prompt +
  // answer. Results equal a re-prefill's up to rounding (while the weights are unchanged).
  uint64_t key = 0;
  // A fill request takes a free slot only while some request without `fill` is still waiting
  // or running in this call: it fills the slots that the call's own work leaves free. When the
  // last of those retires, running fill requests return open (Finish::budget) and waiting ones
  // return open with no tokens. Give fill requests after the others.
  bool fill = false;
};

enum class Finish {
  stop,      // sampled a stop token
  length,    // reached max_answer_tokens or the model's max_seq
  segment,   // reached this call's max_new_tokens: still open, park it
  budget,    // the call's token budget ran out: still open (maybe with no new tokens)
  repeated,  // repeat detection saw the answer loop (SamplingParams::repeat_min_tokens)
};
const char* finish_name(Finish f);

struct GenResult {
  int64_t id = 0;
  std::vector<int32_t> tokens;        // new answer tokens of this call
  std::vector<float> logprobs;        // behaviour log-prob of each: the distribution actually
                                      // sampled (temperature, top-k, top-p); 0 when greedy
  std::vector<float> model_logprobs;  // log softmax(logits/T) untruncated (T = 1 when greedy):
                                      // what training recomputes at the same temperature
  Finish finish = Finish::budget;
  std::vector<uint64_t> rng_state;  // the stream's state after the last draw
  bool open() const { return finish == Finish::segment || finish == Finish::budget; }
};

// Where a Generator's time goes, per kind of op (Generator::set_profile): wall seconds summed
// over steps, timed on the team's first thread after each op. Every op ends at the team's
// barrier, so an op's time includes waiting for its slowest thread. `other` is the rest of a
// step (building the feed, bookkeeping, the team's start and end).
enum class StepOp : int {
  embed,
  norm,
  qkv,
  rope,
  attention,
  out_proj,
  gate_up,
  swiglu,
  down,
  head,
  sample,
  other,
  count
};
const char* step_op_name(StepOp op);
struct StepProfile {
  static constexpr int kOps = static_cast<int>(StepOp::count);
  int64_t steps = 0, rows = 0;  // steps timed, tokens they fed
  double seconds[kOps] = {};
  double& operator[](StepOp op) { return seconds[static_cast<int>(op)]; }
  double operator[](StepOp op) const { return seconds[static_cast<int>(op)]; }
  double total() const;
};

struct GenStats {
  int64_t steps = 0, prefill_tokens = 0, decode_tokens = 0;
  int64_t kept_tokens = 0;  // context tokens taken from a kept cache instead of prefilled
  int64_t packs = 0;        // times generate() packed the weights (they had changed)
  // With set_profile(true): steps in which some sequence joins (its whole context is fed) and
  // pure decode steps (one token per sequence), and the seconds spent packing weights.
  StepProfile prefill, decode;
  double pack_s = 0;
};

// Continuous batching: up to max_batch sequences run together; each step feeds every running
// sequence (its whole context when it joins, then one token); a finished sequence leaves and
// the next waiting request takes its slot. Results are independent of max_batch and of which
// requests share a step: each sequence samples only from its own logits with its own stream.
class Generator {
 public:
  // capacity: the longest sequence (prompt + answer) a result may have, at most (and by
  // default, -1) max_seq; an answer that reaches it ends at length.
  Generator(const Model& model, int64_t max_batch, int64_t capacity = -1, KvType kv = KvType::f32);
  // Results in the order of the requests. token_budget bounds the new tokens of this call over
  // all sequences (-1 = unbounded); when it runs out every unfinished sequence is returned open.
  std::vector<GenResult> generate(const std::vector<GenRequest>& requests,
                                  const SamplingParams& params, int64_t token_budget = -1);
  const GenStats& stats() const { return stats_; }
  int64_t max_batch() const { return max_batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t kv_bytes() const { return cache_.bytes(); }
  struct Resume {
    int32_t slot = -1;   // the slot holding this request's kept keys and values
    int64_t tokens = 0;  // how many of its prompt + answer tokens they cover
  };
  void reset_stats() { stats_ = GenStats(); }
  // Times every op of every step into stats() (costs two clock reads per op).
  void set_profile(bool on) { profile_ = on; }
  // On: a keyed request continues from its slot's kept keys and values even when the weights
  // changed since they were written (an in-flight policy update: the context is then seen
  // through the keys and values of the policy that wrote it). Off (default): only while the
  // weights are unchanged, so that results equal a re-prefill's.
  void set_continue_stale(bool on) { continue_stale_ = on; }

 private:
  std::vector<Resume> kept_slots(const std::vector<GenRequest>& requests, uint64_t version) const;
  const Model& model_;
  int64_t max_batch_, capacity_;
  KvCache cache_;
  GenStats stats_;
  bool profile_ = false, continue_stale_ = false;
};

// True when the last tokens of answer[0..n) are one block of at most max_period tokens repeated
// over at least min_tokens tokens (and at least twice). at(i) gives token i.
template <class At>
bool ends_in_loop(At at, int64_t n, int64_t max_period, int64_t min_tokens) {
  for (int64_t p = 1; p <= max_period && 2 * p <= n; ++p) {
    int64_t run = p;  // the final block itself
    for (int64_t i = n - 1 - p; i >= 0 && at(i) == at(i + p); --i) ++run;
    if (run >= min_tokens && run >= 2 * p) return true;
  }
  return false;
}

// Samples one token from logits[V] (not modified) with the given parameters; returns the token
// and writes the behaviour and model log-probabilities. Exposed for tests.
int32_t sample_token(const float* logits, int64_t V, const SamplingParams& p, Rng& rng,
                     float* behaviour_logprob, float* model_logprob);

// ---------------------------------------------------------------------------------------------
// Checkpoints (checkpoint/1): root attributes model.<key> (the [model] section as text), step,
// iteration, rng_state; params/<name> per tensor; optim/m/<name>, optim/v/<name>, optim/step.
struct TrainState {
  int64_t step = 0, iteration = 0;
  std::vector<uint64_t> rng_state;  // empty: none saved
};

// Writes atomically (temporary name + rename). opt may be nullptr (no optim group).
void save_checkpoint(const std::string& path, const Model& model, const optim::AdamW* opt,
                     const TrainState& state);
// Loads into a model built with the requested config; throws ConfigError naming the first key
// whose value differs, IoError for a missing, truncated, corrupt or foreign file. With opt
// given, the AdamW state is restored (or reset, with a warning, when the file has none).
TrainState load_checkpoint(const std::string& path, Model& model, optim::AdamW* opt);
ModelConfig read_checkpoint_config(const std::string& path);

}  // namespace k1rl::model
