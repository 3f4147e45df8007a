// GGUF model import: tensor infos after the metadata, dequantisation of F32/F16/BF16/Q8_0/Q4_0/Q4_1
// to float32, llama.cpp -> Hugging Face tensor names, and undoing the q/k row permutation that
// llama.cpp's converter applies to LLaMA models for its interleaved RoPE.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>

#include "lib/convert/convert-impl.h"

namespace k1rl::convert {
namespace {

// Half precision to float (handles subnormals, inf and NaN).
float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400) == 0);
      bits = sign | ((127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

struct Mapped {
  void* p = MAP_FAILED;
  size_t n = 0;
  ~Mapped() {
    if (p != MAP_FAILED) munmap(p, n);
  }
};

}  // namespace

float f16_to_f32(uint16_t h) {
  return half_to_float(h);
}
float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

const char* ggml_type_name(uint32_t t) {
  static const char* names[] = {
      "F32",     "F16",    "Q4_0",    "Q4_1",  "type 4", "type 5", "Q5_0",  "Q5_1",
      "Q8_0",    "Q8_1",   "Q2_K",    "Q3_K",  "Q4_K",   "Q5_K",   "Q6_K",  "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",  "IQ2_S", "IQ4_XS",
      "I8",      "I16",    "I32",     "I64",   "F64",    "IQ1_M",  "BF16"};
  static thread_local std::string other;
  if (t < sizeof names / sizeof names[0]) return names[t];
  other = strfmt("type %u", t);
  return other.c_str();
}

uint64_t GgufTensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

uint64_t ggml_row_bytes(uint32_t type, uint64_t n) {
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      return 4 * n;
    case GgmlType::F16:
    case GgmlType::BF16:
      return 2 * n;
    case GgmlType::Q8_0:
      return n / 32 * 34;
    case GgmlType::Q4_0:
      return n / 32 * 18;
    case GgmlType::Q4_1:
      return n / 32 * 20;
  }
  throw InputError(
      strfmt("GGUF tensor type %s", ggml_type_name(type)), "is not supported",
      "supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1; re-quantise the model to one of them");
}

void dequantize(uint32_t type, const uint8_t* src, uint64_t n, float* dst) {
  auto blocks = [&](uint64_t bs) {
    if (n % bs != 0)
      throw InputError(
          strfmt("a %s tensor of %llu values", ggml_type_name(type), (unsigned long long)n),
          strfmt("is not a whole number of %llu-value blocks", (unsigned long long)bs),
          "the file is corrupt");
    return n / bs;
  };
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::F32:
      std::memcpy(dst, src, 4 * n);
      return;
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = half_to_float(rd16(src + 2 * i));
      return;
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(rd16(src + 2 * i));
      return;
    case GgmlType::Q8_0:  // {f16 d; int8 q[32]}: x = d*q
      for (uint64_t b = 0, nb = blocks(32); b < nb; ++b) {
        const uint8_t* p = src + b * 34;
        float d = half_to_float(rd16(p));
        for (int j = 0; j < 32; ++j) dst[b * 32 + j] = d * static_cast<int8_t>(p[2 + j]);
      }
      return;
    case GgmlType::Q4_0:  // {f16 d; u8 q[16]}: low nibbles are values 0..15, high 16..31; x =
                          // d*(q-8)
      for (uint64_t b = 0, nb = blocks(32); b < nb; ++b) {
        const uint8_t* p = src + b * 18;
        float d = half_to_float(rd16(p));
        for (int j = 0; j < 16; ++j) {
          dst[b * 32 + j] = d * ((p[2 + j] & 0x0F) - 8);
          dst[b * 32 + j + 16] = d * ((p[2 + j] >> 4) - 8);
        }
      }
      return;
    case GgmlType::Q4_1:  // {f16 d; f16 m; u8 q[16]}: x = d*q + m
      for (uint64_t b = 0, nb = blocks(32); b < nb; ++b) {
        const uint8_t* p = src + b * 20;
        float d = half_to_float(rd16(p)), m = half_to_float(rd16(p + 2));
        for (int j = 0; j < 16; ++j) {
          dst[b * 32 + j] = d * (p[4 + j] & 0x0F) + m;
          dst[b * 32 + j + 16] = d * (p[4 + j] >> 4) + m;
        }
      }
      return;
  }
  ggml_row_bytes(type, n);  // throws naming the type
}

std::vector<GgufTensorInfo> read_gguf_tensor_infos(const GgufMeta& meta, uint64_t* data_offset) {
  std::ifstream f(meta.path(), std::ios::binary);
  if (!f) throw IoError(meta.path(), "cannot be opened", "check the path");
  f.seekg(static_cast<std::streamoff>(meta.tensor_info_offset));
  auto rd = [&](void* p, size_t n) {
    f.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(f.gcount()) != n)
      throw IoError(meta.path(), "is truncated (in the GGUF tensor infos)", "download it again");
  };
  std::vector<GgufTensorInfo> infos(meta.tensor_count);
  for (auto& t : infos) {
    uint64_t len;
    rd(&len, 8);
    if (len > 4096)
      throw IoError(meta.path(), "has an implausible GGUF tensor name", "corrupt file");
    t.name.resize(len);
    rd(t.name.data(), len);
    uint32_t nd;
    rd(&nd, 4);
    if (nd == 0 || nd > 4)
      throw IoError(meta.path(), "tensor " + t.name + " has " + std::to_string(nd) + " dimensions",
                    "corrupt file");
    t.ne.resize(nd);
    rd(t.ne.data(), 8 * nd);
    rd(&t.type, 4);
    rd(&t.offset, 8);
  }
  uint64_t end = static_cast<uint64_t>(f.tellg());
  uint64_t a = meta.alignment;
  *data_offset = (end + a - 1) / a * a;
  return infos;
}

std::string gguf_to_hf_name(const std::string& g) {
  static const std::map<std::string, std::string> top = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"}};
  static const std::map<std::string, std::string> block = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"}};
  if (auto it = top.find(g); it != top.end()) return it->second;
  static const std::regex blk(R"(blk\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(g, m, blk)) {
    if (auto it = block.find(m[2].str()); it != block.end())
      return "model.layers." + m[1].str() + "." + it->second;
    if (m[2].str() == "attn_rot_embd") return "";
  }
  return "?";  // unknown
}

// llama.cpp stores row (h, j, i) of a q/k weight where HF has row (h, i, j), i in {0, 1} picking
// the half of the head and j < head_dim/2 the pair: GGUF[h*hd + 2j + i] = HF[h*hd + i*hd/2 + j].
void unpermute_rope_rows(float* w, int64_t n_head, int64_t hd, int64_t cols) {
  std::vector<float> tmp(static_cast<size_t>(hd * cols));
  for (int64_t h = 0; h < n_head; ++h) {
    float* head = w + h * hd * cols;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < hd / 2; ++j)
        std::memcpy(&tmp[(i * hd / 2 + j) * cols], head + (2 * j + i) * cols, cols * sizeof(float));
    std::memcpy(head, tmp.data(), tmp.size() * sizeof(float));
  }
}

void permute_rope_rows(float* w, int64_t n_head, int64_t hd, int64_t cols) {
  std::vector<float> tmp(static_cast<size_t>(hd * cols));
  for (int64_t h = 0; h < n_head; ++h) {
    float* head = w + h * hd * cols;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < hd / 2; ++j)
        std::memcpy(&tmp[(2 * j + i) * cols], head + (i * hd / 2 + j) * cols, cols * sizeof(float));
    std::memcpy(head, tmp.data(), tmp.size() * sizeof(float));
  }
}

// GGUF stores these as float32: take the shortest decimal that gives the same float (1e-05, not
// 9.9999997473787516e-06), so configs can spell the value as people write it.
double shortest_float(double v) {
  const float f = static_cast<float>(v);
  for (int p = 1; p <= 9; ++p) {
    double d = std::strtod(strfmt("%.*g", p, static_cast<double>(f)).c_str(), nullptr);
    if (static_cast<float>(d) == f) return d;
  }
  return v;
}

ModelSpec spec_from_gguf(const GgufMeta& meta) {
  const std::string& where = meta.path();
  std::string arch = meta.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2")
    throw ConfigError(where, "has architecture '" + arch + "'",
                      "k1rl imports the LLaMA family: llama and qwen2");
  auto key = [&](const std::string& k) { return arch + "." + k; };
  ModelSpec s;
  s.arch = arch;
  s.dim = meta.get_int(key("embedding_length"));
  s.layers = meta.get_int(key("block_count"));
  s.heads = meta.get_int(key("attention.head_count"));
  s.kv_heads = meta.get_int(key("attention.head_count_kv"), s.heads);
  s.ffn_dim = meta.get_int(key("feed_forward_length"));
  s.rope_theta = shortest_float(meta.get_double(key("rope.freq_base"), 10000.0));
  s.norm_eps = shortest_float(meta.get_double(key("attention.layer_norm_rms_epsilon")));
  s.max_seq = meta.get_int(key("context_length"));
  s.vocab = meta.get_int(key("vocab_size"), 0);
  if (meta.has(key("rope.scaling.type")) && meta.get_string(key("rope.scaling.type")) != "none")
    throw ConfigError(where,
                      "uses RoPE scaling '" + meta.get_string(key("rope.scaling.type")) + "'",
                      "only plain RoPE is supported");
  if (s.heads > 0 && meta.get_int(key("rope.dimension_count"), s.dim / s.heads) != s.dim / s.heads)
    throw ConfigError(where, "rotates only part of each head (rope.dimension_count)",
                      "only full-head RoPE is supported");
  if (s.heads > 0 && meta.get_int(key("attention.key_length"), s.dim / s.heads) != s.dim / s.heads)
    throw ConfigError(where, "has a head size other than dim/heads", "not supported");
  return s;
}

ImportedModel import_gguf(const std::string& path) {
  GgufMeta meta = GgufMeta::read(path);
  ImportedModel m;
  m.spec = spec_from_gguf(meta);
  m.source = path;
  uint64_t data_off = 0;
  auto infos = read_gguf_tensor_infos(meta, &data_off);

  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) throw IoError(path, "cannot be opened", "check the path");
  struct stat st;
  fstat(fd, &st);
  Mapped map;
  map.n = static_cast<size_t>(st.st_size);
  map.p = mmap(nullptr, map.n, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map.p == MAP_FAILED) throw IoError(path, "cannot be mapped into memory", "check free memory");
  const auto* base = static_cast<const uint8_t*>(map.p);

  for (const auto& t : infos) {
    std::string hf = gguf_to_hf_name(t.name);
    if (hf.empty()) continue;
    if (t.name == "rope_freqs.weight" || hf == "?")
      throw InputError(path + ": tensor " + t.name,
                       "is not part of a plain " + m.spec.arch + " model",
                       "this architecture variant is not supported");
    uint64_t n = t.numel(), bytes = 0;
    try {
      bytes = ggml_row_bytes(t.type, n);
    } catch (const InputError& e) {
      throw InputError(
          path + ": tensor " + t.name,
          std::string("has type ") + ggml_type_name(t.type) + ", which k1rl does not read",
          e.hint());
    }
    if (data_off + t.offset + bytes > map.n)
      throw IoError(path, "is truncated (tensor " + t.name + " runs past the end)",
                    "download it again");
    Tensor x;
    x.name = hf;
    for (auto it = t.ne.rbegin(); it != t.ne.rend(); ++it)
      x.shape.push_back(static_cast<int64_t>(*it));
    x.data.resize(n);
    try {
      dequantize(t.type, base + data_off + t.offset, n, x.data.data());
    } catch (const InputError& e) {
      throw InputError(path + ": tensor " + t.name, e.what_part() + " " + e.why(), e.hint());
    }
    bool q = hf.find("q_proj.weight") != std::string::npos,
         k = hf.find("k_proj.weight") != std::string::npos;
    if (m.spec.arch == "llama" && (q || k) && x.shape.size() == 2)
      unpermute_rope_rows(x.data.data(), q ? m.spec.heads : m.spec.kv_heads, m.spec.head_dim(),
                          x.shape[1]);
    m.tensors.push_back(std::move(x));
  }
  m.spec.tie_embeddings = m.find("lm_head.weight") == nullptr;
  m.spec.qkv_bias = m.find("model.layers.0.self_attn.q_proj.bias") != nullptr;
  if (const Tensor* e = m.find("model.embed_tokens.weight"); e && e->shape.size() == 2)
    m.spec.vocab = e->shape[0];
  m.spec.validate(path);
  check_tensors(m.spec, m.tensors, path);
  m.tokenizer = make_bpe_tokenizer(bpe_spec_from_gguf(meta, path));
  if (m.tokenizer->vocab_size() > m.spec.vocab)
    throw InputError(path,
                     strfmt("has %d tokens for an embedding of %lld rows",
                            m.tokenizer->vocab_size(), (long long)m.spec.vocab),
                     "corrupt file");
  return m;
}

}  // namespace k1rl::convert
