// `k1rl-inspect ckpt`: a checkpoint's config and per-tensor norms; with a second checkpoint, the
// per-tensor relative change. Loading goes through lib/model, so shapes and checksums are checked.
#include <algorithm>
#include <cmath>

#include "lib/inspect/inspect-impl.h"
#include "lib/io/io.h"
#include "lib/model/model.h"

namespace k1rl::inspect {

namespace {

struct Loaded {
  std::string path;
  std::unique_ptr<model::Model> model;
  model::TrainState state;
  bool optim = false;
  std::string tokenizer;  // "byte" | "bpe (N ids)" | "" (none stored: the run's config says)
};

Loaded load(const std::string& given) {
  Loaded l;
  l.path = follow_latest(given);
  l.model = std::make_unique<model::Model>(model::read_checkpoint_config(l.path));
  l.state = model::load_checkpoint(l.path, *l.model, nullptr);
  io::H5Reader r(l.path, "checkpoint", 1);
  l.optim = io::has_link(r.root(), "optim");
  if (io::has_link(r.root(), "tokenizer")) {
    auto tok = load_tokenizer_h5(r.root(), l.path);
    l.tokenizer = tok->kind() + strfmt(" (%d ids)", tok->vocab_size());
  }
  return l;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(static_cast<long long>(shape[i]));
  return s + "]";
}

}  // namespace

void ckpt_report(const std::string& a_path, const std::string& b_path, std::ostream& out) {
  Loaded a = load(a_path);
  Loaded b;
  if (!b_path.empty()) {
    b = load(b_path);
    const model::ConfigDiff d = model::config_diff(a.model->config(), b.model->config());
    if (!d.key.empty())
      throw InputError(
          "cannot compare " + a.path + " with " + b.path,
          "model." + d.key + " is " + d.a + " in the first and " + d.b + " in the second",
          "compare checkpoints of the same model");
  }
  for (const Loaded* l : {&a, &b}) {
    if (!l->model) continue;
    out << strfmt(
        "%s: checkpoint/1, step %lld, iteration %lld, %lld parameters, %s, tokenizer %s\n",
        l->path.c_str(), static_cast<long long>(l->state.step),
        static_cast<long long>(l->state.iteration), static_cast<long long>(l->model->num_params()),
        l->optim ? "with AdamW state" : "no optimizer state",
        l->tokenizer.empty() ? "not stored (the run's [tokenizer] applies)" : l->tokenizer.c_str());
  }
  out << "model:";
  for (const auto& [k, v] : a.model->config().to_map()) out << " " << k << "=" << v;
  out << "\n\n";
  int w = 6;  // the name column fits the longest tensor name
  for (const auto& t : a.model->tensors()) w = std::max(w, static_cast<int>(t.name.size()));
  out << strfmt("%-*s %-14s %11s %11s %11s", w, "tensor", "shape", "norm", "rms", "max|x|");
  if (b.model) out << strfmt(" %11s %11s", "norm(B)", "|B-A|/|A|");
  out << "\n";
  double sa = 0, sb = 0, sd = 0;
  for (const auto& t : a.model->tensors()) {
    const float* x = a.model->params() + t.offset;
    const float* y = b.model ? b.model->params() + t.offset : nullptr;
    double ss = 0, mx = 0, ssb = 0, ssd = 0;
    for (int64_t i = 0; i < t.size; ++i) {
      const double v = x[i];
      ss += v * v;
      mx = std::max(mx, std::fabs(v));
      if (y) {
        ssb += static_cast<double>(y[i]) * y[i];
        ssd += (y[i] - v) * (y[i] - v);
      }
    }
    sa += ss, sb += ssb, sd += ssd;
    out << strfmt("%-*s %-14s %11.4g %11.4g %11.4g", w, t.name.c_str(), shape_text(t.shape).c_str(),
                  std::sqrt(ss), std::sqrt(ss / static_cast<double>(std::max<int64_t>(1, t.size))),
                  mx);
    if (y) out << strfmt(" %11.4g %11.4g", std::sqrt(ssb), ss > 0 ? std::sqrt(ssd / ss) : NAN);
    out << "\n";
  }
  out << strfmt("%-*s %-14s %11.4g %11s %11s", w, "(all)", "", std::sqrt(sa), "", "");
  if (b.model) out << strfmt(" %11.4g %11.4g", std::sqrt(sb), sa > 0 ? std::sqrt(sd / sa) : NAN);
  out << "\n";
}

}  // namespace k1rl::inspect
