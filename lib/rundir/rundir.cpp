// The run directory's names (see rundir.h). Iterations are zero-padded to six digits and ranks to
// four so that names sort in order in a listing; longer numbers still parse.
#include <cinttypes>
#include <cstdio>

#include "lib/rundir/rundir.h"

namespace k1rl {

RunDir::RunDir(std::string root) : root_(std::move(root)) {}
RunDir RunDir::from(const Config& cfg) {
  return RunDir(cfg.get_string("run.dir"));
}

std::string RunDir::config_ini() const {
  return root_ + "/config.ini";
}
std::string RunDir::metrics() const {
  return root_ + "/metrics.h5";
}
std::string RunDir::sampler() const {
  return root_ + "/sampler.h5";
}
std::string RunDir::eval() const {
  return root_ + "/eval.h5";
}
std::string RunDir::dpo_pairs() const {
  return root_ + "/dpo_pairs.h5";
}
std::string RunDir::shortest_rejection() const {
  return root_ + "/shortest_rejection.jsonl";
}
std::string RunDir::lock() const {
  return root_ + "/.lock";
}
std::string RunDir::ckpt_dir() const {
  return root_ + "/ckpt";
}
std::string RunDir::ckpt(int64_t iteration) const {
  return ckpt_dir() + "/" + ckpt_name(iteration);
}
std::string RunDir::ckpt_latest() const {
  return ckpt_dir() + "/latest";
}
std::string RunDir::buffer_dir() const {
  return root_ + "/buffer";
}
std::string RunDir::shard(int64_t iteration, int32_t rank) const {
  return buffer_dir() + "/" + shard_name(iteration, rank);
}

std::string RunDir::ckpt_name(int64_t iteration) {
  return strfmt("it_%06" PRId64 ".h5", iteration);
}

std::string RunDir::resolve_checkpoint(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return path;
  char buf[64];
  const size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  int64_t it = -1;
  if (n == sizeof buf || !parse_ckpt_name(std::string(buf, n), it)) return path;
  const size_t slash = path.rfind('/');
  return (slash == std::string::npos ? "" : path.substr(0, slash + 1)) + ckpt_name(it);
}

// Accepts what `latest` holds: the name, optionally followed by white space (the newline).
bool RunDir::parse_ckpt_name(const std::string& name, int64_t& iteration) {
  long long it = -1;
  int used = 0;
  if (std::sscanf(name.c_str(), "it_%lld.h5%n", &it, &used) != 1 || used == 0 || it < 0)
    return false;
  for (size_t i = static_cast<size_t>(used); i < name.size(); ++i)
    if (name[i] != '\n' && name[i] != ' ' && name[i] != '\r' && name[i] != '\t') return false;
  iteration = it;
  return true;
}

std::string RunDir::shard_name(int64_t iteration, int32_t rank) {
  return strfmt("it_%06" PRId64 ".r%04d.h5", iteration, rank);
}

bool RunDir::parse_shard_name(const std::string& name, int64_t& iteration, int32_t& rank) {
  long long it = 0;
  int r = 0, used = 0;
  if (std::sscanf(name.c_str(), "it_%lld.r%d.h5%n", &it, &r, &used) != 2 ||
      static_cast<size_t>(used) != name.size())
    return false;
  iteration = it;
  rank = r;
  return true;
}

}  // namespace k1rl
