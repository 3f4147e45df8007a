// Atomic publish: nothing visible under the final name before publish(), nothing left after
// an abandoned write, datasets and attributes round-trip, text files publish atomically.
#include <gtest/gtest.h>

#include "lib/io/io.h"
#include "tests/unit/io/io-test-util.h"

using namespace k1rl;
using namespace k1rl::io;

TEST(Publish, FileAppearsOnlyAtPublish) {
  std::string dir = fresh_dir("pub");
  std::string path = dir + "/ckpt.h5";
  {
    AtomicH5 w(path, "checkpoint/1");
    std::vector<float> x = {1, 2, 3, 4, 5, 6};
    write_dataset(w.root(), "params/w", x.data(), {2, 3});
    EXPECT_FALSE(file_exists(path));
    auto names = dir_names(dir);
    ASSERT_EQ(names.size(), 1u);
    EXPECT_TRUE(is_temp_name(names[0]));
    w.publish();
  }
  EXPECT_EQ(dir_names(dir), std::vector<std::string>{"ckpt.h5"});
  H5Reader r(path, "checkpoint", 1);
  std::vector<uint64_t> dims;
  auto v = read_dataset<float>(r.root(), "params/w", &dims);
  EXPECT_EQ(dims, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Publish, AbandonedWriteLeavesNothingAndKeepsTheOldFile) {
  std::string dir = fresh_dir("abandon");
  std::string path = dir + "/x.h5";
  {
    AtomicH5 w(path, "buffer/1");
    set_attr(w.root(), "n", int64_t{1});
    w.publish();
  }
  try {
    AtomicH5 w(path, "buffer/1");
    set_attr(w.root(), "n", int64_t{2});
    throw std::runtime_error("writer failed half way");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(dir_names(dir), std::vector<std::string>{"x.h5"});
  H5Reader r(path, "buffer", 1);
  EXPECT_EQ(get_attr_int(r.root(), "n"), 1);
}

TEST(Publish, AttributesAndTypesRoundTrip) {
  std::string path = fresh_dir("attr") + "/a.h5";
  {
    AtomicH5 w(path, "checkpoint/1");
    set_attr(w.root(), "name", std::string("tiny"));
    set_attr(w.root(), "empty", std::string());
    set_attr(w.root(), "step", int64_t{-12});
    set_attr(w.root(), "lr", 3e-4);
    set_attr(w.root(), "rng", std::vector<uint64_t>{1, 2, UINT64_MAX});
    write_dataset(w.root(), "i64", std::vector<int64_t>{-1, 5});
    write_dataset(w.root(), "u16", std::vector<uint16_t>{7, 65535});
    write_dataset(w.root(), "none", std::vector<int32_t>{});
    Hid g = create_group(w.root(), "optim/m");
    set_attr(g, "k", int64_t{3});
    w.publish();
  }
  H5Reader r(path, "checkpoint", 1);
  EXPECT_EQ(get_attr_string(r.root(), "name"), "tiny");
  EXPECT_EQ(get_attr_string(r.root(), "empty"), "");
  EXPECT_EQ(get_attr_int(r.root(), "step"), -12);
  EXPECT_DOUBLE_EQ(get_attr_double(r.root(), "lr"), 3e-4);
  EXPECT_EQ(get_attr_u64s(r.root(), "rng"), (std::vector<uint64_t>{1, 2, UINT64_MAX}));
  EXPECT_EQ(read_dataset<int64_t>(r.root(), "i64"), (std::vector<int64_t>{-1, 5}));
  EXPECT_EQ(read_dataset<uint16_t>(r.root(), "u16"), (std::vector<uint16_t>{7, 65535}));
  EXPECT_TRUE(read_dataset<int32_t>(r.root(), "none").empty());
  EXPECT_TRUE(has_link(r.root(), "optim/m"));
  EXPECT_FALSE(has_link(r.root(), "optim/v"));
  EXPECT_EQ(get_string_attrs(r.root()).at("k1rl_format"), "checkpoint/1");
  std::vector<float> wrong(3);
  EXPECT_THROW(read_dataset_into(r.root(), "i64", wrong.data(), 3), IoError);
  EXPECT_THROW(read_dataset<float>(r.root(), "i64"), IoError);  // integer data read as float
  EXPECT_THROW(read_dataset<float>(r.root(), "missing"), IoError);
}

TEST(Publish, TextPublishReplacesAtomically) {
  std::string dir = fresh_dir("text");
  publish_text(dir + "/latest", "it_000001.h5\n");
  publish_text(dir + "/latest", "it_000002.h5\n");
  EXPECT_EQ(read_text(dir + "/latest"), "it_000002.h5\n");
  EXPECT_EQ(dir_names(dir), std::vector<std::string>{"latest"});
  EXPECT_THROW(read_text(dir + "/nope"), IoError);
}

TEST(Publish, StaleTempsAreRemoved) {
  std::string dir = fresh_dir("stale");
  publish_text(dir + "/keep.txt", "x");
  publish_text(temp_name(dir + "/half.h5"), "half");  // a temp left by a killed writer
  EXPECT_EQ(dir_names(dir).size(), 2u);
  EXPECT_EQ(remove_stale_temps(dir), 1);
  EXPECT_EQ(dir_names(dir), std::vector<std::string>{"keep.txt"});
}
