// Append-only metrics tables: rows accumulate, new columns back-fill NaN, tables are separate.
#include <gtest/gtest.h>

#include <cmath>

#include "lib/io/io.h"
#include "tests/unit/io/io-test-util.h"

using namespace k1rl::io;

TEST(Table, AppendsRowsAndColumns) {
  std::string dir = fresh_dir("table");
  std::string path = dir + "/metrics.h5";
  append_rows(path, "metrics/1", "train", {{{"step", 1}, {"loss", 2.5}}});
  append_rows(path, "metrics/1", "train",
              {{{"step", 2}, {"loss", 2.0}}, {{"step", 3}, {"loss", 1.5}, {"kl", 0.1}}});
  append_rows(path, "metrics/1", "reward", {{{"iteration", 0}, {"mean", 0.25}}});
  auto t = read_table(path, "train");
  EXPECT_EQ(t.at("step"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(t.at("loss"), (std::vector<double>{2.5, 2.0, 1.5}));
  ASSERT_EQ(t.at("kl").size(), 3u);
  EXPECT_TRUE(std::isnan(t.at("kl")[0]) && std::isnan(t.at("kl")[1]));
  EXPECT_DOUBLE_EQ(t.at("kl")[2], 0.1);
  EXPECT_EQ(read_table(path, "reward").at("mean"), (std::vector<double>{0.25}));
  EXPECT_THROW(read_table(path, "rollout"), k1rl::IoError);
  EXPECT_EQ(read_format(path), "metrics/1");
  auto names = dir_names(dir);  // the published file and its lock file, no temporaries
  EXPECT_EQ(names, (std::vector<std::string>{"metrics.h5", "metrics.h5.lock"}));
}
