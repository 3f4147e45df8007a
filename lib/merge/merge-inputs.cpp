// The --in list of k1rl-merge and the checks that the inputs can be merged: same [model] config,
// same tokenizer, same parameter tensors. Refusals name both files and the first difference.
#include <cmath>
#include <cstdlib>

#include "lib/io/io.h"
#include "lib/merge/merge-impl.h"
#include "lib/model/model.h"

namespace k1rl::merge {

Method parse_method(const std::string& name) {
  if (name == "linear") return Method::linear;
  if (name == "slerp") return Method::slerp;
  throw ConfigError("unknown merge method '" + name + "'", "expected linear or slerp",
                    "use --method linear (weighted average) or --method slerp (two inputs, --t)");
}

const char* method_name(Method m) {
  return m == Method::linear ? "linear" : "slerp";
}

std::vector<MergeInput> parse_inputs(const std::string& list) {
  std::vector<MergeInput> in;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    MergeInput m;
    m.path = item;
    // "path:w": the suffix after the last ':' is a weight when it parses as a whole number.
    if (size_t colon = item.find_last_of(':'); colon != std::string::npos) {
      std::string w = item.substr(colon + 1);
      char* end = nullptr;
      double v = std::strtod(w.c_str(), &end);
      if (!w.empty() && end && *end == '\0') {
        if (!std::isfinite(v) || v < 0)
          throw ConfigError("bad merge weight '" + w + "' of " + item.substr(0, colon),
                            "a weight is a finite number >= 0",
                            "e.g. --in long.h5:0.7,short.h5:0.3");
        m.path = item.substr(0, colon);
        m.weight = v;
        m.weight_given = true;
      }
    }
    if (m.path.empty())
      throw ConfigError("bad --in list '" + list + "'", "it has an empty checkpoint path",
                        "give A.h5[:w],B.h5[:w],... without empty items");
    in.push_back(m);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return in;
}

// HDF5 keeps freed blocks on free lists and lets each file's metadata cache grow to 32 MiB (the
// chunk B-tree nodes of every dataset read stay cached), so memory would grow with the number of
// tensors and inputs. The merge bounds both: small free lists, and a metadata cache of 64 KiB
// per file (it visits each dataset once). Measured: docs/long2short.md.
void bound_free_lists() {
  K1RL_H5_CHECK(H5set_free_list_limits(1 << 20, 1 << 18, 1 << 20, 1 << 18, 1 << 20, 1 << 18));
}

void bound_file_cache(hid_t file) {
  H5AC_cache_config_t c{};
  c.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  K1RL_H5_CHECK(H5Fget_mdc_config(file, &c));
  c.set_initial_size = true;
  c.initial_size = 1 << 16;
  c.min_size = 1 << 15;
  c.max_size = 1 << 16;
  K1RL_H5_CHECK(H5Fset_mdc_config(file, &c));
}

InputFile::InputFile(const std::string& p) : path(p), reader(p, "checkpoint", 1) {
  bound_file_cache(reader.root());
  for (const auto& [k, v] : io::get_string_attrs(reader.root()))
    if (k.rfind("model.", 0) == 0) model[k.substr(6)] = v;
  model::ModelConfig::from_map(model, "checkpoint " + path);  // complete and readable
  if (!io::is_group(reader.root(), "params"))
    throw IoError("checkpoint " + path + " has no params/ group", "the file is incomplete",
                  "restore it or use an earlier checkpoint");
  for (const std::string& name : io::list_links(reader.root(), "params"))
    tensors[name] = io::dataset_dims(reader.root(), "params/" + name);
  if (io::has_link(reader.root(), "tokenizer")) {
    io::Hid g = io::open_group(reader.root(), "tokenizer");
    tokenizer["kind"] = io::get_attr_string(g, "kind");
    for (const std::string& f : io::list_links(g)) {
      auto bytes = io::read_dataset<uint8_t>(g, f);
      tokenizer["file " + f] = std::string(bytes.begin(), bytes.end());
    }
  } else {
    tokenizer["kind"] = "byte";  // load_tokenizer_h5: no group means the byte tokenizer
  }
}

namespace {
std::string dims_text(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(static_cast<unsigned long long>(d[i]));
  }
  return s + "]";
}

[[noreturn]] void refuse(const InputFile& a, const InputFile& b, const std::string& why,
                         const std::string& hint) {
  throw ConfigError("checkpoints " + a.path + " and " + b.path + " cannot be merged", why, hint);
}

void compare(const InputFile& a, const InputFile& b) {
  model::ConfigDiff d =
      model::config_diff(model::ModelConfig::from_map(a.model, "checkpoint " + a.path),
                         model::ModelConfig::from_map(b.model, "checkpoint " + b.path));
  if (!d.key.empty())
    refuse(a, b,
           "model." + d.key + " is " + d.a + " in " + a.path + " but " + d.b + " in " + b.path,
           "merge checkpoints of one architecture (the same [model] section)");
  if (a.tokenizer.at("kind") != b.tokenizer.at("kind"))
    refuse(a, b,
           "the tokenizer is " + a.tokenizer.at("kind") + " in " + a.path + " but " +
               b.tokenizer.at("kind") + " in " + b.path,
           "merge checkpoints that share a tokenizer");
  if (a.tokenizer != b.tokenizer)
    refuse(a, b, "their " + a.tokenizer.at("kind") + " tokenizers differ (vocabulary or files)",
           "merge checkpoints that share a tokenizer");
  for (const auto& [name, dims] : a.tensors) {
    auto it = b.tensors.find(name);
    if (it == b.tensors.end())
      refuse(a, b, "params/" + name + " is in " + a.path + " but not in " + b.path,
             "merge checkpoints of one architecture");
    if (it->second != dims)
      refuse(a, b,
             "params/" + name + " is " + dims_text(dims) + " in " + a.path + " but " +
                 dims_text(it->second) + " in " + b.path,
             "merge checkpoints of one architecture");
  }
  for (const auto& [name, dims] : b.tensors)
    if (!a.tensors.count(name))
      refuse(a, b, "params/" + name + " is in " + b.path + " but not in " + a.path,
             "merge checkpoints of one architecture");
}
}  // namespace

std::vector<std::unique_ptr<InputFile>> open_inputs(const std::vector<MergeInput>& inputs) {
  if (inputs.empty())
    throw ConfigError("nothing to merge", "no input checkpoint was given",
                      "give --in A.h5[:w],B.h5[:w],...");
  std::vector<std::unique_ptr<InputFile>> files;
  for (const auto& in : inputs) files.push_back(std::make_unique<InputFile>(in.path));
  for (size_t i = 1; i < files.size(); ++i) compare(*files[0], *files[i]);
  return files;
}

void check_compatible(const std::vector<MergeInput>& inputs) {
  open_inputs(inputs);
}

}  // namespace k1rl::merge
