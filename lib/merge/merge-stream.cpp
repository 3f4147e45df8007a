// The merge itself, one tensor at a time: every input stays open, tensor `name` is read from each
// into one scratch buffer and folded into a double accumulator (linear) or the two are slerped,
// the float result is written to the output, and the buffers are reused for the next tensor.
// Peak memory is about 16 bytes per element of the largest tensor, whatever the number of inputs.
#include <cmath>

#include "lib/io/io.h"
#include "lib/merge/merge-impl.h"

namespace k1rl::merge {

namespace {

std::string join_paths(const std::vector<MergeInput>& in) {
  std::string s;
  for (size_t i = 0; i < in.size(); ++i) {
    if (i) s += ',';
    s += in[i].path;
  }
  return s;
}

std::string join_numbers(const std::vector<double>& w) {
  std::string s;
  for (size_t i = 0; i < w.size(); ++i) {
    if (i) s += ',';
    s += strfmt("%.17g", w[i]);
  }
  return s;
}

std::vector<double> normalised_weights(const MergeSpec& spec) {
  std::vector<double> w;
  if (spec.method == Method::slerp) {
    if (spec.inputs.size() != 2)
      throw ConfigError("slerp merges two checkpoints",
                        strfmt("%zu were given", spec.inputs.size()),
                        "give --in A.h5,B.h5 with --t, or use --method linear");
    for (const auto& in : spec.inputs)
      if (in.weight_given)
        throw ConfigError("slerp takes no weights", in.path + " has one",
                          "drop the :w suffixes and set --t (0 = first input, 1 = second)");
    if (!(spec.t >= 0.0 && spec.t <= 1.0))
      throw ConfigError("bad --t", strfmt("%g is outside [0, 1]", spec.t),
                        "0 gives the first input, 1 the second");
    return {1.0 - spec.t, spec.t};
  }
  double sum = 0;
  for (const auto& in : spec.inputs) sum += in.weight;
  if (!(sum > 0))
    throw ConfigError("bad merge weights", "they sum to 0",
                      "give at least one checkpoint a positive weight");
  for (const auto& in : spec.inputs) w.push_back(in.weight / sum);
  return w;
}

uint64_t count_of(const std::vector<uint64_t>& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

void copy_tokenizer(hid_t from, hid_t to) {
  if (!io::has_link(from, "tokenizer")) return;  // the byte tokenizer is the absence of the group
  K1RL_H5_CHECK(H5Ocopy(from, "tokenizer", to, "tokenizer", H5P_DEFAULT, H5P_DEFAULT));
}

}  // namespace

bool slerp(const float* a, const float* b, int64_t n, double t, float* out) {
  double aa = 0, bb = 0, ab = 0;
  for (int64_t i = 0; i < n; ++i) {
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
    ab += static_cast<double>(a[i]) * b[i];
  }
  double ca = 1.0 - t, cb = t;
  bool linear = true;
  if (aa > 0 && bb > 0) {
    double cos = ab / std::sqrt(aa * bb);
    if (std::fabs(cos) <= 0.9995) {
      double omega = std::acos(cos), s = std::sin(omega);
      ca = std::sin((1.0 - t) * omega) / s;
      cb = std::sin(t * omega) / s;
      linear = false;
    }
  }
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(ca * a[i] + cb * b[i]);
  return linear;
}

MergeStats merge_checkpoints(const MergeSpec& spec, const std::string& out) {
  MergeStats st;
  st.weights = normalised_weights(spec);
  for (const auto& in : spec.inputs)
    if (in.path == out)
      throw ConfigError("--out " + out + " is also an input", "the merge would replace it",
                        "write the merged checkpoint under another name");
  bound_free_lists();
  std::vector<std::unique_ptr<InputFile>> files = open_inputs(spec.inputs);
  const InputFile& first = *files[0];

  if (size_t slash = out.find_last_of('/'); slash != std::string::npos && slash > 0)
    io::make_dirs(out.substr(0, slash));
  io::AtomicH5 f(out, "checkpoint/1");
  const hid_t root = f.root();
  for (const auto& [k, v] : first.model) io::set_attr(root, "model." + k, v);
  io::set_attr(root, "step", int64_t{0});
  io::set_attr(root, "iteration", int64_t{0});
  io::set_attr(root, "merge_method", std::string(method_name(spec.method)));
  io::set_attr(root, "merge_inputs", join_paths(spec.inputs));
  io::set_attr(root, "merge_weights", join_numbers(st.weights));
  if (spec.method == Method::slerp) io::set_attr(root, "merge_t", spec.t);
  copy_tokenizer(first.reader.root(), root);
  bound_file_cache(root);

  uint64_t largest = 0;
  for (const auto& [name, dims] : first.tensors) largest = std::max(largest, count_of(dims));
  std::vector<float> x(largest), y(spec.method == Method::slerp ? largest : 0), r(largest);
  std::vector<double> acc(spec.method == Method::linear ? largest : 0);
  st.largest_tensor = static_cast<int64_t>(largest);

  Progress progress("merge", static_cast<int64_t>(first.tensors.size()));
  for (const auto& [name, dims] : first.tensors) {
    const std::string ds = "params/" + name;
    const uint64_t n = count_of(dims);
    if (spec.method == Method::linear) {
      std::fill(acc.begin(), acc.begin() + static_cast<int64_t>(n), 0.0);
      for (size_t i = 0; i < files.size(); ++i) {
        io::read_dataset_into<float>(files[i]->reader.root(), ds, x.data(), n);
        const double w = st.weights[i];
        for (uint64_t e = 0; e < n; ++e) acc[e] = std::fma(w, static_cast<double>(x[e]), acc[e]);
      }
      for (uint64_t e = 0; e < n; ++e) r[e] = static_cast<float>(acc[e]);
    } else {
      io::read_dataset_into<float>(files[0]->reader.root(), ds, x.data(), n);
      io::read_dataset_into<float>(files[1]->reader.root(), ds, y.data(), n);
      st.slerp_linear_tensors +=
          slerp(x.data(), y.data(), static_cast<int64_t>(n), spec.t, r.data());
    }
    for (uint64_t e = 0; e < n; ++e)
      if (!std::isfinite(r[e]))
        throw NumericError("non-finite merged weight in " + name,
                           "an input holds NaN or Inf there (or overflowed)",
                           "check the input checkpoints");
    io::write_dataset<float>(root, ds, r.data(), dims);
    st.params += static_cast<int64_t>(n);
    ++st.tensors;
    H5garbage_collect();
    progress.update(st.tensors, name);
  }
  progress.finish();
  io::set_attr(root, "num_params", st.params);
  f.publish();
  return st;
}

}  // namespace k1rl::merge
