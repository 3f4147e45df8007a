// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape,
// data_offsets}}, then the raw tensors. Reads F32/F16/BF16 into float32; writes F32 or BF16.
#include <cstdio>
#include <cstring>
#include <fstream>

#include "lib/convert/convert-impl.h"
#include "lib/io/io.h"

namespace k1rl::convert {

std::vector<Tensor> read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(path, "cannot be opened", "check the path");
  f.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  uint64_t hlen = 0;
  f.read(reinterpret_cast<char*>(&hlen), 8);
  if (!f || hlen > size - 8 || hlen > (1ull << 30))
    throw IoError(path, "is not a safetensors file (bad header length)", "check the file");
  std::string header(hlen, '\0');
  f.read(header.data(), static_cast<std::streamsize>(hlen));
  Json h = Json::parse(header, path + " (safetensors header)");
  const uint64_t base = 8 + hlen;
  std::vector<Tensor> out;
  std::vector<char> raw;
  for (const auto& [name, info] : h.members()) {
    if (name == "__metadata__") continue;
    Tensor t;
    t.name = name;
    for (const auto& d : info["shape"].items()) t.shape.push_back(d.as_int());
    const std::string& dtype = info["dtype"].as_string();
    uint64_t b0 = info["data_offsets"].at(0).as_int(), b1 = info["data_offsets"].at(1).as_int();
    size_t es = dtype == "F32" ? 4 : (dtype == "F16" || dtype == "BF16") ? 2 : 0;
    if (es == 0)
      throw InputError(path + ": tensor " + name, "has dtype " + dtype,
                       "supported: F32, F16, BF16");
    const uint64_t n = static_cast<uint64_t>(t.numel());
    if (b1 < b0 || b1 - b0 != n * es || base + b1 > size)
      throw IoError(path, "has bad data offsets for " + name + " (truncated?)",
                    "download it again");
    raw.resize(b1 - b0);
    f.seekg(static_cast<std::streamoff>(base + b0));
    f.read(raw.data(), static_cast<std::streamsize>(raw.size()));
    if (!f) throw IoError(path, "is truncated in " + name, "download it again");
    t.data.resize(n);
    if (es == 4) {
      std::memcpy(t.data.data(), raw.data(), n * 4);
    } else {
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, raw.data() + 2 * i, 2);
        t.data[i] = dtype == "F16" ? f16_to_f32(v) : bf16_to_f32(v);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<const Tensor*>& tensors,
                       const std::string& dtype,
                       const std::map<std::string, std::string>& metadata) {
  if (dtype != "F32" && dtype != "BF16")
    throw ConfigError("safetensors dtype " + dtype, "is not supported", "use F32 or BF16");
  const uint64_t es = dtype == "F32" ? 4 : 2;
  Json h = Json::make_object();
  if (!metadata.empty()) {
    Json md = Json::make_object();
    for (const auto& [k, v] : metadata) md.add(k, v);
    h.add("__metadata__", md);
  }
  uint64_t off = 0;
  for (const Tensor* t : tensors) {
    Json shape = Json::make_array(), offs = Json::make_array();
    for (int64_t d : t->shape) shape.push(d);
    uint64_t n = static_cast<uint64_t>(t->numel()) * es;
    offs.push(static_cast<int64_t>(off)).push(static_cast<int64_t>(off + n));
    Json e = Json::make_object();
    e.add("dtype", dtype).add("shape", shape).add("data_offsets", offs);
    h.add(t->name, e);
    off += n;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  const std::string tmp = io::temp_name(path);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw IoError(path, "cannot be written", "check the folder and free space");
    uint64_t hlen = header.size();
    f.write(reinterpret_cast<const char*>(&hlen), 8);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<uint16_t> buf;
    for (const Tensor* t : tensors) {
      if (es == 4) {
        f.write(reinterpret_cast<const char*>(t->data.data()),
                static_cast<std::streamsize>(t->data.size() * 4));
      } else {
        buf.resize(t->data.size());
        for (size_t i = 0; i < buf.size(); ++i) buf[i] = f32_to_bf16(t->data[i]);
        f.write(reinterpret_cast<const char*>(buf.data()),
                static_cast<std::streamsize>(buf.size() * 2));
      }
    }
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw IoError(path, "could not be written completely", "check free space");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path, "could not be renamed into place", "check the folder");
  }
}

}  // namespace k1rl::convert
