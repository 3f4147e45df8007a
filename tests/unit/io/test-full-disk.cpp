// A disk that fills up in the middle of a write: the writer throws an IoError, leaves no temporary
// file, and HDF5 can still shut down (libhdf5 1.10 segfaulted in H5close, run by MPI_Finalize, on
// the file id whose H5Fclose had failed). Each case runs in a forked child that ends with H5close.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <functional>

#include "lib/io/io.h"
#include "tests/unit/io/io-test-util.h"

using namespace k1rl;
using namespace k1rl::io;

namespace {

constexpr int kThrew = 2, kNoThrow = 3, kTempLeft = 4, kOtherThrow = 5;

// Runs `body` in a child, then H5close there; returns the child's exit code, or 128 + signal.
int in_child(const std::string& dir, const std::function<void()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    int code = kNoThrow;
    try {
      body();
    } catch (const Error&) {  // what the app turns into its one-line error and exit code 2
      code = kThrew;
    } catch (...) {
      code = kOtherThrow;
    }
    for (const auto& name : dir_names(dir))
      if (is_temp_name(name)) code = kTempLeft;
    H5close();  // what MPI_Finalize and exit() do
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// From now on every write to the file fails with ENOSPC, as when its filesystem fills up.
void fill_disk_under(hid_t file) {
  int* fd = nullptr;
  ASSERT_GE(H5Fget_vfd_handle(file, H5P_DEFAULT, reinterpret_cast<void**>(&fd)), 0);
  int full = ::open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  ASSERT_GE(::dup2(full, *fd), 0);
  ::close(full);
}

}  // namespace

TEST(FullDisk, FailedCheckpointThrowsAndHdf5ShutsDown) {
  std::string dir = fresh_dir("full-ckpt");
  std::string path = dir + "/it_000001.h5";
  std::vector<float> big(300000, 1.0f), small(1000, 2.0f);  // a direct write and a cached one
  int rc = in_child(dir, [&] {
    AtomicH5 w(path, "checkpoint/1");
    write_dataset(w.root(), "params/a", big.data(), {big.size()});
    fill_disk_under(w.root());
    write_dataset(w.root(), "params/b", small.data(), {small.size()});
    set_attr(w.root(), "step", int64_t{1});
    w.publish();
  });
  EXPECT_EQ(rc, kThrew) << "child exit code (128 + signal when it crashed)";
  EXPECT_FALSE(file_exists(path));
}

TEST(FullDisk, FailedDirectWriteThrowsAndHdf5ShutsDown) {
  std::string dir = fresh_dir("full-direct");
  std::string path = dir + "/it_000001.h5";
  std::vector<float> big(300000, 1.0f);
  int rc = in_child(dir, [&] {
    AtomicH5 w(path, "checkpoint/1");
    set_attr(w.root(), "step", int64_t{1});
    fill_disk_under(w.root());
    write_dataset(w.root(), "params/a", big.data(), {big.size()});  // H5Dwrite fails
    w.publish();
  });
  EXPECT_EQ(rc, kThrew) << "child exit code (128 + signal when it crashed)";
  EXPECT_FALSE(file_exists(path));
}

TEST(FullDisk, FailedPublishFlushThrowsAndHdf5ShutsDown) {
  std::string dir = fresh_dir("full-flush");
  std::string path = dir + "/it_000001.h5";
  std::vector<float> big(300000, 1.0f);
  int rc = in_child(dir, [&] {
    AtomicH5 w(path, "checkpoint/1");
    write_dataset(w.root(), "params/a", big.data(), {big.size()});
    set_attr(w.root(), "step", int64_t{1});
    fill_disk_under(w.root());
    w.publish();  // its flush of the metadata fails
  });
  EXPECT_EQ(rc, kThrew) << "child exit code (128 + signal when it crashed)";
  EXPECT_FALSE(file_exists(path));
}

// The metrics table: its append copies the published file first; a copy that runs out of room
// (here: the file size limit, below the table's size) must not leave the partial copy behind,
// and the published table keeps its rows.
TEST(FullDisk, FailedTableCopyLeavesNoTemporary) {
  std::string dir = fresh_dir("full-table");
  std::string path = dir + "/metrics.h5";
  std::vector<Row> rows(2000, Row{{"loss", 1.0}, {"reward", 0.5}});
  append_rows(path, "metrics/1", "train", rows);
  auto size = std::filesystem::file_size(path);
  int rc = in_child(dir, [&] {
    std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
    rlimit rl{size / 2, size / 2};
    setrlimit(RLIMIT_FSIZE, &rl);
    append_rows(path, "metrics/1", "train", rows);
  });
  EXPECT_EQ(rc, kThrew) << "child exit code (128 + signal when it crashed)";
  EXPECT_EQ(read_table(path, "train").at("loss").size(), rows.size());
}
