// Retention (docs/post-processing.md): after train publishes θ_L and ckpt/latest names it, the
// checkpoints and buffer shards that no resume needs are deleted, so a long run's ckpt/ and
// buffer/ stay bounded. What a resume from `latest` = L reads: ckpt/it_L.h5 and the shards of
// iteration L−1 (their pending answers continue in iteration L); shards of iterations >= L are in
// flight (a rollout may be writing them, and discard_untrained_shards removes them on resume).
// Weights reach a running rollout by broadcast, never from a file, so no older checkpoint is
// needed by anyone. Deciding from the names on disk after `latest` is published means a kill at
// any moment of the pruning leaves a run that resumes: nothing it reads is ever a candidate.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "lib/loop/loop.h"

namespace fs = std::filesystem;

namespace k1rl::loop {

void declare_retention_options(ConfigSpec& s) {
  s.add_int("run.keep_checkpoints", 3,
            "newest checkpoints kept in ckpt/, the one ckpt/latest names included (0: keep all); "
            "it_000000.h5, the policy RL started from, is always kept",
            Check().ge(0))
      .add_int("run.keep_every", 0,
               "also keep every M-th checkpoint for good (iteration % M == 0; 0: none)",
               Check().ge(0))
      .add_int("run.keep_shards_every", 10,
               "buffer shards of every K-th iteration are kept for k1rl-inspect and tools/plot.py "
               "(0: none, 1: all); the others go once trained and no resume needs them",
               Check().ge(0));
}

Retention Retention::from(const Config& cfg) {
  Retention r;
  r.keep_checkpoints = cfg.get_int_min("run.keep_checkpoints", 0);
  r.keep_every = cfg.get_int_min("run.keep_every", 0);
  r.keep_shards_every = cfg.get_int_min("run.keep_shards_every", 0);
  return r;
}

std::vector<int64_t> checkpoints_to_delete(std::vector<int64_t> present, int64_t latest,
                                           const Retention& r) {
  std::vector<int64_t> out;
  if (latest < 0 || r.keep_checkpoints == 0) return out;
  std::sort(present.begin(), present.end());
  // Newest first among those at or below latest (latest itself comes first: it exists). Newer
  // ones are orphans of a job killed between the checkpoint and `latest`: the resumed run
  // overwrites them, so they are left alone.
  int64_t kept = 0;
  for (auto it = present.rbegin(); it != present.rend(); ++it) {
    const int64_t i = *it;
    if (i > latest) continue;
    const bool newest = kept < r.keep_checkpoints;
    kept += newest;
    const bool forever = i == 0 || (r.keep_every > 0 && i % r.keep_every == 0);
    if (!newest && !forever) out.push_back(i);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> shard_iterations_to_delete(const std::vector<int64_t>& present, int64_t latest,
                                                const Retention& r) {
  std::set<int64_t> out;
  if (latest < 0 || r.keep_shards_every == 1) return {};
  for (int64_t i : present)
    if (i < latest - 1 && !(r.keep_shards_every > 0 && i % r.keep_shards_every == 0)) out.insert(i);
  return {out.begin(), out.end()};
}

namespace {
// Deletes one file; a file already gone is fine, any other failure only warns (cleanup must not
// end a run that trains well).
bool remove_quietly(const std::string& path) {
  if (std::remove(path.c_str()) == 0) return true;
  if (errno != ENOENT)
    K1RL_LOG_WARN("retention: cannot delete %s: %s", path.c_str(), std::strerror(errno));
  return false;
}
}  // namespace

int prune_run(const RunDir& run, const Retention& r) {
  const int64_t latest = train::latest_checkpoint(run);  // as a resume would read it
  if (latest < 0) return 0;
  std::vector<int64_t> ckpts;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run.ckpt_dir(), ec)) {
    int64_t it = 0;
    if (RunDir::parse_ckpt_name(e.path().filename().string(), it)) ckpts.push_back(it);
  }
  const std::vector<buffer::ShardRef> shards = buffer::list_shards(run.buffer_dir());
  std::vector<int64_t> shard_its;
  for (const auto& s : shards) shard_its.push_back(s.iteration);
  int n = 0;
  for (int64_t i : checkpoints_to_delete(ckpts, latest, r)) n += remove_quietly(run.ckpt(i));
  const std::vector<int64_t> drop = shard_iterations_to_delete(shard_its, latest, r);
  const std::set<int64_t> drop_set(drop.begin(), drop.end());
  for (const auto& s : shards)
    if (drop_set.count(s.iteration)) n += remove_quietly(s.path);
  if (n > 0)
    K1RL_LOG_DEBUG("retention: deleted %d file(s) no resume from %s needs", n,
                   RunDir::ckpt_name(latest).c_str());
  return n;
}

}  // namespace k1rl::loop
