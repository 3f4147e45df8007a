// Replay buffer shards: every field round-trips, selection by iteration and status, temporaries
// are invisible, inconsistent rows are refused before anything is written, corruption is named.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lib/buffer/buffer.h"
#include "lib/io/io.h"

using namespace k1rl;
using namespace k1rl::buffer;

namespace {
std::string fresh(const std::string& tag) {
  std::string d = "/tmp/k1rl-buffer-" + tag + "-" + std::to_string(getpid());
  std::filesystem::remove_all(d);
  return d;
}

Trajectory traj(int64_t prompt, int32_t sample, Status st, int answer_tokens, int64_t it) {
  Trajectory t;
  t.prompt_id = prompt;
  t.sample = sample;
  t.group_id = prompt * 100 + it;
  t.group_size = 4;
  t.task = sample % 2 ? "countdown" : "addition";
  t.status = st;
  t.ready = st != Status::open;
  t.iteration_started = it;
  t.prompt_len = 3;
  t.n_segments = 1 + sample % 3;
  t.reward = 0.5 * sample;
  t.components = {1.0 * sample, -0.25};
  t.tokens = {256, 1, 2};
  for (int i = 0; i < answer_tokens; ++i) {
    t.tokens.push_back(40 + i);
    t.logprobs.push_back(-0.1f * static_cast<float>(i + 1));
    t.segment_iter.push_back(static_cast<int32_t>(it - (i < answer_tokens / 2)));
  }
  if (st == Status::open) t.rng = {1, 2, 3, static_cast<uint64_t>(sample)};
  return t;
}
}  // namespace

TEST(Buffer, ShardRoundTripsEveryField) {
  std::string dir = fresh("rt");
  Shard s{7, 3, {"correct", "length"}, {}};
  s.rows = {traj(5, 0, Status::finished, 6, 7), traj(5, 1, Status::open, 4, 7),
            traj(9, 2, Status::truncated, 0, 7), traj(9, 3, Status::repeated, 9, 7)};
  write_shard(dir, s);
  EXPECT_TRUE(io::file_exists(dir + "/it_000007.r0003.h5"));
  Shard b = read_shard(shard_path(dir, 7, 3));
  EXPECT_EQ(b.iteration, 7);
  EXPECT_EQ(b.rank, 3);
  EXPECT_EQ(b.component_names, s.component_names);
  ASSERT_EQ(b.rows.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const Trajectory &x = s.rows[i], &y = b.rows[i];
    EXPECT_EQ(x.prompt_id, y.prompt_id);
    EXPECT_EQ(x.sample, y.sample);
    EXPECT_EQ(x.group_id, y.group_id);
    EXPECT_EQ(x.group_size, y.group_size);
    EXPECT_EQ(x.task, y.task);
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.ready, y.ready);
    EXPECT_EQ(x.iteration_started, y.iteration_started);
    EXPECT_EQ(x.prompt_len, y.prompt_len);
    EXPECT_EQ(x.n_segments, y.n_segments);
    EXPECT_EQ(x.reward, y.reward);
    EXPECT_EQ(x.components, y.components);
    EXPECT_EQ(x.tokens, y.tokens);
    EXPECT_EQ(x.logprobs, y.logprobs);
    EXPECT_EQ(x.segment_iter, y.segment_iter);
    EXPECT_EQ(x.rng, y.rng);
  }
}

TEST(Buffer, SelectByIterationAndStatusIgnoringTemporaries) {
  std::string dir = fresh("sel");
  write_shard(
      dir,
      {3, 0, {"c", "l"}, {traj(1, 0, Status::finished, 2, 3), traj(1, 1, Status::open, 2, 3)}});
  write_shard(dir, {3, 1, {"c", "l"}, {traj(2, 0, Status::finished, 2, 3)}});
  write_shard(dir, {4, 0, {"c", "l"}, {traj(1, 1, Status::finished, 5, 3)}});
  std::ofstream(io::temp_name(shard_path(dir, 5, 0))) << "half";
  auto refs = list_shards(dir);
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(latest_iteration(dir), 4);
  auto fin3 = select(dir, 3, [](const Trajectory& t) { return t.ended(); });
  EXPECT_EQ(fin3.size(), 2u);
  auto open3 = select(dir, 3, [](const Trajectory& t) { return t.status == Status::open; });
  ASSERT_EQ(open3.size(), 1u);
  EXPECT_EQ(open3[0].rng.size(), 4u);
  EXPECT_TRUE(select(dir, 9, [](const Trajectory&) { return true; }).empty());
}

TEST(Buffer, InconsistentRowIsRefusedBeforeWriting) {
  std::string dir = fresh("bad");
  Trajectory t = traj(1, 0, Status::finished, 3, 0);
  t.logprobs.pop_back();
  EXPECT_THROW(write_shard(dir, {0, 0, {"correct", "length"}, {traj(2, 0, Status::open, 1, 0), t}}),
               InputError);
  EXPECT_TRUE(!std::filesystem::exists(dir) || list_shards(dir).empty());
  Trajectory u = traj(1, 0, Status::finished, 3, 0);
  u.components = {1.0};
  EXPECT_THROW(write_shard(dir, {0, 0, {"correct", "length"}, {u}}), InputError);
}

TEST(Buffer, TruncatedShardIsANamedError) {
  std::string dir = fresh("trunc");
  Shard s{1, 0, {"c", "l"}, {}};
  for (int i = 0; i < 50; ++i) s.rows.push_back(traj(i, i % 4, Status::finished, 100, 1));
  write_shard(dir, s);
  std::string p = shard_path(dir, 1, 0);
  std::filesystem::resize_file(p, std::filesystem::file_size(p) / 2);
  try {
    read_shard(p);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(e.line().find(p), std::string::npos) << e.line();
  }
}
