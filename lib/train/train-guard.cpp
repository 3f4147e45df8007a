// What keeps a run's checkpoints trustworthy: nothing non-finite is published (check_finite
// before every save), and a resume falls back from a corrupt, truncated or poisoned checkpoint
// named by `latest` to the newest older intact one instead of stopping the run.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "lib/train/train.h"

namespace k1rl::train {

namespace {
// The first non-finite value of each tensor's slice of `data`: "<tensor>[<index>] = <value>".
std::string first_non_finite(const model::Model& model, const float* data, const char* kind) {
  for (const auto& t : model.tensors())
    for (int64_t i = 0; i < t.size; ++i)
      if (!std::isfinite(data[t.offset + i]))
        return strfmt("%s%s[%lld] = %g", kind, t.name.c_str(), static_cast<long long>(i),
                      static_cast<double>(data[t.offset + i]));
  return "";
}

// The checkpoints in ckpt/ at or below `newest`, newest first.
std::vector<int64_t> checkpoints_down_from(const RunDir& run, int64_t newest) {
  std::vector<int64_t> its;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(run.ckpt_dir(), ec)) {
    int64_t it = -1;
    if (RunDir::parse_ckpt_name(e.path().filename().string(), it) && (newest < 0 || it <= newest))
      its.push_back(it);
  }
  std::sort(its.rbegin(), its.rend());
  return its;
}
}  // namespace

void check_finite(const model::Model& model, const optim::AdamW* opt, const std::string& what) {
  std::string bad = first_non_finite(model, model.params(), "");
  if (bad.empty() && opt) bad = first_non_finite(model, opt->m(), "AdamW m of ");
  if (bad.empty() && opt) bad = first_non_finite(model, opt->v(), "AdamW v of ");
  if (!bad.empty())
    throw NumericError("refusing to publish " + what, "the state is not finite: " + bad,
                       "the last update diverged: lower train.rl_lr (or optim.lr), check the "
                       "data; ckpt/latest still names the last finite checkpoint");
}

int64_t Trainer::resume(const RunDir& run) {
  int64_t named = -1;
  std::string pointer_problem;
  try {
    named = latest_checkpoint(run);
  } catch (const IoError& e) {
    pointer_problem = e.line();  // a garbled or dangling pointer: fall back like a bad file
  }
  if (named < 0 && pointer_problem.empty()) return -1;
  const std::vector<int64_t> candidates = checkpoints_down_from(run, named);
  if (!pointer_problem.empty())
    K1RL_LOG_WARN("%s; looking for the newest intact checkpoint", pointer_problem.c_str());
  std::string tried;
  for (int64_t it : candidates) {
    const std::string path = run.ckpt(it);
    try {
      load(path);
      check_finite(*model_, opt_.get(), path);
    } catch (const ConfigError&) {
      throw;  // another model config: falling back would not help
    } catch (const Error& e) {
      K1RL_LOG_WARN("checkpoint %s is unusable (%s); falling back to an older one", path.c_str(),
                    e.line().c_str());
      tried += (tried.empty() ? "" : ", ") + RunDir::ckpt_name(it);
      continue;
    }
    if (it != named) {
      K1RL_LOG_WARN("resuming from %s instead of the checkpoint latest named%s", path.c_str(),
                    rank_ == 0 ? "; latest now names it" : "");
      if (rank_ == 0) io::publish_text(run.ckpt_latest(), RunDir::ckpt_name(it) + "\n");
    }
    return it;
  }
  throw IoError("no intact checkpoint in " + run.ckpt_dir(),
                tried.empty() ? pointer_problem : "every one failed to load: " + tried,
                "restore a checkpoint from a backup, or delete " + run.ckpt_dir() +
                    " (and the buffer) to start the run afresh");
}

}  // namespace k1rl::train
