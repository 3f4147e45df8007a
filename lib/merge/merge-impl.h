// Internals of lib/merge: an open input checkpoint with what the compatibility checks compare.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/io/io.h"
#include "lib/merge/merge.h"

namespace k1rl::merge {

struct InputFile {
  explicit InputFile(const std::string& path);  // opens and reads the metadata (not the tensors)
  std::string path;
  io::H5Reader reader;
  std::map<std::string, std::string> model;              // the [model] attributes
  std::map<std::string, std::vector<uint64_t>> tensors;  // params/<name> -> dims
  std::map<std::string, std::string> tokenizer;          // kind and each stored file's bytes
};

// Bounds HDF5's free lists (process-wide) and one open file's metadata cache.
void bound_free_lists();
void bound_file_cache(hid_t file);

// Opens every input and checks it against the first; throws ConfigError naming both files.
std::vector<std::unique_ptr<InputFile>> open_inputs(const std::vector<MergeInput>& inputs);

}  // namespace k1rl::merge
