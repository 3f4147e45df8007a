// The hostile-program suite: programs that fork-bomb, spin, allocate 10 GB, connect to a loopback
// port the test opens, write outside their directory, read a file the test placed outside, print
// 1 GB, double-fork out of the process group, or sleep past the timeout. Each must score 0 with
// the right reason, leave the host unharmed and leave no process behind (/proc scans).
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "lib/reward/reward.h"
#include "lib/sandbox/sandbox.h"

namespace {
using namespace k1rl;

const char* kPython = "/usr/bin/python3";

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Live processes whose command line holds `marker`, or that run as `uid` (when uid >= 0).
std::vector<std::string> leftovers(const std::string& marker, int64_t uid) {
  std::vector<std::string> found;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::string cmd = read_file(base + "/cmdline");
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    std::string status = read_file(base + "/status");
    bool zombie = status.find("State:\tZ") != std::string::npos;
    long puid = -1;
    if (size_t p = status.find("Uid:\t"); p != std::string::npos)
      puid = std::strtol(status.c_str() + p + 5, nullptr, 10);
    if (cmd.find(marker) != std::string::npos || (uid >= 0 && puid == uid))
      found.push_back(std::string(e->d_name) + (zombie ? " (zombie) " : " ") + cmd);
  }
  closedir(d);
  return found;
}

// Zombie children of this test process (a run must reap everything it started).
int zombie_children() {
  int n = 0;
  DIR* d = opendir("/proc");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string stat = read_file(std::string("/proc/") + e->d_name + "/stat");
    size_t rp = stat.rfind(')');
    if (rp == std::string::npos || rp + 4 >= stat.size()) continue;
    char state = stat[rp + 2];
    long ppid = std::strtol(stat.c_str() + rp + 4, nullptr, 10);
    if (state == 'Z' && ppid == getpid()) ++n;
  }
  closedir(d);
  return n;
}

SandboxLimits fast_limits() {
  SandboxLimits l;
  l.wall_s = 1.5;
  l.cpu_s = 1.0;
  l.memory_bytes = 512LL << 20;
  l.processes = 16;
  l.file_bytes = 8LL << 20;
  l.open_files = 64;
  l.output_bytes = 1LL << 20;
  return l;
}

struct Outcome {
  SandboxResult res;
  double score;        // what the code checker gives: 1 only for exit 0 and the expected output
  std::string reason;  // the reward reason: the sandbox status, or wrong_output
};

class Hostile : public ::testing::Test {
 protected:
  static constexpr int kSlot = 7;
  void SetUp() override {
    SandboxOptions o;
    o.limits = fast_limits();
    o.isolation = isolation();
    try {
      sb_ = std::make_unique<Sandbox>(o);
    } catch (const RuntimeFault& e) {
      GTEST_SKIP() << "isolation " << isolation() << " does not work here: " << e.line();
    }
    dir_ = std::filesystem::temp_directory_path() / ("k1rl-hostile-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    chmod(dir_.c_str(), 0777);  // writable by anyone: only the sandbox stands in the way
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  virtual std::string isolation() const { return "auto"; }

  // Runs `code` with argv[1] = a unique marker; checks the run leaves nothing behind.
  Outcome run(const std::string& code, const std::string& expected,
              const std::string& stdin_data = "") {
    std::string marker =
        "k1rl-hostile-marker-" + std::to_string(getpid()) + "-" + std::to_string(++n_);
    SandboxRun r{{kPython, "-I", "main.py", marker}, {{"main.py", code}}, stdin_data};
    Outcome o;
    o.res = sb_->run(r, kSlot);
    bool ok = o.res.status == SandboxStatus::ok && outputs_match(o.res.out, expected);
    o.score = ok ? 1.0 : 0.0;
    o.reason = ok                                  ? "correct"
               : o.res.status == SandboxStatus::ok ? "wrong_output"
                                                   : sandbox_status_name(o.res.status);
    auto left = leftovers(marker, sb_->slot_uid(kSlot));
    EXPECT_TRUE(left.empty()) << "left behind: " << left.front();
    EXPECT_EQ(zombie_children(), 0);
    return o;
  }
  // The host still works: a plain program runs.
  void expect_host_fine() {
    SandboxResult r = run_bare({{"/usr/bin/true"}, {}, ""}, fast_limits());
    EXPECT_EQ(r.status, SandboxStatus::ok) << r.detail;
  }

  std::unique_ptr<Sandbox> sb_;
  std::string dir_;
  int n_ = 0;
};

TEST_F(Hostile, ReportsItsIsolation) {
  // Where bubblewrap cannot make namespaces (e.g. a container without user namespaces) auto
  // falls back; the level is reported, and the bwrap-only cases below skip themselves.
  std::cerr << "sandbox isolation: " << isolation_name(sb_->isolation()) << "\n";
  SandboxResult r = sb_->run({{"/usr/bin/true"}, {}, ""}, kSlot);
  EXPECT_EQ(r.isolation, sb_->isolation());
}

TEST_F(Hostile, NormalProgramWorks) {
  Outcome o = run(
      "import sys\na, b = map(int, input().split())\nprint(a + b)\nprint('err', file=sys.stderr)",
      "7\n", "3 4\n");
  EXPECT_EQ(o.score, 1.0) << o.res.detail << o.res.err;
  EXPECT_EQ(o.res.err, "err\n");
  Outcome e = run("import sys\nsys.exit(3)", "");
  EXPECT_EQ(e.res.status, SandboxStatus::exit_nonzero);
  EXPECT_EQ(e.res.exit_code, 3);
}

TEST_F(Hostile, ForkBomb) {
  Outcome o = run(
      "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
      "ok");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_TRUE(o.reason == "timeout" || o.reason == "cpu_limit" || o.reason == "process_limit")
      << o.reason;
  Outcome crash = run("import os\nwhile True:\n    os.fork()\n", "ok");
  EXPECT_EQ(crash.score, 0.0);
  EXPECT_TRUE(crash.reason == "process_limit" || crash.reason == "timeout") << crash.reason;
  expect_host_fine();
}

TEST_F(Hostile, InfiniteLoop) {
  Outcome o = run("while True:\n    pass\n", "ok");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_TRUE(o.reason == "cpu_limit" || o.reason == "timeout") << o.reason;
  EXPECT_LT(o.res.wall_s, 4.0);
}

TEST_F(Hostile, TenGigabyteAllocation) {
  Outcome o = run("x = bytearray(10 * 1024 ** 3)\nprint('ok')\n", "ok");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "memory_limit") << o.res.err;
  expect_host_fine();
}

TEST_F(Hostile, LoopbackConnectFails) {
  if (sb_->isolation() == Isolation::rlimits)
    GTEST_SKIP() << "the rlimits level does not cut the network";
  int srv = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(srv, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(srv, 4), 0);
  socklen_t len = sizeof a;
  getsockname(srv, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  Outcome o =
      run("import socket\ns = socket.create_connection(('127.0.0.1', " + std::to_string(port) +
              "), timeout=1)\ns.sendall(b'hello')\nprint('connected')\n",
          "connected");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "exit_nonzero") << o.res.out;
  EXPECT_TRUE(o.res.err.find("Connection refused") != std::string::npos ||
              o.res.err.find("unreachable") != std::string::npos)
      << o.res.err;
  int c = accept(srv, nullptr, nullptr);  // nothing reached the host's socket
  EXPECT_LT(c, 0);
  if (c >= 0) close(c);
  close(srv);
}

TEST_F(Hostile, WritingOutsideFails) {
  if (sb_->isolation() != Isolation::bwrap)
    GTEST_SKIP() << "only bwrap gives a read-only view of the system";
  std::string host_file = dir_ + "/pwned";
  std::string tmp_file = "/tmp/k1rl-pwned-" + std::to_string(getpid());
  std::string code =
      "import os\nwrote = []\nfor p in ['" + host_file + "', '" + tmp_file +
      "', '/usr/pwned', '/pwned', '../pwned', '/proc/pwned', '/dev/pwned']:\n"
      "    try:\n        open(p, 'w').write('x')\n        wrote.append(p)\n    except OSError:\n   "
      "     pass\n"
      "print('pwned' if wrote else 'held')\nif not wrote:\n    raise SystemExit(1)\n";
  Outcome o = run(code, "pwned");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "exit_nonzero");
  EXPECT_EQ(o.res.out, "held\n");
  EXPECT_FALSE(std::filesystem::exists(host_file));
  EXPECT_FALSE(std::filesystem::exists(tmp_file));
  EXPECT_FALSE(std::filesystem::exists("/usr/pwned"));
  EXPECT_FALSE(std::filesystem::exists("/pwned"));
  // Its own working directory is writable, and private.
  Outcome w =
      run("open('mine.txt', 'w').write('x' * 1000)\nprint(len(open('mine.txt').read()))", "1000");
  EXPECT_EQ(w.score, 1.0) << w.res.err;
  Outcome big = run("open('big', 'w').write('x' * (64 << 20))\n", "");
  EXPECT_EQ(big.reason, "file_size_limit") << big.res.err;
}

TEST_F(Hostile, ReadingAFileOutsideFails) {
  if (sb_->isolation() != Isolation::bwrap) GTEST_SKIP() << "only bwrap hides the host's files";
  std::string secret = "k1rl-secret-" + std::to_string(getpid());
  std::string path = dir_ + "/secret.txt";
  std::ofstream(path) << secret;
  chmod(path.c_str(), 0644);  // readable by anyone on the host
  Outcome o = run("print(open('" + path + "').read())\n", secret);
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "exit_nonzero");
  EXPECT_EQ(o.res.out.find(secret), std::string::npos);
  EXPECT_NE(o.res.err.find("No such file"), std::string::npos) << o.res.err;
}

TEST_F(Hostile, OneGigabyteOfOutput) {
  Outcome o =
      run("import sys\nb = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(b)\n", "x");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "output_limit");
  EXPECT_EQ(static_cast<int64_t>(o.res.out.size() + o.res.err.size()), fast_limits().output_bytes);
  EXPECT_LT(o.res.wall_s, 4.0);
}

TEST_F(Hostile, DoubleForkOutOfTheProcessGroupDies) {
  // The grandchild leaves the session and would print later; the run ends with its parent.
  Outcome o =
      run("import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
          "        time.sleep(1.2)\n        print('escaped', flush=True)\n        time.sleep(30)\n"
          "    os._exit(0)\nos.wait()\n",
          "escaped");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "wrong_output");
  EXPECT_LT(o.res.wall_s, fast_limits().wall_s);  // ended with its parent, not by the timeout
}

TEST_F(Hostile, SleepPastTheTimeout) {
  Outcome o = run("import time\ntime.sleep(30)\nprint('late')\n", "late");
  EXPECT_EQ(o.score, 0.0);
  EXPECT_EQ(o.reason, "timeout");
  EXPECT_GE(o.res.wall_s, fast_limits().wall_s);
  EXPECT_LT(o.res.wall_s, fast_limits().wall_s + 2.0);
}

TEST_F(Hostile, ConcurrentRunsDoNotHoldEachOther) {
  // A fast run is under way when a slow run starts in another thread: the slow run's monitor
  // must not keep the fast run's pipes open (the fast caller would wait for the slow one).
  SandboxLimits lim = fast_limits();
  lim.wall_s = 6.0;
  SandboxResult fast, slow;
  std::thread t1([&] {
    fast =
        sb_->run({{kPython, "-I", "-c", "import time; time.sleep(0.5); print(1)"}, {}, ""}, lim, 1);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::thread t2([&] {
    slow =
        sb_->run({{kPython, "-I", "-c", "import time; time.sleep(4); print(2)"}, {}, ""}, lim, 2);
  });
  t1.join();
  t2.join();
  EXPECT_EQ(fast.out, "1\n");
  EXPECT_EQ(slow.out, "2\n");
  EXPECT_LT(fast.wall_s, 3.0) << "the fast run waited for the slow one";
  EXPECT_GT(slow.wall_s, 3.9);
}

TEST_F(Hostile, ThroughTheRewardPathScoresZeroWithTheReason) {
  Task t;
  t.id = "hostile";
  t.task = "code";
  t.tests = {{"", "late\n"}};
  RewardOptions opt;
  CheckResult c = check_answer(t, "```python\nimport time\ntime.sleep(30)\nprint('late')\n```",
                               sb_.get(), kSlot, opt);
  EXPECT_EQ(c.score, 0.0);
  EXPECT_EQ(c.reason, "timeout");
  c = check_answer(t, "```python\nprint('late')\n```", sb_.get(), kSlot, opt);
  EXPECT_EQ(c.score, 1.0);
  EXPECT_EQ(c.reason, "correct");
}

// The weaker levels still kill and reap everything (where this machine allows them).
class HostileUnshare : public Hostile {
  std::string isolation() const override { return "unshare"; }
};
class HostileRlimits : public Hostile {
  std::string isolation() const override { return "rlimits"; }
};

void cleanup_suite(Hostile& h,
                   const std::function<Outcome(const std::string&, const std::string&)>& run) {
  Outcome sleep = run("import time\ntime.sleep(30)\n", "x");
  EXPECT_EQ(sleep.reason, "timeout");
  Outcome dbl =
      run("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
          "        time.sleep(30)\n    os._exit(0)\nos.wait()\nprint('done')\n",
          "done");
  EXPECT_EQ(dbl.score, 1.0) << dbl.reason << dbl.res.err;
  Outcome bomb = run(
      "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
      "x");
  EXPECT_EQ(bomb.score, 0.0);
  Outcome out = run("import sys\nwhile True:\n    sys.stdout.write('y' * 65536)\n", "x");
  EXPECT_EQ(out.reason, "output_limit");
}

TEST_F(HostileUnshare, KillsAndReapsEverything) {
  cleanup_suite(*this, [this](const std::string& c, const std::string& e) { return run(c, e); });
}

TEST_F(HostileRlimits, KillsAndReapsEverything) {
  cleanup_suite(*this, [this](const std::string& c, const std::string& e) { return run(c, e); });
}

}  // namespace
