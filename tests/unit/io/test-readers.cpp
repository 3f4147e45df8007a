// Readers turn bad files into IoErrors that name the file: missing, truncated, not HDF5,
// wrong kind, too new a version, a corrupted dataset (Fletcher32), a temporary name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/io/io.h"
#include "tests/unit/io/io-test-util.h"

using namespace k1rl;
using namespace k1rl::io;

namespace {
std::string write_sample(const std::string& path, const std::string& fmt = "checkpoint/1",
                         size_t n = 50000) {
  AtomicH5 w(path, fmt);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i) * 0.5f;
  write_dataset(w.root(), "params/w", x.data(), {n});
  w.publish();
  return path;
}

std::string open_error(const std::string& path, const std::string& kind = "checkpoint") {
  try {
    H5Reader r(path, kind, 1);
    read_dataset<float>(r.root(), "params/w");
  } catch (const IoError& e) {
    return e.line();
  }
  return "";
}
}  // namespace

TEST(Readers, TruncatedFileNamesTheFile) {
  std::string path = write_sample(fresh_dir("trunc") + "/ckpt.h5");
  auto size = std::filesystem::file_size(path);
  for (double frac : {0.9, 0.5, 0.01}) {
    std::string cut = path + ".cut" + std::to_string(frac);
    std::filesystem::copy_file(path, cut);
    std::filesystem::resize_file(cut, static_cast<uintmax_t>(static_cast<double>(size) * frac));
    std::string e = open_error(cut);
    EXPECT_NE(e.find(cut), std::string::npos) << "fraction " << frac << ": " << e;
  }
}

TEST(Readers, NotHdf5MissingWrongKindTooNew) {
  std::string dir = fresh_dir("bad");
  std::ofstream(dir + "/junk.h5") << "this is not hdf5";
  EXPECT_NE(open_error(dir + "/junk.h5").find("not an HDF5 file"), std::string::npos);
  EXPECT_NE(open_error(dir + "/missing.h5").find("missing.h5"), std::string::npos);
  write_sample(dir + "/buf.h5", "buffer/1");
  EXPECT_NE(open_error(dir + "/buf.h5").find("is a buffer file"), std::string::npos);
  write_sample(dir + "/new.h5", "checkpoint/7");
  EXPECT_NE(open_error(dir + "/new.h5").find("checkpoint/7"), std::string::npos);
  EXPECT_EQ(read_format(dir + "/new.h5"), "checkpoint/7");
  EXPECT_NE(open_error(temp_name(dir + "/x.h5")).find("temporary"), std::string::npos);
}

TEST(Readers, CorruptedDataFailsItsChecksum) {
  std::string path = write_sample(fresh_dir("corrupt") + "/ckpt.h5");
  // Flip bytes in the middle of the data (the raw float block dominates the file).
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    auto size = std::filesystem::file_size(path);
    f.seekp(static_cast<std::streamoff>(size / 2));
    const char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    f.write(junk, sizeof junk);
  }
  std::string e = open_error(path);
  EXPECT_NE(e.find("params/w"), std::string::npos) << e;
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("corrupt"), std::string::npos) << e;
}
