// load_tokenizer picks the reader from the file's first bytes (GGUF magic, HDF5 signature, else
// JSON) or reads a Hugging Face folder; save/load_tokenizer_h5 keep a tokenizer in a checkpoint.
#include <sys/stat.h>

#include <fstream>

#include "lib/io/io.h"
#include "lib/tokenizer/tokenizer-impl.h"

namespace k1rl {
namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string first_bytes(const std::string& path, size_t n) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(path, "cannot be opened", "check the tokenizer path");
  std::string s(n, '\0');
  f.read(s.data(), static_cast<std::streamsize>(n));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

std::string dirname_of(const std::string& p) {
  size_t at = p.find_last_of('/');
  return at == std::string::npos ? "." : p.substr(0, at);
}

std::unique_ptr<Tokenizer> from_json_file(const std::string& json_path) {
  std::string cfg_path = dirname_of(json_path) + "/tokenizer_config.json";
  std::string cfg = io::file_exists(cfg_path) ? io::read_text(cfg_path) : "";
  return make_bpe_tokenizer(bpe_spec_from_hf(io::read_text(json_path), cfg, json_path));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  if (is_dir(path)) {
    std::string j = path + "/tokenizer.json";
    if (!io::file_exists(j))
      throw IoError(path, "is a folder without tokenizer.json",
                    "pass a Hugging Face model folder, a tokenizer.json or a .gguf file");
    return from_json_file(j);
  }
  std::string head = first_bytes(path, 8);
  if (head.compare(0, 4, "GGUF") == 0) {
    GgufMeta meta = GgufMeta::read(path);
    return make_bpe_tokenizer(bpe_spec_from_gguf(meta, path));
  }
  if (head.compare(0, 8, "\x89HDF\r\n\x1a\n") == 0) {
    io::H5Reader r(path, "checkpoint", 1);
    return load_tokenizer_h5(r.root(), path);
  }
  return from_json_file(path);
}

void save_tokenizer_h5(int64_t loc, const Tokenizer& tok) {
  io::Hid g = io::create_group(loc, "tokenizer");
  io::set_attr(g, "kind", tok.kind());
  if (tok.kind() == "byte") return;
  for (const auto& [file, text] : tok.to_hf_files()) {
    std::vector<uint8_t> bytes(text.begin(), text.end());
    io::write_dataset(g.get(), file, bytes);
  }
}

std::unique_ptr<Tokenizer> load_tokenizer_h5(int64_t loc, const std::string& name) {
  if (!io::has_link(loc, "tokenizer")) return make_byte_tokenizer();
  io::Hid g = io::open_group(loc, "tokenizer");
  std::string kind = io::get_attr_string(g, "kind");
  if (kind == "byte") return make_byte_tokenizer();
  if (kind != "bpe")
    throw IoError(name, "has a tokenizer of unknown kind '" + kind + "'",
                  "rewrite it with k1rl-convert");
  auto text = [&](const std::string& file) {
    if (!io::has_link(g, file)) return std::string();
    auto bytes = io::read_dataset<uint8_t>(g, file);
    return std::string(bytes.begin(), bytes.end());
  };
  std::string json = text("tokenizer.json");
  if (json.empty()) throw IoError(name, "has a bpe tokenizer without tokenizer.json", "");
  BpeSpec spec = bpe_spec_from_hf(json, text("tokenizer_config.json"), name + ":tokenizer");
  std::string map = text("special_tokens_map.json");
  if (!map.empty()) spec.hf_files["special_tokens_map.json"] = map;
  return make_bpe_tokenizer(std::move(spec));
}

}  // namespace k1rl
