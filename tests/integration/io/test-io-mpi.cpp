// Under mpiexec -n 2: a collective parallel-HDF5 publish (each rank writes its rows of one
// dataset) that every rank reads back whole, and concurrent metrics appends from both ranks
// into one file, serialised by the lock, with no row lost.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <filesystem>

#include "lib/io/io.h"

using namespace k1rl;
using namespace k1rl::io;

namespace {
int rank_of() {
  int r;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int size_of() {
  int s;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

std::string shared_dir(const std::string& tag) {
  std::string d;
  if (rank_of() == 0) {
    d = (std::filesystem::temp_directory_path() /
         ("k1rl-mpi-" + tag + "-" + std::to_string(getpid())))
            .string();
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
  }
  int n = static_cast<int>(d.size());
  MPI_Bcast(&n, 1, MPI_INT, 0, MPI_COMM_WORLD);
  d.resize(static_cast<size_t>(n));
  MPI_Bcast(d.data(), n, MPI_CHAR, 0, MPI_COMM_WORLD);
  return d;
}
}  // namespace

TEST(IoMpi, CollectivePublishWritesEveryRanksRows) {
  ASSERT_EQ(size_of(), 2) << "run under mpiexec -n 2";
  std::string path = shared_dir("coll") + "/ckpt.h5";
  const uint64_t rows = 7, cols = 5;
  uint64_t off = rank_of() == 0 ? 0 : 4, local = rank_of() == 0 ? 4 : 3;
  std::vector<float> mine(local * cols);
  for (uint64_t i = 0; i < local * cols; ++i)
    mine[i] = static_cast<float>((off * cols + i) * 10 + rank_of());
  {
    AtomicH5 w(path, "checkpoint/1", MPI_COMM_WORLD);
    set_attr(w.root(), "step", int64_t{3});
    write_rows_collective(w.root(), "params/w", mine.data(), rows, off, local, cols);
    EXPECT_FALSE(file_exists(path));
    w.publish();
  }
  EXPECT_TRUE(file_exists(path));
  H5Reader r(path, "checkpoint", 1);
  std::vector<uint64_t> dims;
  auto all = read_dataset<float>(r.root(), "params/w", &dims);
  EXPECT_EQ(dims, (std::vector<uint64_t>{rows, cols}));
  for (uint64_t i = 0; i < rows * cols; ++i) {
    int writer = i < 4 * cols ? 0 : 1;
    EXPECT_EQ(all[i], static_cast<float>(i * 10 + writer)) << "element " << i;
  }
  EXPECT_EQ(get_attr_int(r.root(), "step"), 3);
}

TEST(IoMpi, ConcurrentAppendsLoseNoRow) {
  std::string path = shared_dir("append") + "/metrics.h5";
  std::string table = rank_of() == 0 ? "rollout" : "train";
  const int n = 30;
  for (int i = 0; i < n; ++i)
    append_rows(path, "metrics/1", table, {{{"step", i}, {"rank", rank_of()}}});
  MPI_Barrier(MPI_COMM_WORLD);
  for (const char* t : {"rollout", "train"}) {
    auto cols = read_table(path, t);
    ASSERT_EQ(cols.at("step").size(), static_cast<size_t>(n)) << t;
    for (int i = 0; i < n; ++i) EXPECT_EQ(cols.at("step")[static_cast<size_t>(i)], i);
  }
}
