// Checkpoints in the checkpoint/1 format (DESIGN.md Formats): one HDF5 file written under a
// temporary name and renamed, Fletcher32 on every dataset, the [model] section as attributes so
// that loading with another config fails naming the key, and the AdamW moments mirrored by name.
#include <cmath>

#include "lib/io/io.h"
#include "lib/model/model.h"

namespace k1rl::model {

namespace {
constexpr const char* kFormat = "checkpoint/1";

std::vector<uint64_t> dims_of(const TensorInfo& t) {
  return {t.shape.begin(), t.shape.end()};
}

std::map<std::string, std::string> model_attrs(hid_t root) {
  std::map<std::string, std::string> kv;
  for (const auto& [k, v] : io::get_string_attrs(root))
    if (k.rfind("model.", 0) == 0) kv[k.substr(6)] = v;
  return kv;
}

void read_tensor(hid_t root, const std::string& path, const std::string& file, const TensorInfo& t,
                 float* out) {
  if (!io::has_link(root, path))
    throw IoError("checkpoint " + file + " lacks " + path, "the file is incomplete",
                  "restore it or use an earlier checkpoint");
  if (io::dataset_dims(root, path) != dims_of(t))
    throw IoError("checkpoint " + file + ": " + path + " has the wrong shape",
                  "it does not match the model config", "the file was written by another build");
  io::read_dataset_into<float>(root, path, out, static_cast<uint64_t>(t.size));
}
}  // namespace

void save_checkpoint(const std::string& path, const Model& model, const optim::AdamW* opt,
                     const TrainState& state) {
  if (opt && opt->size() != model.num_params())
    throw InputError("cannot save the optimizer state", "it does not belong to this model",
                     "this is a bug in the caller");
  io::AtomicH5 f(path, kFormat);
  const hid_t root = f.root();
  for (const auto& [k, v] : model.config().to_map()) io::set_attr(root, "model." + k, v);
  io::set_attr(root, "step", state.step);
  io::set_attr(root, "iteration", state.iteration);
  io::set_attr(root, "num_params", model.num_params());
  if (!state.rng_state.empty()) io::set_attr(root, "rng_state", state.rng_state);
  for (const auto& t : model.tensors())
    io::write_dataset<float>(root, "params/" + t.name, model.params() + t.offset, dims_of(t));
  if (opt) {
    for (const auto& t : model.tensors()) {
      io::write_dataset<float>(root, "optim/m/" + t.name, opt->m() + t.offset, dims_of(t));
      io::write_dataset<float>(root, "optim/v/" + t.name, opt->v() + t.offset, dims_of(t));
    }
    const int64_t step = opt->step_count();
    io::write_dataset<int64_t>(root, "optim/step", &step, {1});
  }
  f.publish();
}

ModelConfig read_checkpoint_config(const std::string& path) {
  io::H5Reader r(path, "checkpoint", 1);
  return ModelConfig::from_map(model_attrs(r.root()), "checkpoint " + path);
}

TrainState load_checkpoint(const std::string& path, Model& model, optim::AdamW* opt) {
  io::H5Reader r(path, "checkpoint", 1);
  const hid_t root = r.root();
  const ModelConfig have = ModelConfig::from_map(model_attrs(root), "checkpoint " + path);
  const ConfigDiff d = config_diff(model.config(), have);
  if (!d.key.empty())
    throw ConfigError(
        "checkpoint " + path + " does not match the model config",
        "model." + d.key + " is " + d.b + " in the checkpoint but " + d.a + " in the config",
        "set model." + d.key + " = " + d.b +
            " (or the whole [model] section of the run that wrote it)");
  for (const auto& t : model.tensors())
    read_tensor(root, "params/" + t.name, path, t, model.params() + t.offset);
  if (opt) {
    if (opt->size() != model.num_params())
      throw InputError("cannot load the optimizer state", "it does not belong to this model",
                       "this is a bug in the caller");
    if (io::has_link(root, "optim")) {
      for (const auto& t : model.tensors()) {
        read_tensor(root, "optim/m/" + t.name, path, t, opt->m() + t.offset);
        read_tensor(root, "optim/v/" + t.name, path, t, opt->v() + t.offset);
      }
      int64_t step = 0;
      io::read_dataset_into<int64_t>(root, "optim/step", &step, 1);
      opt->set_step_count(step);
    } else {
      K1RL_LOG_WARN("checkpoint %s has no optimizer state; AdamW starts afresh", path.c_str());
      opt->reset();
    }
  }
  TrainState st;
  st.step = io::get_attr_int(root, "step");
  st.iteration = io::get_attr_int(root, "iteration");
  if (io::has_attr(root, "rng_state")) st.rng_state = io::get_attr_u64s(root, "rng_state");
  return st;
}

}  // namespace k1rl::model
