// Checkpoints of imported models, written and read through lib/model's checkpoint/1 functions so
// the layout is the engine's own. The tokenizer is added as the tokenizer/ group before the file
// gets its final name: save_checkpoint publishes under a temporary name, we add the group, rename.
#include <cstdio>
#include <cstring>

#include "lib/convert/convert-impl.h"
#include "lib/io/io.h"
#include "lib/model/model.h"

namespace k1rl::convert {
namespace {

model::ModelConfig engine_config(const ModelSpec& s, const std::string& where) {
  model::ModelConfig cfg = model::ModelConfig::from_map(s.to_map(), where);
  cfg.validate();
  return cfg;
}

}  // namespace

void write_checkpoint(const ImportedModel& m, const std::string& path) {
  model::Model net(engine_config(m.spec, path));
  // The engine's tensor list must be exactly ours: same names, same sizes.
  if (net.tensors().size() != m.tensors.size())
    throw InputError("checkpoint " + path,
                     strfmt("the engine expects %zu tensors, the import has %zu",
                            net.tensors().size(), m.tensors.size()),
                     "lib/convert and lib/model disagree on the architecture; please report it");
  for (const auto& t : net.tensors()) {
    const Tensor* src = m.find(t.name);
    if (!src || src->numel() != t.size)
      throw InputError("checkpoint " + path,
                       "the engine's tensor " + t.name + " has no match in the import",
                       "lib/convert and lib/model disagree on the architecture; please report it");
    std::memcpy(net.params() + t.offset, src->data.data(), t.size * sizeof(float));
  }
  if (size_t slash = path.find_last_of('/'); slash != std::string::npos && slash > 0)
    io::make_dirs(path.substr(0, slash));
  const std::string tmp = io::temp_name(path);
  model::save_checkpoint(tmp, net, nullptr, model::TrainState{});
  try {
    io::h5_quiet();
    io::Hid f(K1RL_H5_CHECK(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)));
    try {
      save_tokenizer_h5(f.get(), *m.tokenizer);
      io::set_attr(f.get(), "source", m.source);
      K1RL_H5_CHECK(H5Fflush(f.get(), H5F_SCOPE_GLOBAL));
    } catch (...) {
      io::close_discarding(f);  // a plain close could fail too (full disk) and crash at exit
      throw;
    }
    K1RL_H5_CHECK(H5Fclose(f.release()));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw IoError(path, "could not be renamed into place", "check the folder");
  }
}

ImportedModel read_checkpoint(const std::string& path) {
  model::Model net(model::read_checkpoint_config(path));
  model::load_checkpoint(path, net, nullptr);
  ImportedModel m;
  m.source = path;
  m.spec = ModelSpec::from_map(net.config().to_map(), path);
  for (const auto& t : net.tensors()) {
    Tensor x;
    x.name = t.name;
    x.shape = t.shape;
    x.data.assign(net.params() + t.offset, net.params() + t.offset + t.size);
    m.tensors.push_back(std::move(x));
  }
  check_tensors(m.spec, m.tensors, path);
  io::H5Reader r(path, "checkpoint", 1);
  m.tokenizer = load_tokenizer_h5(r.root(), path);
  return m;
}

}  // namespace k1rl::convert
