// Retention of ckpt/ and buffer/ (lib/loop/loop-retention.cpp): which files go, on names; what a
// real tiny run keeps; and kill -9 at random moments of a pruning run: every kill leaves a run
// that resumes (latest names a whole checkpoint, the shards a resume reads are there), and the
// resumed run trains every trajectory exactly once. Shards are deleted as the run goes, so the
// test keeps its own hard link of every shard version the moment it is published (inotify) and
// checks the history of the versions that were trained.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "lib/app/app.h"
#include "lib/loop/loop.h"

using namespace k1rl;
namespace fs = std::filesystem;

namespace {

std::string fresh(const std::string& name) {
  std::string d = "/tmp/k1rl-retention-" + name + "-" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Config tiny(const std::string& dir, int64_t iterations, std::vector<std::string> more) {
  ConfigSpec spec;
  declare_all_options(spec);
  std::vector<std::string> o = {
      "--run.dir=" + dir, "--run.iterations=" + std::to_string(iterations),
      "--tasks.train_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.train.jsonl",
      "--tasks.heldout_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.heldout.jsonl"};
  o.insert(o.end(), more.begin(), more.end());
  return Config::load(spec, K1RL_SOURCE_DIR "/tests/integration/loop/tiny-test.ini", o);
}

std::set<int64_t> ckpts_on_disk(const Config& cfg) {
  std::set<int64_t> out;
  for (const auto& e : fs::directory_iterator(RunDir::from(cfg).ckpt_dir())) {
    int64_t it = 0;
    if (RunDir::parse_ckpt_name(e.path().filename().string(), it)) out.insert(it);
  }
  return out;
}

std::set<int64_t> shards_on_disk(const Config& cfg) {
  std::set<int64_t> out;
  for (const auto& s : buffer::list_shards(RunDir::from(cfg).buffer_dir())) out.insert(s.iteration);
  return out;
}

using V = std::vector<int64_t>;

}  // namespace

TEST(RetentionPlan, NewestEveryMthAndTheStartAreKept) {
  loop::Retention r;
  r.keep_checkpoints = 2;
  r.keep_every = 5;
  V present;
  for (int64_t i = 0; i <= 13; ++i) present.push_back(i);  // 13: an orphan beyond latest
  EXPECT_EQ(loop::checkpoints_to_delete(present, 12, r), (V{1, 2, 3, 4, 6, 7, 8, 9}));
  r.keep_every = 0;
  r.keep_checkpoints = 1;
  EXPECT_EQ(loop::checkpoints_to_delete({0, 4, 5, 6}, 6, r), (V{4, 5}));  // 0 stays: RL's start
  r.keep_checkpoints = 0;                                                 // keep all
  EXPECT_TRUE(loop::checkpoints_to_delete(present, 12, r).empty());
  r.keep_checkpoints = 3;
  EXPECT_TRUE(loop::checkpoints_to_delete(present, -1, r).empty());  // no latest: nothing
}

TEST(RetentionPlan, ShardsBelowLatestMinusOneGoExceptEveryKth) {
  loop::Retention r;
  r.keep_shards_every = 4;
  V present = {0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9};  // two ranks of 0 and 1
  // latest = 8: iteration 7's shards hold the pending answers iteration 8 continues; 8 and 9
  // are in flight.
  EXPECT_EQ(loop::shard_iterations_to_delete(present, 8, r), (V{1, 2, 3, 5, 6}));
  r.keep_shards_every = 0;
  EXPECT_EQ(loop::shard_iterations_to_delete(present, 8, r), (V{0, 1, 2, 3, 4, 5, 6}));
  r.keep_shards_every = 1;  // keep all
  EXPECT_TRUE(loop::shard_iterations_to_delete(present, 8, r).empty());
}

TEST(RetentionRun, ATinyRunKeepsWhatTheOptionsSay) {
  const std::string dir = fresh("run");
  const std::vector<std::string> keep = {"--run.keep_checkpoints=2", "--run.keep_every=3",
                                         "--run.keep_shards_every=4"};
  Config cfg = tiny(dir, 8, keep);
  loop::run_local(cfg);
  EXPECT_EQ(train::latest_checkpoint(RunDir::from(cfg)), 8);
  EXPECT_EQ(ckpts_on_disk(cfg), (std::set<int64_t>{0, 3, 6, 7, 8}));
  EXPECT_EQ(shards_on_disk(cfg), (std::set<int64_t>{0, 4, 7}));
  // A second job resumes from what is left and prunes the same way.
  Config again = tiny(dir, 2, keep);
  auto rows = loop::run_local(again);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("iteration"), 8.0);
  EXPECT_GT(rows[0].at("answers"), 0.0);
  EXPECT_EQ(ckpts_on_disk(cfg), (std::set<int64_t>{0, 3, 6, 9, 10}));
  EXPECT_EQ(shards_on_disk(cfg), (std::set<int64_t>{0, 4, 8, 9}));
  // The defaults prune too (3 newest checkpoints, shards of every 10th iteration).
  const std::string d2 = fresh("defaults");
  Config def = tiny(d2, 5, {"--run.keep_checkpoints=3", "--run.keep_shards_every=10"});
  loop::run_local(def);
  EXPECT_EQ(ckpts_on_disk(def), (std::set<int64_t>{0, 3, 4, 5}));
  EXPECT_EQ(shards_on_disk(def), (std::set<int64_t>{0, 4}));
  fs::remove_all(dir);
  fs::remove_all(d2);
}

TEST(RetentionRun, PruningDoesNotChangeWhatIsTrained) {
  // The same 10 iterations keeping everything and keeping the least: every metric but timings
  // agrees row for row (pruning only ever removes files no later step reads).
  const std::string a = fresh("all"), b = fresh("least");
  loop::run_local(tiny(a, 10, {}));
  loop::run_local(tiny(b, 10, {"--run.keep_checkpoints=1", "--run.keep_shards_every=0"}));
  for (const char* table : {"train", "rollout", "iteration"}) {
    auto x = io::read_table(RunDir(a).metrics(), table),
         y = io::read_table(RunDir(b).metrics(), table);
    ASSERT_EQ(x.size(), y.size()) << table;
    for (const auto& [col, v] : x) {
      if (col.ends_with("_s") || col.starts_with("proc_") || col == "tokens_per_s" ||
          col == "ended_per_s")
        continue;  // timings and resource use
      const auto& w = y.at(col);
      ASSERT_EQ(v.size(), w.size()) << table << "/" << col;
      for (size_t i = 0; i < v.size(); ++i) {
        if (!(std::isnan(v[i]) && std::isnan(w[i]))) {
          EXPECT_EQ(v[i], w[i]) << table << "/" << col << " row " << i;
        }
      }
    }
  }
  EXPECT_EQ(ckpts_on_disk(tiny(b, 1, {})), (std::set<int64_t>{0, 10}));
  fs::remove_all(a);
  fs::remove_all(b);
}

namespace {

// Hard-links every shard published into buffer/ as archive/<name>.<n>, n counting versions.
class ShardArchive {
 public:
  ShardArchive(const std::string& buffer, const std::string& archive)
      : buffer_(buffer), archive_(archive) {
    fs::create_directories(buffer_);
    fs::create_directories(archive_);
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    EXPECT_GE(inotify_add_watch(fd_, buffer_.c_str(), IN_MOVED_TO), 0);
    thread_ = std::thread([this] { loop(); });
  }
  ~ShardArchive() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  int missed() const { return missed_; }
  // (iteration, rank) -> the path of the last version archived.
  std::map<std::pair<int64_t, int32_t>, std::string> last_versions() const {
    std::map<std::pair<int64_t, int32_t>, std::pair<int, std::string>> best;
    for (const auto& e : fs::directory_iterator(archive_)) {
      const std::string n = e.path().filename().string();
      long long it = 0;
      int rank = 0, seq = 0;
      if (std::sscanf(n.c_str(), "it_%lld.r%d.h5.%d", &it, &rank, &seq) != 3) continue;
      auto& b = best[{it, rank}];
      if (b.second.empty() || seq > b.first) b = {seq, e.path().string()};
    }
    std::map<std::pair<int64_t, int32_t>, std::string> out;
    for (const auto& [k, v] : best) out[k] = v.second;
    return out;
  }

 private:
  void loop() {
    alignas(inotify_event) char buf[8192];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 5) <= 0) continue;
      const ssize_t n = read(fd_, buf, sizeof buf);
      for (ssize_t off = 0; off < n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        const std::string name = ev->len ? ev->name : "";
        if (name.rfind("it_", 0) != 0 || io::is_temp_name(name)) continue;
        const std::string to = archive_ + "/" + name + "." + std::to_string(++seq_);
        if (link((buffer_ + "/" + name).c_str(), to.c_str()) != 0) ++missed_;
      }
    }
  }
  std::string buffer_, archive_;
  int fd_ = -1, seq_ = 0;
  std::atomic<int> missed_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Starts `k1rl-train --local` (the real app: a fresh process, so no OpenMP state crosses a
// fork) on the tiny config with `args`; returns its pid. It exits 0 when done and 2 on an error,
// so a resume that fails is seen.
pid_t start_job(const std::vector<std::string>& args) {
  std::vector<std::string> a = {K1RL_TRAIN_BIN, "--local", "--config",
                                K1RL_SOURCE_DIR "/tests/integration/loop/tiny-test.ini"};
  a.insert(a.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("K1RL_LOG", "warn", 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::vector<std::string> job_args(const std::string& dir, int64_t iterations,
                                  const std::vector<std::string>& keep) {
  std::vector<std::string> a = {
      "--run.dir=" + dir, "--run.iterations=" + std::to_string(iterations),
      "--tasks.train_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.train.jsonl",
      "--tasks.heldout_file=" K1RL_SOURCE_DIR "/inputs/tasks/add-easy.heldout.jsonl"};
  a.insert(a.end(), keep.begin(), keep.end());
  return a;
}

}  // namespace

TEST(RetentionKill, EveryKillLeavesARunThatResumesAndTrainsEachTrajectoryOnce) {
  const std::string dir = fresh("kill");
  const std::vector<std::string> keep = {"--run.keep_checkpoints=1", "--run.keep_every=0",
                                         "--run.keep_shards_every=0"};
  Config cfg = tiny(dir, 100000, keep);
  ShardArchive archive(dir + "/buffer", dir + "/archive");
  unsigned seed = 20261201;
  int kills = 0, mid_prune_states = 0;
  int64_t prev_latest = -1;
  for (int round = 0; round < 25; ++round) {
    const pid_t pid = start_job(job_args(dir, 100000, keep));
    ASSERT_GT(pid, 0);
    // Let the job get past its start-up and publish one more checkpoint (so the run advances
    // however loaded the machine is), then kill it at a random moment of what follows.
    auto latest_now = [&] {  // on a live run latest's target may be pruned under our feet: retry
      try {
        return train::latest_checkpoint(RunDir::from(cfg));
      } catch (const IoError&) {
        return prev_latest;
      }
    };
    for (int w = 0; w < 6000 && latest_now() <= prev_latest; ++w) usleep(5000);
    usleep(static_cast<useconds_t>(rand_r(&seed) % 300000));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the job ended by itself (exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1)
        << "): it could not resume after round " << round - 1;
    ++kills;
    // What a resume needs is there: latest names a whole checkpoint, and the shards of latest−1.
    const int64_t L = train::latest_checkpoint(RunDir::from(cfg));
    if (L < 0) continue;  // killed during the SFT warm-up
    EXPECT_GE(L, prev_latest);
    prev_latest = L;
    model::Model m(model::read_checkpoint_config(RunDir::from(cfg).ckpt(L)));
    EXPECT_NO_THROW(model::load_checkpoint(RunDir::from(cfg).ckpt(L), m, nullptr));
    const std::set<int64_t> shards = shards_on_disk(cfg);
    if (L >= 1) {
      EXPECT_TRUE(shards.count(L - 1)) << "round " << round << ": no shard of " << L - 1;
    }
    // And pruning keeps up: at most the pruning of this latest is pending.
    for (int64_t c : ckpts_on_disk(cfg))
      EXPECT_TRUE(c == 0 || (c >= L - 1 && c <= L + 1)) << "checkpoint " << c << ", latest " << L;
    for (int64_t s : shards) EXPECT_GE(s, L - 2) << "shard " << s << ", latest " << L;
    mid_prune_states += ckpts_on_disk(cfg).count(L - 1) > 0;
  }
  // A last job finishes normally from wherever the last kill left the run.
  const pid_t pid = start_job(job_args(dir, 3, keep));
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the final resume failed";
  const int64_t final_latest = train::latest_checkpoint(RunDir::from(cfg));
  EXPECT_GE(final_latest, 25) << "each round should have published at least one checkpoint";
  EXPECT_EQ(archive.missed(), 0) << "shards deleted before the test could link them";

  // The trained history: the last version of every shard of iterations 0..final_latest−1.
  std::map<int64_t, std::vector<buffer::Trajectory>> by_it;
  for (const auto& [key, path] : archive.last_versions())
    if (key.first < final_latest)
      for (auto& t : buffer::read_shard(path).rows) by_it[key.first].push_back(std::move(t));
  ASSERT_EQ(static_cast<int64_t>(by_it.size()), final_latest);
  std::map<std::pair<int64_t, int32_t>, int64_t> ready_in;
  std::set<std::pair<int64_t, int32_t>> pending_prev;
  std::map<int64_t, int64_t> trained;  // iteration -> ready answers in its shards
  for (const auto& [it, rows] : by_it) {
    std::set<std::pair<int64_t, int32_t>> here, pending;
    for (const auto& t : rows) {
      const std::pair<int64_t, int32_t> k{t.group_id, t.sample};
      EXPECT_TRUE(here.insert(k).second) << "twice in iteration " << it;
      if (t.iteration_started < it) {
        EXPECT_TRUE(pending_prev.count(k))
            << "group " << k.first << " in " << it << " was not pending in " << it - 1;
      }
      if (t.ready && t.ended()) {
        ++trained[it];
        auto [pos, fresh_key] = ready_in.emplace(k, it);
        EXPECT_TRUE(fresh_key) << "group " << k.first << " sample " << k.second
                               << " trained in iterations " << pos->second << " and " << it;
      } else {
        pending.insert(k);
      }
    }
    for (const auto& k : pending_prev)
      EXPECT_TRUE(here.count(k)) << "pending group " << k.first << " lost in iteration " << it;
    pending_prev = std::move(pending);
  }
  // Train consumed exactly those answers: /iteration's row of each iteration (at most one: the
  // row is appended after the checkpoint, and a committed iteration never runs again).
  auto rows = io::read_table(RunDir::from(cfg).metrics(), "iteration");
  std::map<int64_t, int> row_count;
  for (size_t i = 0; i < rows.at("iteration").size(); ++i) {
    const auto it = static_cast<int64_t>(rows["iteration"][i]);
    ++row_count[it];
    EXPECT_EQ(static_cast<int64_t>(rows["answers"][i]), trained[it]) << "iteration " << it;
  }
  for (const auto& [it, n] : row_count) EXPECT_EQ(n, 1) << "iteration " << it;
  EXPECT_GT(row_count.size(), static_cast<size_t>(final_latest / 2));
  EXPECT_GT(ready_in.size(), 100u);
  // The run directory ends pruned: checkpoint 0 and latest; shards of latest−1 (and beyond).
  EXPECT_EQ(ckpts_on_disk(cfg), (std::set<int64_t>{0, final_latest}));
  for (int64_t s : shards_on_disk(cfg)) EXPECT_GE(s, final_latest - 1);
  std::printf(
      "retention kill: %d kills, final latest it %lld, %zu trajectories trained once, %d "
      "kill(s) found a pruning pending\n",
      kills, static_cast<long long>(final_latest), ready_in.size(), mid_prune_states);
  fs::remove_all(dir);
}
