// What a job does before its first iteration: it takes the run directory's lock (one job per
// run at a time), and when it resumes, removes the buffer shards of iterations the checkpoint has
// not trained on (the iteration in flight of a killed or stopped job), so the rerun of that
// iteration neither duplicates nor mixes trajectories.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "lib/loop/loop.h"

namespace k1rl::loop {

int discard_untrained_shards(const RunDir& run, int64_t from) {
  int n = 0;
  std::string names;
  for (const auto& ref : buffer::list_shards(run.buffer_dir())) {
    if (ref.iteration < from) continue;
    if (std::remove(ref.path.c_str()) != 0)
      throw IoError("cannot remove untrained shard " + ref.path, "remove failed",
                    "check the permissions of " + run.buffer_dir());
    names += (n++ ? ", " : "") + ref.path.substr(ref.path.find_last_of('/') + 1);
  }
  if (n > 0)
    K1RL_LOG_WARN(
        "removed %d buffer shard(s) of iterations >= %lld that no checkpoint has trained on "
        "(left by a stopped or killed job; the iteration runs again): %s",
        n, static_cast<long long>(from), names.c_str());
  return n;
}

RunLock::RunLock(const RunDir& run) {
  io::make_dirs(run.root());
  const std::string path = run.lock();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw IoError("cannot open " + path, std::strerror(errno),
                  "check the run directory's permissions");
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd_, F_SETLK, &fl) != 0) {
    const int err = errno;
    std::string holder(256, '\0');
    holder.resize(
        static_cast<size_t>(std::max<ssize_t>(0, ::pread(fd_, holder.data(), holder.size(), 0))));
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (err == EACCES || err == EAGAIN)
      throw ConfigError(
          "run directory " + run.root() + " is in use",
          "another k1rl-train holds " + path + (holder.empty() ? "" : " (" + holder + ")"),
          "wait for that job to end, or give this one another run.dir");
    throw IoError(
        "cannot lock " + path, std::strerror(err),
        "the filesystem may not support fcntl locks; mount it with locking (Lustre: flock)");
  }
  const char* job = std::getenv("SLURM_JOB_ID");
  const std::string me =
      strfmt("%s, pid %d%s\n", process_where().c_str(), static_cast<int>(::getpid()),
             job ? strfmt(", Slurm job %s", job).c_str() : "");
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) < 0)
    K1RL_LOG_WARN("cannot write the owner into %s", path.c_str());
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock; so does the end of the process
}

}  // namespace k1rl::loop
