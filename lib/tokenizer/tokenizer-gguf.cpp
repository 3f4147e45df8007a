// GGUF header reader (versions 2 and 3): magic, counts and the key/value metadata, which hold the
// tokenizer (tokenizer.ggml.*) and the model hyper-parameters. lib/convert reads the tensors.
#include <cstring>
#include <fstream>

#include "lib/tokenizer/tokenizer-impl.h"

namespace k1rl {
namespace {

enum GgufType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), f_(path, std::ios::binary) {
    if (!f_) throw IoError(path, "cannot be opened", "check the path and permissions");
  }
  void read(void* p, size_t n) {
    f_.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(f_.gcount()) != n)
      throw IoError(path_, "is truncated (GGUF header ends early)", "download the file again");
    pos_ += n;
  }
  template <class T>
  T get() {
    T v;
    read(&v, sizeof v);
    return v;
  }
  std::string str() {
    uint64_t n = get<uint64_t>();
    if (n > (1ull << 30))
      throw IoError(path_,
                    strfmt("has a GGUF string of %llu bytes at byte %llu", (unsigned long long)n,
                           (unsigned long long)pos_),
                    "the file is corrupt or not GGUF");
    std::string s(n, '\0');
    if (n) read(s.data(), n);
    return s;
  }
  uint64_t pos() const { return pos_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream f_;
  uint64_t pos_ = 0;
};

using Value = GgufMeta::Value;

// Reads one scalar of type t into v (kind and field by type).
void read_scalar(Reader& r, uint32_t t, Value& v) {
  switch (t) {
    case kU8:
      v.kind = Value::u;
      v.uval = r.get<uint8_t>();
      break;
    case kU16:
      v.kind = Value::u;
      v.uval = r.get<uint16_t>();
      break;
    case kU32:
      v.kind = Value::u;
      v.uval = r.get<uint32_t>();
      break;
    case kU64:
      v.kind = Value::u;
      v.uval = r.get<uint64_t>();
      break;
    case kI8:
      v.kind = Value::i;
      v.ival = r.get<int8_t>();
      break;
    case kI16:
      v.kind = Value::i;
      v.ival = r.get<int16_t>();
      break;
    case kI32:
      v.kind = Value::i;
      v.ival = r.get<int32_t>();
      break;
    case kI64:
      v.kind = Value::i;
      v.ival = r.get<int64_t>();
      break;
    case kF32:
      v.kind = Value::f;
      v.fval = r.get<float>();
      break;
    case kF64:
      v.kind = Value::f;
      v.fval = r.get<double>();
      break;
    case kBool:
      v.kind = Value::b;
      v.bval = r.get<uint8_t>() != 0;
      break;
    case kString:
      v.kind = Value::s;
      v.sval = r.str();
      break;
    default:
      throw IoError(
          r.path(),
          strfmt("has an unknown GGUF value type %u at byte %llu", t, (unsigned long long)r.pos()),
          "the file is corrupt or from a newer GGUF version");
  }
}

Value read_value(Reader& r, uint32_t t) {
  Value v;
  if (t != kArray) {
    read_scalar(r, t, v);
    return v;
  }
  v.kind = Value::arr;
  uint32_t et = r.get<uint32_t>();
  uint64_t n = r.get<uint64_t>();
  if (et == kArray || n > (1ull << 32))
    throw IoError(r.path(), "has a nested or oversized GGUF array", "the file is corrupt");
  Value e;
  for (uint64_t k = 0; k < n; ++k) {
    read_scalar(r, et, e);
    v.elem = e.kind;
    switch (e.kind) {
      case Value::s:
        v.strs.push_back(std::move(e.sval));
        break;
      case Value::f:
        v.floats.push_back(e.fval);
        break;
      case Value::u:
        v.ints.push_back(static_cast<int64_t>(e.uval));
        break;
      case Value::i:
        v.ints.push_back(e.ival);
        break;
      case Value::b:
        v.ints.push_back(e.bval);
        break;
      default:
        break;
    }
  }
  if (n == 0) v.elem = et == kString ? Value::s : (et == kF32 || et == kF64) ? Value::f : Value::i;
  return v;
}

}  // namespace

GgufMeta GgufMeta::read(const std::string& path) {
  Reader r(path);
  char magic[4];
  r.read(magic, 4);
  if (std::memcmp(magic, "GGUF", 4) != 0)
    throw IoError(path, "is not a GGUF file (no GGUF magic)", "pass a .gguf model file");
  GgufMeta m;
  m.path_ = path;
  m.version = r.get<uint32_t>();
  if (m.version < 2 || m.version > 3)
    throw IoError(path, strfmt("is GGUF version %u; this build reads versions 2 and 3", m.version),
                  "convert it with a recent llama.cpp");
  m.tensor_count = r.get<uint64_t>();
  uint64_t kv_count = r.get<uint64_t>();
  if (kv_count > (1u << 20) || m.tensor_count > (1u << 24))
    throw IoError(path, "has implausible GGUF counts", "the file is corrupt");
  for (uint64_t k = 0; k < kv_count; ++k) {
    std::string key = r.str();
    uint32_t t = r.get<uint32_t>();
    m.kv[key] = read_value(r, t);
  }
  m.tensor_info_offset = r.pos();
  if (m.has("general.alignment"))
    m.alignment = static_cast<uint32_t>(m.get_int("general.alignment"));
  if (m.alignment == 0 || (m.alignment & (m.alignment - 1)) != 0)
    throw IoError(path, strfmt("has GGUF alignment %u (not a power of two)", m.alignment),
                  "the file is corrupt");
  return m;
}

const GgufMeta::Value& GgufMeta::get(const std::string& key) const {
  auto it = kv.find(key);
  if (it == kv.end())
    throw IoError(path_, "has no GGUF metadata key '" + key + "'",
                  "the file was not made for this model family or is incomplete");
  return it->second;
}
std::string GgufMeta::get_string(const std::string& key) const {
  const Value& v = get(key);
  if (v.kind != Value::s) throw IoError(path_, "GGUF key '" + key + "' is not a string", "");
  return v.sval;
}
int64_t GgufMeta::get_int(const std::string& key) const {
  const Value& v = get(key);
  if (v.kind == Value::u) return static_cast<int64_t>(v.uval);
  if (v.kind == Value::i) return v.ival;
  if (v.kind == Value::b) return v.bval;
  throw IoError(path_, "GGUF key '" + key + "' is not an integer", "");
}
double GgufMeta::get_double(const std::string& key) const {
  const Value& v = get(key);
  if (v.kind == Value::f) return v.fval;
  return static_cast<double>(get_int(key));
}
int64_t GgufMeta::get_int(const std::string& key, int64_t def) const {
  return has(key) ? get_int(key) : def;
}
double GgufMeta::get_double(const std::string& key, double def) const {
  return has(key) ? get_double(key) : def;
}

}  // namespace k1rl
