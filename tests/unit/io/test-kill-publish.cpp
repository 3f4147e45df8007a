// SIGKILL in the middle of publishing: the last published file stays readable and whole, and no
// half-written file ever appears under a published name.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/io/io.h"
#include "tests/unit/io/io-test-util.h"

using namespace k1rl;
using namespace k1rl::io;

namespace {
constexpr size_t kN = 300000;  // ~1.2 MB per file, so a kill often lands inside a write

[[noreturn]] void writer_loop(const std::string& path, int64_t first, int ready_fd) {
  std::vector<float> x(kN);
  for (int64_t i = first;; ++i) {
    std::fill(x.begin(), x.end(), static_cast<float>(i));
    AtomicH5 w(path, "checkpoint/1");
    set_attr(w.root(), "iteration", i);
    write_dataset(w.root(), "params/w", x.data(), {kN});
    set_attr(w.root(), "complete", int64_t{1});
    w.publish();
    if (ready_fd >= 0) {
      char c = 1;
      (void)!write(ready_fd, &c, 1);
      close(ready_fd);
      ready_fd = -1;
    }
  }
}

// Returns the iteration held by the published file, checking it is whole.
int64_t check_published(const std::string& path) {
  H5Reader r(path, "checkpoint", 1);
  int64_t it = get_attr_int(r.root(), "iteration");
  EXPECT_EQ(get_attr_int(r.root(), "complete"), 1);
  auto x = read_dataset<float>(r.root(), "params/w");
  EXPECT_EQ(x.size(), kN);
  for (float v : x)
    if (v != static_cast<float>(it)) {
      ADD_FAILURE() << "published file mixes iterations: " << v << " vs " << it;
      break;
    }
  return it;
}
}  // namespace

TEST(KillDuringPublish, LastPublishedFileSurvivesEveryKill) {
  std::string dir = fresh_dir("kill");
  std::string path = dir + "/ckpt.h5";
  int64_t last = 0;
  unsigned seed = 12345;
  int kills_during_write = 0;
  for (int round = 0; round < 25; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      writer_loop(path, last + 1, round == 0 ? fds[1] : -1);
    }
    close(fds[1]);
    if (round == 0) {  // wait for the first publish so that a published file exists
      char c;
      ASSERT_EQ(read(fds[0], &c, 1), 1);
    }
    close(fds[0]);
    usleep(1000 + rand_r(&seed) % 30000);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    for (const auto& name : dir_names(dir)) {
      if (is_temp_name(name))
        ++kills_during_write;
      else
        EXPECT_EQ(name, "ckpt.h5") << "unexpected file under a published name";
    }
    int64_t it = check_published(path);
    EXPECT_GE(it, last) << "published iteration went backwards";
    last = it;
    remove_stale_temps(dir);
  }
  EXPECT_GT(last, 1);                // the writer made progress between kills
  EXPECT_GT(kills_during_write, 0);  // and some kills did land inside a write
}
