// k1rl-merge: merges checkpoints of one model (long2short model merging, docs/long2short.md).
//   k1rl-merge --in long.h5:0.5,short.h5:0.5 --out merged.h5            (weighted average)
//   k1rl-merge --in long.h5,short.h5 --out merged.h5 --method slerp --t 0.3
// Streams tensor by tensor; the result starts k1rl-train (train.init_checkpoint), k1rl-eval and
// k1rl-convert export like any checkpoint.
#include <sys/resource.h>

#include "lib/app/app.h"
#include "lib/merge/merge.h"

namespace {

double parse_t(const std::string& s) {
  size_t used = 0;
  double t = 0;
  try {
    t = std::stod(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty())
    throw k1rl::ConfigError("bad --t '" + s + "'", "it is not a number",
                            "give a number in [0, 1], e.g. --t 0.5");
  return t;
}

int run(k1rl::AppContext& ctx) {
  using namespace k1rl;
  if (ctx.flag("in").empty() || ctx.flag("out").empty())
    throw ConfigError("k1rl-merge", "needs --in and --out",
                      "e.g. --in long.h5:0.5,short.h5:0.5 --out merged.h5 (see --help)");
  merge::MergeSpec spec;
  spec.inputs = merge::parse_inputs(ctx.flag("in"));
  spec.method = merge::parse_method(ctx.flag("method"));
  spec.t = parse_t(ctx.flag("t"));
  K1RL_LOG_INFO("merging %zu checkpoints (%s) into %s", spec.inputs.size(),
                merge::method_name(spec.method), ctx.flag("out").c_str());
  merge::MergeStats st = merge::merge_checkpoints(spec, ctx.flag("out"));
  std::string w;
  for (size_t i = 0; i < st.weights.size(); ++i)
    w += strfmt("%s%s:%.4g", i ? "," : "", spec.inputs[i].path.c_str(), st.weights[i]);
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  K1RL_LOG_INFO(
      "wrote %s: %lld tensors, %.2fM params, weights %s%s; peak RSS %.1f MiB",
      ctx.flag("out").c_str(), static_cast<long long>(st.tensors), st.params / 1e6, w.c_str(),
      spec.method == merge::Method::slerp ? strfmt(" (%lld tensors nearly parallel: linear)",
                                                   static_cast<long long>(st.slerp_linear_tensors))
                                                .c_str()
                                          : "",
      ru.ru_maxrss / 1024.0);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  k1rl::AppInfo info;
  info.name = "merge";
  info.summary = "merge checkpoints of one model: weighted average or slerp, tensor by tensor";
  info.flags = {
      {"in", "input checkpoints A.h5[:w],B.h5[:w],... (weight 1 when omitted; normalised)", ""},
      {"out", "the merged checkpoint (.h5), published atomically", ""},
      {"method", "linear (Σ w_i θ_i) or slerp (two inputs, --t)", "linear"},
      {"t", "slerp: 0 gives the first input, 1 the second", "0.5"},
  };
  return k1rl::app_main(argc, argv, info, run);
}
